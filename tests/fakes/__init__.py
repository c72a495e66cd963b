"""Test doubles that are real parts: servers on loopback rather than mocks."""

from tests.fakes.upstream import (
    FakeUpstream,
    RecordedRequest,
    closed_port,
    ok,
    slow_headers,
    status,
    stream_error_frame,
    stream_then_fail,
)

__all__ = [
    "FakeUpstream",
    "RecordedRequest",
    "closed_port",
    "ok",
    "slow_headers",
    "status",
    "stream_error_frame",
    "stream_then_fail",
]
