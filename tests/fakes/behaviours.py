"""What a :class:`~tests.fakes.upstream.FakeUpstream` does with a request: the behaviours
it can be scripted with, and their constructors (``ok``, ``status``, ``tool_calls``...)."""

from __future__ import annotations

import json
from collections.abc import Iterable
from dataclasses import dataclass, field
from typing import Any


@dataclass(frozen=True)
class Ok:
    """Answer with ``text`` (streamed as ``chunks`` when the request streams)."""

    text: str = "Hello from the fake upstream."
    prompt_tokens: int = 11
    completion_tokens: int = 7
    chunks: tuple[str, ...] | None = None

    def pieces(self) -> list[str]:
        """The content deltas of a streamed answer."""
        if self.chunks is not None:
            return list(self.chunks)
        words = self.text.split(" ")
        return [word + (" " if i < len(words) - 1 else "") for i, word in enumerate(words)]


@dataclass(frozen=True)
class Status:
    """Answer with an error status and an OpenAI error body."""

    code: int
    headers: dict[str, str] = field(default_factory=dict)
    message: str | None = None
    body: Any = None
    """The whole JSON body; overrides ``message`` when set."""


@dataclass(frozen=True)
class SlowHeaders:
    """Wait ``seconds`` before answering with ``then``."""

    seconds: float
    then: Ok | Status = field(default_factory=Ok)


@dataclass(frozen=True)
class StreamThenFail:
    """Stream the role chunk and ``n_chunks`` content chunks, then drop the connection."""

    n_chunks: int
    chunk_text: str = "part{i} "

    def pieces(self) -> list[str]:
        """The content deltas sent before the failure."""
        return [self.chunk_text.format(i=i) for i in range(self.n_chunks)]


@dataclass(frozen=True)
class StreamErrorFrame:
    """Answer 200, stream ``n_chunks`` content chunks, then one ``data: {"error": ...}`` frame.

    What OpenRouter and this project's own server send when a stream fails after its first
    byte. With ``n_chunks=0`` the error frame is the first event (no role chunk either).
    """

    n_chunks: int
    message: str = "upstream failed mid-stream"
    code: int | str | None = None
    chunk_text: str = "part{i} "

    def pieces(self) -> list[str]:
        """The content deltas sent before the error frame."""
        return [self.chunk_text.format(i=i) for i in range(self.n_chunks)]


@dataclass(frozen=True)
class ToolCalls:
    """Answer with tool calls (``(name, arguments JSON)`` pairs), streamed as OpenAI does:
    per call, a delta with its id and name, then its arguments in two pieces."""

    calls: tuple[tuple[str, str], ...]
    prompt_tokens: int = 20
    completion_tokens: int = 9


@dataclass(frozen=True)
class SlowStream:
    """Stream ``n_chunks`` chunks ``interval`` seconds apart, watching for the client leaving
    (recorded in :attr:`FakeUpstream.disconnects`). The role chunk goes out at once; the first
    token only after ``first_token_after`` seconds.

    (A client leaving before any response header is not reliably seen by uvicorn's h11
    server, which stops reading the socket until it answers; :class:`SlowHeaders` therefore
    cannot report it.)"""

    n_chunks: int = 100
    interval: float = 0.05
    first_token_after: float = 0.0


Behaviour = Ok | Status | SlowHeaders | StreamThenFail | StreamErrorFrame | ToolCalls | SlowStream


def tool_calls(*calls: tuple[str, dict[str, Any]]) -> ToolCalls:
    """An answer calling tools: ``tool_calls(("calculator", {"expression": "2+2"}))``."""
    return ToolCalls(tuple((name, json.dumps(args)) for name, args in calls))


def slow_stream(
    n_chunks: int = 100, interval: float = 0.05, *, first_token_after: float = 0.0
) -> SlowStream:
    """A long stream that notices when the client goes away."""
    return SlowStream(n_chunks, interval, first_token_after)


def ok(
    text: str = "Hello from the fake upstream.",
    *,
    prompt_tokens: int = 11,
    completion_tokens: int = 7,
    chunks: Iterable[str] | None = None,
) -> Ok:
    """A successful answer."""
    return Ok(text, prompt_tokens, completion_tokens, tuple(chunks) if chunks else None)


def status(
    code: int,
    *,
    headers: dict[str, str] | None = None,
    message: str | None = None,
    body: Any = None,
) -> Status:
    """An error answer with status ``code``."""
    return Status(code, dict(headers or {}), message, body)


def slow_headers(seconds: float, then: Ok | Status | None = None) -> SlowHeaders:
    """Answer only after ``seconds`` (with ``then``, by default :func:`ok`)."""
    return SlowHeaders(seconds, then if then is not None else Ok())


def stream_then_fail(n_chunks: int, chunk_text: str = "part{i} ") -> StreamThenFail:
    """Send ``n_chunks`` content chunks, then break the connection mid-stream."""
    return StreamThenFail(n_chunks, chunk_text)


def stream_error_frame(
    n_chunks: int,
    message: str = "upstream failed mid-stream",
    *,
    code: int | str | None = None,
) -> StreamErrorFrame:
    """Stream ``n_chunks`` chunks, then an in-band error frame and ``[DONE]``."""
    return StreamErrorFrame(n_chunks, message, code)
