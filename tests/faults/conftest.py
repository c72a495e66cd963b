"""Fixtures of the fault-injection suite: two fake upstreams and one gateway serving them.

The gateway is a real ``assistant serve`` process, configured by environment variables:

- ``flaky:MODEL`` is the primary fake upstream (one retry, 1 s timeout: :func:`resilience`);
- ``backup:MODEL`` is the second fake upstream;
- ``down:MODEL`` is a loopback port nobody listens on (connection refused);
- chains ``safe`` (``flaky:m -> backup:m``) and ``downsafe`` (``down:m -> backup:m``);
- ``local:smollm2`` is the embedded model.

The response cache is off (a cached answer would hide the fault).
"""

from __future__ import annotations

from collections.abc import Iterator
from dataclasses import dataclass

import pytest

from tests.conftest import serving
from tests.fakes.upstream import FakeUpstream, closed_port
from tests.faults.support import api_env, resilience


@dataclass(frozen=True)
class Gateway:
    """The served API and the upstreams behind it."""

    url: str
    primary: FakeUpstream
    backup: FakeUpstream


@pytest.fixture(scope="session")
def _upstreams() -> Iterator[tuple[FakeUpstream, FakeUpstream]]:
    with FakeUpstream("faults-primary") as primary, FakeUpstream("faults-backup") as backup:
        yield primary, backup


@pytest.fixture(scope="session")
def _gateway_url(
    _upstreams: tuple[FakeUpstream, FakeUpstream], tmp_path_factory: pytest.TempPathFactory
) -> Iterator[str]:
    primary, backup = _upstreams
    env = api_env(
        {
            "flaky": {"base_url": primary.base_url, "models": ["m"], **resilience()},
            "backup": {"base_url": backup.base_url, "models": ["m"], **resilience()},
            "down": {
                "base_url": f"http://127.0.0.1:{closed_port()}/v1",
                "models": ["m"],
                **resilience(),
            },
        },
        {"safe": "flaky:m -> backup:m", "downsafe": "down:m -> backup:m"},
        ASSISTANT_CACHE__ENABLED="false",
    )
    with serving(tmp_path_factory.mktemp("faults-gateway"), env) as (base_url, _):
        yield base_url


@pytest.fixture
def gateway(_gateway_url: str, _upstreams: tuple[FakeUpstream, FakeUpstream]) -> Iterator[Gateway]:
    """The gateway, with both upstreams reset (empty script, no recorded request)."""
    primary, backup = _upstreams
    primary.reset()
    backup.reset()
    yield Gateway(_gateway_url, primary, backup)
    primary.reset()  # also wakes any request still sleeping in a slow behaviour
    backup.reset()
