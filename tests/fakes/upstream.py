"""A scripted, OpenAI-compatible upstream: a real HTTP server on loopback.

:class:`FakeUpstream` runs a small ASGI app under uvicorn in a background thread, bound to
``127.0.0.1`` on an ephemeral port. It implements ``POST /v1/chat/completions`` in the OpenAI
wire format, streamed (SSE chunks, a usage chunk when ``stream_options.include_usage`` is
set, then ``data: [DONE]``) and not. Each request consumes one scripted behaviour::

    upstream.script(status(500), status(429, headers={"Retry-After": "1"}), ok("hello"))

and when the script is empty, :attr:`FakeUpstream.default` answers (``ok`` unless changed
with :meth:`FakeUpstream.always`). Every request is recorded (path, headers, JSON body, arrival
time) so tests can count attempts. Behaviours:

- :func:`ok` - a normal answer, with ``usage``;
- :func:`status` - an error status with an OpenAI error body and optional headers;
- :func:`slow_headers` - wait before answering (to trigger client timeouts);
- :func:`stream_then_fail` - send some content chunks, then break the connection;
- :func:`trickle`, :func:`malformed_sse`, :func:`split_utf8`, :func:`reset_mid_stream` - wire
  faults: a body dripping a few bytes at a time, a frame that is not JSON, multi-byte
  characters cut across two network writes, a TCP reset after some chunks.

``POST /v1/embeddings`` answers too (not scripted): an 8-dimensional vector per input text,
derived from its hash, so equal texts get equal vectors.
"""

from __future__ import annotations

import asyncio
import json
import socket
import threading
import time
from collections import deque
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import Any

import uvicorn

from tests.fakes.behaviours import (
    Behaviour,
    MalformedSse,
    Ok,
    ResetMidStream,
    SlowHeaders,
    SlowStream,
    SplitUtf8,
    Status,
    StreamErrorFrame,
    StreamThenFail,
    ToolCalls,
    Trickle,
    malformed_sse,
    ok,
    reset_mid_stream,
    slow_headers,
    slow_stream,
    split_utf8,
    status,
    stream_error_frame,
    stream_then_fail,
    tool_calls,
    trickle,
)
from tests.fakes.payloads import (
    Message,
    Send,
    _chunk,
    _completion,
    _error_body,
    _error_type,
    _hash_vector,
    _send_json,
    _usage,
    logprobs_of,
)

Scope = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]

MAX_BODY_BYTES = 10 * 1024 * 1024


# -- recording ----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the upstream received it."""

    method: str
    path: str
    headers: dict[str, str]
    body: Any
    received_at: float
    """``time.monotonic()`` when the body had been read."""

    @property
    def stream(self) -> bool:
        """Whether the client asked for a streamed answer."""
        return isinstance(self.body, dict) and bool(self.body.get("stream"))


class MidStreamFailure(Exception):
    """Raised inside the fake to make uvicorn drop a started response."""


# -- the server ---------------------------------------------------------------------------------


class FakeUpstream:
    """The scripted upstream server. Use as a context manager, or :meth:`start`/:meth:`stop`."""

    def __init__(self, name: str = "fake") -> None:
        self.name = name
        self.default: Behaviour = Ok()
        self._lock = threading.Condition()
        self._script: deque[Behaviour] = deque()
        self._requests: list[RecordedRequest] = []
        self._disconnects: list[float] = []
        self._loop: asyncio.AbstractEventLoop | None = None
        self._sleepers: set[asyncio.Event] = set()
        self._server: uvicorn.Server | None = None
        self._thread: threading.Thread | None = None
        self._socket: socket.socket | None = None
        self.port = 0

    # -- scripting ------------------------------------------------------------------------

    def script(self, *behaviours: Behaviour) -> FakeUpstream:
        """Queue behaviours, consumed one per request in order."""
        with self._lock:
            self._script.extend(behaviours)
        return self

    def always(self, behaviour: Behaviour) -> FakeUpstream:
        """Answer with ``behaviour`` whenever the script is empty."""
        with self._lock:
            self.default = behaviour
        return self

    def reset(self) -> None:
        """Forget the script and the recorded requests; wake any request still waiting."""
        with self._lock:
            self._script.clear()
            self._requests.clear()
            self._disconnects.clear()
            self.default = Ok()
        self._wake_sleepers()

    @property
    def pending(self) -> int:
        """Scripted behaviours not consumed yet."""
        with self._lock:
            return len(self._script)

    # -- inspection -----------------------------------------------------------------------

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT`` (append ``/v1`` for an OpenAI base URL)."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def base_url(self) -> str:
        """The OpenAI-style base URL, ending in ``/v1``."""
        return f"{self.url}/v1"

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received since the last reset."""
        with self._lock:
            return list(self._requests)

    @property
    def request_count(self) -> int:
        """How many requests arrived since the last reset."""
        with self._lock:
            return len(self._requests)

    @property
    def disconnects(self) -> list[float]:
        """``time.monotonic()`` of each client that left a :class:`SlowStream` answer before
        it was complete."""
        with self._lock:
            return list(self._disconnects)

    def wait_for_disconnects(self, count: int, timeout: float = 5.0) -> int:
        """Block until ``count`` clients left mid-answer (or ``timeout``); return the count."""
        with self._lock:
            self._lock.wait_for(lambda: len(self._disconnects) >= count, timeout=timeout)
            return len(self._disconnects)

    def _record_disconnect(self) -> None:
        with self._lock:
            self._disconnects.append(time.monotonic())
            self._lock.notify_all()

    def wait_for_requests(self, count: int, timeout: float = 5.0) -> int:
        """Block until at least ``count`` requests arrived (or ``timeout``); return the count."""
        with self._lock:
            self._lock.wait_for(lambda: len(self._requests) >= count, timeout=timeout)
            return len(self._requests)

    # -- lifecycle ------------------------------------------------------------------------

    def start(self, ready_timeout: float = 10.0) -> FakeUpstream:
        """Start serving on an ephemeral loopback port; return once it accepts connections."""
        sock = listening_socket(0)
        self._socket = sock
        self.port = int(sock.getsockname()[1])
        config = uvicorn.Config(
            self._app,
            interface="asgi3",
            lifespan="on",
            loop="asyncio",
            http="h11",
            proxy_headers=False,
            log_config=None,  # leave the test process' logging alone; errors reach caplog
            access_log=False,
            timeout_graceful_shutdown=2,
        )
        self._server = uvicorn.Server(config)
        self._thread = threading.Thread(
            target=self._server.run,
            kwargs={"sockets": [sock]},
            name=f"fake-upstream-{self.name}",
            daemon=True,
        )
        self._thread.start()
        self._wait_until_accepting(ready_timeout)
        return self

    def _wait_until_accepting(self, timeout: float) -> None:
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self._thread is not None and not self._thread.is_alive():
                raise RuntimeError(f"fake upstream {self.name} exited during start-up")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5):
                    pass
            except OSError:
                time.sleep(0.01)  # readiness polling interval, bounded by the deadline
                continue
            if self._server is not None and self._server.started:
                return
            time.sleep(0.01)  # listening but lifespan start-up not finished yet
        raise TimeoutError(f"fake upstream {self.name} did not accept connections in {timeout}s")

    def stop(self, timeout: float = 10.0) -> None:
        """Stop the server and join its thread."""
        self._wake_sleepers()
        if self._server is not None:
            self._server.should_exit = True
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                raise RuntimeError(f"fake upstream {self.name} did not stop in {timeout}s")
        if self._socket is not None:
            self._socket.close()
        self._server = self._thread = self._socket = None

    def __enter__(self) -> FakeUpstream:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()

    def _wake_sleepers(self) -> None:
        with self._lock:
            sleepers = list(self._sleepers)
        loop = self._loop
        if loop is None or loop.is_closed():
            return
        for sleeper in sleepers:
            loop.call_soon_threadsafe(sleeper.set)

    # -- the ASGI app ---------------------------------------------------------------------

    async def _app(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] == "lifespan":
            await self._lifespan(receive, send)
            return
        if scope["type"] != "http":
            return
        body = await self._read_body(receive)
        path = scope["path"]
        if scope["method"] == "POST" and path == "/v1/embeddings":
            await self._embeddings(body, scope, send)
            return
        if scope["method"] != "POST" or path != "/v1/chat/completions":
            await _send_json(send, 404, _error_body("not found", "invalid_request_error"))
            return
        try:
            payload = json.loads(body or b"null")
        except ValueError:
            payload = None
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        with self._lock:
            self._requests.append(RecordedRequest("POST", path, headers, payload, time.monotonic()))
            behaviour = self._script.popleft() if self._script else self.default
            self._lock.notify_all()
        if not isinstance(payload, dict):
            await _send_json(send, 400, _error_body("body is not JSON", "invalid_request_error"))
            return
        if isinstance(behaviour, Trickle | MalformedSse | SplitUtf8 | ResetMidStream):
            from tests.fakes.wire import wire_fault  # imports this module: imported late

            await wire_fault(behaviour, payload, send, reset=lambda: self._reset(scope))
            return
        await self._respond(behaviour, payload, send, receive)

    async def _reset(self, scope: Scope) -> None:
        """Abort the connection of ``scope`` with a TCP reset (see :mod:`tests.fakes.wire`)."""
        from tests.fakes.wire import reset_connection

        server = self._server
        await reset_connection(server.server_state.connections if server else set(), scope)

    async def _embeddings(self, body: bytes, scope: Scope, send: Send) -> None:
        """``POST /v1/embeddings``: an 8-dimensional vector derived from each text's hash."""
        payload = json.loads(body or b"null")
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        with self._lock:
            self._requests.append(
                RecordedRequest("POST", "/v1/embeddings", headers, payload, time.monotonic())
            )
            self._lock.notify_all()
        texts = payload["input"] if isinstance(payload["input"], list) else [payload["input"]]
        data = [
            {"object": "embedding", "index": i, "embedding": _hash_vector(str(text))}
            for i, text in enumerate(texts)
        ]
        await _send_json(
            send,
            200,
            {
                "object": "list",
                "data": data,
                "model": payload.get("model"),
                "usage": {"prompt_tokens": len(texts), "total_tokens": len(texts)},
            },
        )

    async def _lifespan(self, receive: Receive, send: Send) -> None:
        while True:
            message = await receive()
            if message["type"] == "lifespan.startup":
                self._loop = asyncio.get_running_loop()
                await send({"type": "lifespan.startup.complete"})
            elif message["type"] == "lifespan.shutdown":
                await send({"type": "lifespan.shutdown.complete"})
                return

    @staticmethod
    async def _read_body(receive: Receive) -> bytes:
        chunks: list[bytes] = []
        size = 0
        while True:  # bounded: ends at the last body message or at MAX_BODY_BYTES
            message = await receive()
            if message["type"] == "http.disconnect":
                break
            chunk = message.get("body", b"")
            size += len(chunk)
            if size > MAX_BODY_BYTES:
                break
            chunks.append(chunk)
            if not message.get("more_body", False):
                break
        return b"".join(chunks)

    async def _client_left(self, receive: Receive) -> None:
        """Return when the client disconnects."""
        while (await receive())["type"] != "http.disconnect":
            pass

    async def _respond(
        self, behaviour: Behaviour, payload: dict[str, Any], send: Send, receive: Receive
    ) -> None:
        if isinstance(behaviour, SlowHeaders):
            # Interruptible, so reset() and stop() need not wait for a sleeping request.
            wake = asyncio.Event()
            with self._lock:
                self._sleepers.add(wake)
            try:
                await asyncio.wait_for(wake.wait(), timeout=behaviour.seconds)
            except TimeoutError:
                pass
            finally:
                with self._lock:
                    self._sleepers.discard(wake)
            behaviour = behaviour.then
        if isinstance(behaviour, SlowStream):
            await self._slow_stream(behaviour, str(payload.get("model", "fake")), send, receive)
            return
        if isinstance(behaviour, ToolCalls):
            await self._tool_calls(behaviour, payload, send)
            return
        if isinstance(behaviour, Status):
            body = behaviour.body
            if body is None:
                body = _error_body(
                    behaviour.message or f"fake upstream error {behaviour.code}",
                    _error_type(behaviour.code),
                )
            await _send_json(send, behaviour.code, body, behaviour.headers)
            return
        model = str(payload.get("model", "fake-model"))
        if payload.get("stream"):
            include_usage = bool((payload.get("stream_options") or {}).get("include_usage"))
            await self._stream(behaviour, model, include_usage, send)
            return
        if isinstance(behaviour, StreamErrorFrame):
            body = _error_body(behaviour.message, "server_error")
            body["error"]["code"] = behaviour.code
            await _send_json(send, 200, body)
            return
        if isinstance(behaviour, StreamThenFail):
            # A non-streamed request: promise a body, send half of it, then hang up.
            await send(
                {
                    "type": "http.response.start",
                    "status": 200,
                    "headers": [
                        (b"content-type", b"application/json"),
                        (b"content-length", b"1000"),
                    ],
                }
            )
            await send({"type": "http.response.body", "body": b'{"id": "x', "more_body": True})
            raise MidStreamFailure("fake upstream dropped the connection")
        await _send_json(send, 200, _completion(behaviour, model))

    async def _slow_stream(
        self, behaviour: SlowStream, model: str, send: Send, receive: Receive
    ) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/event-stream")],
            }
        )
        ident = f"chatcmpl-{self.name}-slow"
        left = asyncio.ensure_future(self._client_left(receive))
        try:
            for i in range(behaviour.n_chunks):
                delta = {"role": "assistant", "content": ""} if i == 0 else {"content": f"t{i} "}
                frame = f"data: {json.dumps(_chunk(ident, model, delta))}\n\n".encode()
                await send({"type": "http.response.body", "body": frame, "more_body": True})
                wait = behaviour.first_token_after if i == 0 else behaviour.interval
                done, _ = await asyncio.wait([left], timeout=max(wait, behaviour.interval))
                if done:
                    self._record_disconnect()
                    return
            finish = _chunk(ident, model, {}, finish_reason="stop")
            frames = f"data: {json.dumps(finish)}\n\ndata: [DONE]\n\n".encode()
            await send({"type": "http.response.body", "body": frames, "more_body": False})
        finally:
            left.cancel()

    async def _tool_calls(self, behaviour: ToolCalls, payload: dict[str, Any], send: Send) -> None:
        model = str(payload.get("model", "fake"))
        calls = [
            {"id": f"call_{i}", "type": "function", "function": {"name": n, "arguments": a}}
            for i, (n, a) in enumerate(behaviour.calls)
        ]
        usage = {
            "prompt_tokens": behaviour.prompt_tokens,
            "completion_tokens": behaviour.completion_tokens,
            "total_tokens": behaviour.prompt_tokens + behaviour.completion_tokens,
        }
        if not payload.get("stream"):
            body = _completion(Ok("", behaviour.prompt_tokens, behaviour.completion_tokens), model)
            body["choices"][0]["message"] = {
                "role": "assistant",
                "content": None,
                "tool_calls": calls,
            }
            body["choices"][0]["finish_reason"] = "tool_calls"
            await _send_json(send, 200, body)
            return
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [(b"content-type", b"text/event-stream")],
            }
        )
        ident = f"chatcmpl-{self.name}-tools"
        frames = [_chunk(ident, model, {"role": "assistant", "content": None})]
        for index, call in enumerate(calls):
            head = {"index": index, "id": call["id"], "type": "function",
                    "function": {"name": call["function"]["name"], "arguments": ""}}  # fmt: skip
            frames.append(_chunk(ident, model, {"tool_calls": [head]}))
            arguments = call["function"]["arguments"]
            middle = len(arguments) // 2
            for piece in (arguments[:middle], arguments[middle:]):
                delta = {"tool_calls": [{"index": index, "function": {"arguments": piece}}]}
                frames.append(_chunk(ident, model, delta))
        frames.append(_chunk(ident, model, {}, finish_reason="tool_calls"))
        if (payload.get("stream_options") or {}).get("include_usage"):
            frames.append({"id": ident, "object": "chat.completion.chunk", "created": 0,
                           "model": model, "choices": [], "usage": usage})  # fmt: skip
        text = "".join(f"data: {json.dumps(frame)}\n\n" for frame in frames) + "data: [DONE]\n\n"
        await send({"type": "http.response.body", "body": text.encode(), "more_body": False})

    async def _stream(
        self,
        behaviour: Ok | StreamThenFail | StreamErrorFrame,
        model: str,
        include_usage: bool,
        send: Send,
    ) -> None:
        await send(
            {
                "type": "http.response.start",
                "status": 200,
                "headers": [
                    (b"content-type", b"text/event-stream"),
                    (b"cache-control", b"no-cache"),
                ],
            }
        )
        ident = f"chatcmpl-{self.name}-{time.monotonic_ns()}"

        async def event(data: dict[str, Any] | str) -> None:
            text = data if isinstance(data, str) else json.dumps(data)
            await send(
                {
                    "type": "http.response.body",
                    "body": f"data: {text}\n\n".encode(),
                    "more_body": True,
                }
            )

        pieces = behaviour.pieces()
        if pieces or not isinstance(behaviour, StreamErrorFrame):
            await event(_chunk(ident, model, {"role": "assistant", "content": ""}))
        for piece in pieces:
            frame = _chunk(ident, model, {"content": piece})
            if isinstance(behaviour, Ok) and behaviour.logprobs:
                frame["choices"][0]["logprobs"] = logprobs_of([piece])
            await event(frame)
        if isinstance(behaviour, StreamErrorFrame):
            body = _error_body(behaviour.message, "server_error")
            body["error"]["code"] = behaviour.code
            await event(body)
            await event("[DONE]")
            await send({"type": "http.response.body", "body": b"", "more_body": False})
            return
        if isinstance(behaviour, StreamThenFail):
            raise MidStreamFailure("fake upstream dropped the connection mid-stream")
        await event(_chunk(ident, model, {}, finish_reason="stop"))
        if include_usage:
            await event(
                {
                    "id": ident,
                    "object": "chat.completion.chunk",
                    "created": int(time.time()),
                    "model": model,
                    "choices": [],
                    "usage": _usage(behaviour),
                }
            )
        await event("[DONE]")
        await send({"type": "http.response.body", "body": b"", "more_body": False})


def listening_socket(port: int) -> socket.socket:
    """A loopback TCP socket for uvicorn to serve on.

    Made with ``IPPROTO_TCP`` explicitly: asyncio turns Nagle's algorithm off only on sockets
    whose protocol says TCP, and with it on, every answer written in two parts (headers, body)
    waited 40 ms for the client's delayed ACK on a reused connection.
    """
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM, socket.IPPROTO_TCP)
    sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
    sock.setsockopt(socket.IPPROTO_TCP, socket.TCP_NODELAY, 1)
    sock.bind(("127.0.0.1", port))
    return sock


def closed_port() -> int:
    """A loopback port with nothing listening (bound then released)."""
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


__all__ = [
    "Behaviour",
    "FakeUpstream",
    "RecordedRequest",
    "closed_port",
    "listening_socket",
    "malformed_sse",
    "ok",
    "reset_mid_stream",
    "slow_headers",
    "slow_stream",
    "split_utf8",
    "status",
    "stream_error_frame",
    "stream_then_fail",
    "tool_calls",
    "trickle",
]


def main() -> None:
    """Serve a fake upstream until interrupted: ``python -m tests.fakes.upstream --port 9000``
    (benchmarks run it in its own process, so it does not share a core with the client)."""
    import argparse
    import signal

    parser = argparse.ArgumentParser(description=main.__doc__)
    parser.add_argument("--port", type=int, required=True)
    parser.add_argument("--text", default="Hello from the fake upstream, streamed in words.")
    parser.add_argument("--delay", type=float, default=0.0, help="Seconds before each answer.")
    args = parser.parse_args()
    server = FakeUpstream("standalone")
    answer = ok(args.text)
    server.always(slow_headers(args.delay, answer) if args.delay > 0 else answer)
    sock = listening_socket(args.port)
    config = uvicorn.Config(
        server._app,
        interface="asgi3",
        loop="asyncio",
        http="httptools",
        log_config=None,
        access_log=False,
    )
    uvicorn_server = uvicorn.Server(config)
    signal.signal(signal.SIGTERM, lambda *_: setattr(uvicorn_server, "should_exit", True))
    uvicorn_server.run(sockets=[sock])


if __name__ == "__main__":
    main()
