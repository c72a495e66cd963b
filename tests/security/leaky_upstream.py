"""A hostile upstream for the secrets canary suite: every failure echoes the caller's key.

A real HTTP server on loopback (stdlib, a thread per request). It answers OpenAI's
``POST .../chat/completions`` and ``.../embeddings`` and Anthropic's ``POST .../messages`` under
any path prefix, so every provider's ``base_url`` can point at one instance (``/openai/v1``,
``/anthropic``, ...). The *model name* picks the behaviour, so one server drives every error
path of every provider:

- ``ok`` - a normal answer (JSON or SSE), or an embedding;
- ``echo-401``, ``echo-403``, ``echo-429``, ``echo-500`` - that status, with the received
  ``Authorization`` and ``x-api-key`` headers quoted whole in the error message and in a
  response header (what a careless proxy does);
- ``partial-401`` - 401 quoting the key as OpenAI does, its first 12 and last 4 characters;
- ``html-502`` - a proxy's HTML error page quoting the key;
- ``malformed`` - 200 with a body that is not JSON and quotes the key;
- ``stream-error`` - a stream whose second event is an error frame quoting the key;
- ``slow`` - answers after :attr:`LeakyUpstream.slow_seconds` (past the provider's timeout).

Unlike ``tests.fakes.upstream.FakeUpstream`` (scripted per request, OpenAI only) it reacts to
what each request carries, which is what an echo needs. Every request is recorded.
"""

from __future__ import annotations

import json
import threading
import time
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any


@dataclass(frozen=True)
class Seen:
    """One request as received."""

    path: str
    model: str
    headers: dict[str, str]


class _Handler(BaseHTTPRequestHandler):
    server: _Server
    protocol_version = "HTTP/1.1"

    def log_message(self, format: str, *args: Any) -> None:
        """Quiet."""

    def do_GET(self) -> None:
        self._reply(404, {"error": {"message": "not found", "type": "invalid_request_error"}})

    def do_POST(self) -> None:
        length = int(self.headers.get("Content-Length") or 0)
        raw = self.rfile.read(length) if length else b""
        try:
            body = json.loads(raw or b"{}")
        except ValueError:
            body = {}
        model = str(body.get("model", "")) if isinstance(body, dict) else ""
        headers = {key.lower(): value for key, value in self.headers.items()}
        self.server.owner.record(Seen(self.path, model, headers))
        key = headers.get("authorization", "") + " " + headers.get("x-api-key", "")
        anthropic = self.path.rstrip("/").endswith("/messages")
        behaviour = model.rsplit("/", 1)[-1]
        if behaviour.startswith("echo-"):
            code = int(behaviour.split("-")[1])
            message = f"Invalid credentials: {key.strip()}"
            self._reply(code, _error(message, anthropic), {"X-Echo-Key": key.strip()})
        elif behaviour == "partial-401":
            secret = key.split()[-1] if key.split() else ""
            message = f"Incorrect API key provided: {secret[:12]}{'*' * 20}{secret[-4:]}"
            self._reply(401, _error(message, anthropic))
        elif behaviour == "html-502":
            page = f"<html><body><h1>502 Bad Gateway</h1><p>upstream said {key}</p></body></html>"
            self._send(502, page.encode(), "text/html")
        elif behaviour == "malformed":
            self._send(
                200, f'{{"id": "x", "choices": [{{"oops": {key}'.encode(), "application/json"
            )
        elif behaviour == "slow":
            self.server.owner.wake.wait(self.server.owner.slow_seconds)
            self._answer(body, model, anthropic)
        elif behaviour == "stream-error":
            frames = [
                _chunk(model, {"role": "assistant", "content": "par"}),
                {"error": {"message": f"upstream broke, key {key}", "type": "server_error"}},
            ]
            self._sse(frames)
        else:
            self._answer(body, model, anthropic)

    def _answer(self, body: dict[str, Any], model: str, anthropic: bool) -> None:
        if self.path.rstrip("/").endswith("/embeddings"):
            texts = body.get("input") if isinstance(body.get("input"), list) else [body["input"]]
            data = [
                {"object": "embedding", "index": i, "embedding": [0.1 * (i + 1)] * 8}
                for i in range(len(texts))
            ]
            self._reply(
                200,
                {
                    "object": "list",
                    "data": data,
                    "model": model,
                    "usage": {"prompt_tokens": 1, "total_tokens": 1},
                },
            )
            return
        if anthropic:
            self._reply(
                200,
                {
                    "id": "msg_1",
                    "type": "message",
                    "role": "assistant",
                    "model": model,
                    "content": [{"type": "text", "text": "Paris is the answer."}],
                    "stop_reason": "end_turn",
                    "stop_sequence": None,
                    "usage": {"input_tokens": 5, "output_tokens": 4},
                },
            )
            return
        if body.get("stream"):
            frames: list[dict[str, Any]] = [
                _chunk(model, {"role": "assistant", "content": ""}),
                _chunk(model, {"content": "Paris is the answer."}),
                _chunk(model, {}, "stop"),
            ]
            if (body.get("stream_options") or {}).get("include_usage"):
                frames.append({**_chunk(model, {}), "choices": [], "usage": _USAGE})
            self._sse(frames)
            return
        self._reply(
            200,
            {
                "id": "chatcmpl-1",
                "object": "chat.completion",
                "created": int(time.time()),
                "model": model,
                "usage": _USAGE,
                "choices": [
                    {
                        "index": 0,
                        "finish_reason": "stop",
                        "message": {"role": "assistant", "content": "Paris is the answer."},
                    }
                ],
            },
        )

    def _sse(self, frames: list[dict[str, Any]]) -> None:
        text = "".join(f"data: {json.dumps(frame)}\n\n" for frame in frames) + "data: [DONE]\n\n"
        self._send(200, text.encode(), "text/event-stream")

    def _reply(self, code: int, body: Any, headers: dict[str, str] | None = None) -> None:
        self._send(code, json.dumps(body).encode(), "application/json", headers)

    def _send(
        self, code: int, raw: bytes, content_type: str, headers: dict[str, str] | None = None
    ) -> None:
        try:
            self.send_response(code)
            self.send_header("Content-Type", content_type)
            self.send_header("Content-Length", str(len(raw)))
            if code == 429:
                self.send_header("Retry-After", "0")
            for name, value in (headers or {}).items():
                self.send_header(name, value)
            self.end_headers()
            self.wfile.write(raw)
        except (BrokenPipeError, ConnectionResetError):
            pass  # the client gave up (a timeout under test)


_USAGE = {"prompt_tokens": 5, "completion_tokens": 4, "total_tokens": 9}


def _chunk(model: str, delta: dict[str, Any], finish: str | None = None) -> dict[str, Any]:
    return {
        "id": "chatcmpl-1",
        "object": "chat.completion.chunk",
        "created": 0,
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish}],
    }


def _error(message: str, anthropic: bool) -> dict[str, Any]:
    if anthropic:
        return {"type": "error", "error": {"type": "authentication_error", "message": message}}
    return {"error": {"message": message, "type": "invalid_request_error", "code": None}}


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, owner: LeakyUpstream) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.owner = owner

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients hanging up (timeouts under test) are expected."""


class LeakyUpstream:
    """The echoing upstream; a context manager."""

    def __init__(self, slow_seconds: float = 3.0) -> None:
        self.slow_seconds = slow_seconds
        self.wake = threading.Event()
        self._lock = threading.Lock()
        self._seen: list[Seen] = []
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    def record(self, seen: Seen) -> None:
        """Keep one request."""
        with self._lock:
            self._seen.append(seen)

    @property
    def seen(self) -> list[Seen]:
        """Every request received."""
        with self._lock:
            return list(self._seen)

    def base_url(self, prefix: str) -> str:
        """``http://127.0.0.1:PORT/PREFIX``."""
        return f"http://127.0.0.1:{self.port}/{prefix}"

    def __enter__(self) -> LeakyUpstream:
        self._server = _Server(self)
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever, kwargs={"poll_interval": 0.05}, daemon=True
        )
        self._thread.start()
        return self

    def __exit__(self, *exc: object) -> None:
        self.wake.set()  # cut short any slow answer still waiting
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(10)
