"""Wire faults of the fake upstream: answers that are right in content but wrong in transport.

:func:`wire_fault` plays the behaviours :class:`~tests.fakes.behaviours.Trickle`,
:class:`~tests.fakes.behaviours.MalformedSse`, :class:`~tests.fakes.behaviours.SplitUtf8` and
:class:`~tests.fakes.behaviours.ResetMidStream` on an ASGI ``send``, streamed or not (as the
request asks). :func:`reset_connection` aborts a uvicorn connection with a real TCP reset.
"""

from __future__ import annotations

import asyncio
import json
import socket
import struct
from collections.abc import Awaitable, Callable, Iterable
from typing import Any

from tests.fakes.behaviours import MalformedSse, Ok, ResetMidStream, SplitUtf8, Trickle
from tests.fakes.upstream import MidStreamFailure, Scope, Send, _chunk, _completion

WireFault = Trickle | MalformedSse | SplitUtf8 | ResetMidStream


def sse(event: dict[str, Any] | str) -> bytes:
    """One server-sent event; JSON as raw UTF-8 (as OpenAI sends it), not ``\\u`` escapes."""
    text = event if isinstance(event, str) else json.dumps(event, ensure_ascii=False)
    return f"data: {text}\n\n".encode()


def inside_a_character(data: bytes) -> int:
    """An offset cutting ``data``'s first multi-byte UTF-8 character in two (or its length)."""
    for index, byte in enumerate(data):
        if byte >= 0xC0:  # the lead byte of a multi-byte character
            return index + 1
    return len(data)


def _text_and_pieces(behaviour: WireFault) -> tuple[str, list[str]]:
    if isinstance(behaviour, Trickle):
        return behaviour.text, Ok(behaviour.text).pieces()
    if isinstance(behaviour, SplitUtf8):
        return behaviour.text, list(behaviour.chunks)
    return "".join(behaviour.pieces()), behaviour.pieces()


def _writes(behaviour: WireFault, payload: dict[str, Any], ident: str) -> list[bytes]:
    """The response body, as the writes an honest server would make."""
    model = str(payload.get("model", "fake-model"))
    text, pieces = _text_and_pieces(behaviour)
    if payload.get("stream"):
        events: list[dict[str, Any] | str] = [
            _chunk(ident, model, {"role": "assistant", "content": ""})
        ]
        events += [_chunk(ident, model, {"content": piece}) for piece in pieces]
        if isinstance(behaviour, MalformedSse):
            events.append(behaviour.garbage)
        if not isinstance(behaviour, ResetMidStream):
            events += [_chunk(ident, model, {}, finish_reason="stop"), "[DONE]"]
        return [sse(event) for event in events]
    raw = json.dumps(_completion(Ok(text), model), ensure_ascii=False).encode()
    if isinstance(behaviour, MalformedSse):
        raw = behaviour.garbage.encode()
    if isinstance(behaviour, ResetMidStream):
        raw = raw[: len(raw) // 2]
    return [raw]


async def wire_fault(
    behaviour: WireFault,
    payload: dict[str, Any],
    send: Send,
    *,
    reset: Callable[[], Awaitable[None]],
) -> None:
    """Answer ``payload`` (a chat request) with ``behaviour``'s fault; ``reset`` aborts the
    connection (for :class:`ResetMidStream`)."""
    ident = f"chatcmpl-wire-{id(payload)}"
    writes = _writes(behaviour, payload, ident)
    content_type = b"text/event-stream" if payload.get("stream") else b"application/json"
    await send(
        {
            "type": "http.response.start",
            "status": 200,
            "headers": [(b"content-type", content_type), (b"cache-control", b"no-cache")],
        }
    )

    async def write(data: bytes) -> None:
        await send({"type": "http.response.body", "body": data, "more_body": True})

    if isinstance(behaviour, Trickle):
        whole = b"".join(writes)
        for start in range(0, len(whole), max(1, behaviour.step)):  # bounded by the length
            await write(whole[start : start + behaviour.step])
            await asyncio.sleep(behaviour.interval)  # the fault itself: a slow, steady drip
    elif isinstance(behaviour, SplitUtf8):
        for data in writes:
            cut = inside_a_character(data)
            await write(data[:cut])
            if cut < len(data):
                await asyncio.sleep(behaviour.pause)  # two TCP segments, not one
                await write(data[cut:])
    else:
        for data in writes:
            await write(data)
    if isinstance(behaviour, ResetMidStream):
        await reset()
        return
    await send({"type": "http.response.body", "body": b"", "more_body": False})


async def reset_connection(connections: Iterable[Any], scope: Scope) -> None:
    """Abort the uvicorn connection serving ``scope`` so the peer reads ``ECONNRESET`` (once
    what was written before has left asyncio's buffer: up to 1 s)."""
    client = tuple(scope.get("client") or ())
    for connection in list(connections):
        transport = getattr(connection, "transport", None)
        if transport is None or tuple(getattr(connection, "client", None) or ()) != client:
            continue
        for _ in range(200):  # bounded: 200 x 5 ms
            if not transport.get_write_buffer_size():
                break
            await asyncio.sleep(0.005)  # polling the buffer
        sock = transport.get_extra_info("socket")
        if sock is not None:  # linger 0: close() sends RST instead of FIN
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()
        return
    raise MidStreamFailure("the connection to reset was not found")  # uvicorn drops it anyway


__all__ = ["WireFault", "inside_a_character", "reset_connection", "sse", "wire_fault"]
