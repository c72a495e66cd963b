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
    logprobs: bool = False
    """Answer with OpenAI's ``logprobs`` (one entry per piece, ``-0.5`` each)."""

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


@dataclass(frozen=True)
class Trickle:
    """Answer ``text`` normally, but write the response body ``step`` bytes at a time,
    ``interval`` seconds apart: a slow but steady body (every frame arrives in pieces)."""

    text: str = "A slow but steady answer."
    step: int = 8
    interval: float = 0.01


@dataclass(frozen=True)
class MalformedSse:
    """Answer 200 and stream ``n_chunks`` good content chunks, then a ``data:`` line that is
    not JSON (``garbage``), then ``[DONE]``. Not streamed: a 200 whose body is ``garbage``."""

    n_chunks: int = 0
    garbage: str = '{"id": "chatcmpl-broken", "choices": [{"delta": '
    chunk_text: str = "part{i} "

    def pieces(self) -> list[str]:
        """The content deltas sent before the malformed frame."""
        return [self.chunk_text.format(i=i) for i in range(self.n_chunks)]


@dataclass(frozen=True)
class SplitUtf8:
    """Answer ``chunks`` (raw UTF-8 on the wire, not ``\\u`` escapes), writing every frame in
    two writes ``pause`` seconds apart, cut inside its first multi-byte character: each such
    character reaches the client split across two network reads."""

    chunks: tuple[str, ...] = ("Café ", "naïve ", "😀 ", "東京")
    pause: float = 0.02

    @property
    def text(self) -> str:
        """The whole answer."""
        return "".join(self.chunks)


@dataclass(frozen=True)
class ResetMidStream:
    """Stream the role chunk and ``n_chunks`` content chunks, then reset the TCP connection
    (``SO_LINGER`` 0: the client reads ``ECONNRESET``, not a clean end of stream)."""

    n_chunks: int
    chunk_text: str = "part{i} "

    def pieces(self) -> list[str]:
        """The content deltas sent before the reset."""
        return [self.chunk_text.format(i=i) for i in range(self.n_chunks)]


Behaviour = (
    Ok
    | Status
    | SlowHeaders
    | StreamThenFail
    | StreamErrorFrame
    | ToolCalls
    | SlowStream
    | Trickle
    | MalformedSse
    | SplitUtf8
    | ResetMidStream
)


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
    logprobs: bool = False,
) -> Ok:
    """A successful answer (with per-piece ``logprobs`` when asked)."""
    return Ok(text, prompt_tokens, completion_tokens, tuple(chunks) if chunks else None, logprobs)


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


def trickle(
    text: str = "A slow but steady answer.", *, step: int = 8, interval: float = 0.01
) -> Trickle:
    """An answer whose body drips ``step`` bytes every ``interval`` seconds."""
    return Trickle(text, step, interval)


def malformed_sse(n_chunks: int = 0, garbage: str | None = None) -> MalformedSse:
    """``n_chunks`` good chunks, then a frame that is not JSON."""
    return MalformedSse(n_chunks) if garbage is None else MalformedSse(n_chunks, garbage)


def split_utf8(*chunks: str, pause: float = 0.02) -> SplitUtf8:
    """An answer whose multi-byte characters are cut across two network writes."""
    return SplitUtf8(tuple(chunks), pause) if chunks else SplitUtf8(pause=pause)


def reset_mid_stream(n_chunks: int, chunk_text: str = "part{i} ") -> ResetMidStream:
    """Send ``n_chunks`` content chunks, then reset the connection (TCP RST)."""
    return ResetMidStream(n_chunks, chunk_text)
