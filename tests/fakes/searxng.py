"""A scripted SearXNG: a real HTTP server on loopback answering ``GET /search``.

:class:`FakeSearxng` runs the standard library's ``ThreadingHTTPServer`` in a background thread,
bound to ``127.0.0.1`` on an ephemeral port. Each request to ``/search`` consumes one scripted
reply::

    searxng.script(status(500), results(result("Title", "https://example.org", "snippet")))

and when the script is empty, :attr:`FakeSearxng.default` answers (an empty result list unless
changed with :meth:`FakeSearxng.always`); any other path gets a 404. Every request is recorded
(path, raw query string, decoded parameters, headers). Replies:

- :func:`results` - a SearXNG JSON answer with the given result objects (:func:`result` builds
  one; any dict works, so tests can leave fields out);
- :func:`raw` - any body, status and content type (malformed JSON, HTML, ...);
- :func:`status` - an error status;
- :func:`slow` - wait server-side before replying (to trigger client timeouts); woken early by
  :meth:`FakeSearxng.reset` and :meth:`FakeSearxng.stop`, so no test waits on it;
- :func:`huge` - a valid JSON body of ``size`` bytes, sent in chunks, with or without a
  ``Content-Length`` header.
"""

from __future__ import annotations

import contextlib
import json
import threading
from collections import deque
from dataclasses import dataclass, field
from http.server import BaseHTTPRequestHandler, ThreadingHTTPServer
from typing import Any
from urllib.parse import parse_qs, urlsplit

CHUNK_BYTES = 64 * 1024


# -- replies -------------------------------------------------------------------------------------


@dataclass(frozen=True)
class Reply:
    """One scripted answer."""

    status: int = 200
    body: bytes = b'{"results": []}'
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)
    delay: float = 0.0
    """Seconds to wait before answering (server-side)."""
    huge: int = 0
    """When set, ignore ``body`` and send a JSON body of this many bytes."""
    declare_length: bool = True
    """Send ``Content-Length`` (else the body ends when the connection closes)."""


def result(title: str, url: str, content: str = "", **extra: Any) -> dict[str, Any]:
    """One SearXNG result object."""
    return {"title": title, "url": url, "content": content, "engine": "fake", **extra}


def results(*items: Any, query: str = "", **extra: Any) -> Reply:
    """A SearXNG JSON answer listing ``items``."""
    payload = {
        "query": query,
        "number_of_results": len(items),
        "results": list(items),
        "answers": [],
        "corrections": [],
        "infoboxes": [],
        "suggestions": [],
        "unresponsive_engines": [],
        **extra,
    }
    return Reply(body=json.dumps(payload).encode())


def raw(body: bytes | str, *, code: int = 200, content_type: str = "application/json") -> Reply:
    """Any body with any status and content type."""
    data = body.encode() if isinstance(body, str) else body
    return Reply(status=code, body=data, content_type=content_type)


def status(code: int, *, headers: dict[str, str] | None = None) -> Reply:
    """An error status with a small HTML body, as SearXNG (Flask) sends."""
    body = f"<html><body><h1>{code}</h1></body></html>".encode()
    return Reply(status=code, body=body, content_type="text/html", headers=dict(headers or {}))


def slow(seconds: float, then: Reply | None = None) -> Reply:
    """``then`` (by default an empty result list), after ``seconds``."""
    base = then if then is not None else results()
    return Reply(base.status, base.body, base.content_type, base.headers, delay=seconds)


def huge(size: int, *, declare_length: bool = True) -> Reply:
    """A valid JSON answer of ``size`` bytes."""
    return Reply(huge=size, declare_length=declare_length)


_NOT_FOUND = Reply(status=404, body=b"not found", content_type="text/plain")


# -- recording -----------------------------------------------------------------------------------


@dataclass(frozen=True)
class RecordedRequest:
    """One request as the fake received it."""

    method: str
    path: str
    query_string: str
    """The raw, still percent-encoded query string."""
    params: dict[str, list[str]]
    headers: dict[str, str]


# -- the server ----------------------------------------------------------------------------------


class _Handler(BaseHTTPRequestHandler):
    server: _Server

    def log_message(self, format: str, *args: Any) -> None:
        """Keep test output quiet."""

    def do_GET(self) -> None:
        fake = self.server.fake
        parts = urlsplit(self.path)
        recorded = RecordedRequest(
            method="GET",
            path=parts.path,
            query_string=parts.query,
            params=parse_qs(parts.query, keep_blank_values=True),
            headers={key.lower(): value for key, value in self.headers.items()},
        )
        reply, wake = fake._take(recorded)
        if reply.delay:
            wake.wait(reply.delay)  # the slowness under test; reset() and stop() cut it short
        # the client may give up (timed out, or refused the body): expected
        with contextlib.suppress(BrokenPipeError, ConnectionResetError):
            self._send(reply)

    def _send(self, reply: Reply) -> None:
        self.send_response(reply.status)
        self.send_header("Content-Type", reply.content_type)
        for key, value in reply.headers.items():
            self.send_header(key, value)
        if reply.huge:
            self._send_huge(reply)
            return
        self.send_header("Content-Length", str(len(reply.body)))
        self.end_headers()
        self.wfile.write(reply.body)

    def _send_huge(self, reply: Reply) -> None:
        head, tail = b'{"results": [], "padding": "', b'"}'
        padding = reply.huge - len(head) - len(tail)
        if reply.declare_length:
            self.send_header("Content-Length", str(reply.huge))
        self.end_headers()
        self.wfile.write(head)
        chunk = b"x" * CHUNK_BYTES
        sent = 0
        while sent < padding:  # bounded by reply.huge
            piece = chunk[: min(CHUNK_BYTES, padding - sent)]
            self.wfile.write(piece)
            sent += len(piece)
        self.wfile.write(tail)


class _Server(ThreadingHTTPServer):
    daemon_threads = True

    def __init__(self, fake: FakeSearxng) -> None:
        super().__init__(("127.0.0.1", 0), _Handler)
        self.fake = fake

    def handle_error(self, request: Any, client_address: Any) -> None:
        """Clients hanging up mid-answer are part of the tests; stay quiet."""


class FakeSearxng:
    """The scripted SearXNG. Use as a context manager, or :meth:`start`/:meth:`stop`."""

    def __init__(self) -> None:
        self.default: Reply = results()
        self._lock = threading.Lock()
        self._script: deque[Reply] = deque()
        self._requests: list[RecordedRequest] = []
        self._wake = threading.Event()
        self._server: _Server | None = None
        self._thread: threading.Thread | None = None
        self.port = 0

    # -- scripting ---------------------------------------------------------------------------

    def script(self, *replies: Reply) -> FakeSearxng:
        """Queue replies, consumed one per request in order."""
        with self._lock:
            self._script.extend(replies)
        return self

    def always(self, reply: Reply) -> FakeSearxng:
        """Answer with ``reply`` whenever the script is empty."""
        with self._lock:
            self.default = reply
        return self

    def reset(self) -> None:
        """Forget the script and the recorded requests; wake any request still waiting."""
        with self._lock:
            self._script.clear()
            self._requests.clear()
            self.default = results()
            wake, self._wake = self._wake, threading.Event()
        wake.set()

    def _take(self, recorded: RecordedRequest) -> tuple[Reply, threading.Event]:
        """Record the request; its reply (404 off ``/search``, leaving the script alone)."""
        with self._lock:
            self._requests.append(recorded)
            if recorded.path != "/search":
                return _NOT_FOUND, self._wake
            reply = self._script.popleft() if self._script else self.default
            return reply, self._wake

    # -- inspection --------------------------------------------------------------------------

    @property
    def url(self) -> str:
        """``http://127.0.0.1:PORT``: the base URL the tool is configured with."""
        return f"http://127.0.0.1:{self.port}"

    @property
    def requests(self) -> list[RecordedRequest]:
        """Every request received since the last reset."""
        with self._lock:
            return list(self._requests)

    # -- lifecycle ---------------------------------------------------------------------------

    def start(self) -> FakeSearxng:
        """Serve on an ephemeral loopback port (listening as soon as this returns)."""
        self._server = _Server(self)  # binds and listens here, before the thread starts
        self.port = int(self._server.server_address[1])
        self._thread = threading.Thread(
            target=self._server.serve_forever,
            kwargs={"poll_interval": 0.05},
            name="fake-searxng",
            daemon=True,
        )
        self._thread.start()
        return self

    def stop(self, timeout: float = 10.0) -> None:
        """Stop serving and join the thread."""
        self.reset()
        if self._server is not None:
            self._server.shutdown()
            self._server.server_close()
        if self._thread is not None:
            self._thread.join(timeout)
            if self._thread.is_alive():
                raise RuntimeError(f"fake SearXNG did not stop in {timeout}s")
        self._server = self._thread = None

    def __enter__(self) -> FakeSearxng:
        return self.start()

    def __exit__(self, *exc: object) -> None:
        self.stop()


__all__ = [
    "FakeSearxng",
    "RecordedRequest",
    "Reply",
    "huge",
    "raw",
    "result",
    "results",
    "slow",
    "status",
]
