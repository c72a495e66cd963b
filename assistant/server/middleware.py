"""What every request goes through before routing: an id, a tidy path, a size limit, a log line.

One pure ASGI middleware (no ``BaseHTTPMiddleware``: it would buffer streamed answers):

- **Request id**: the client's ``X-Request-ID`` when it is a sane token, else a fresh one; set
  on the response and in :data:`assistant.log.request_id`, so every log line written while
  serving the request carries it.
- **Path**: runs of slashes become one (``//v1/models`` is ``/v1/models``: some clients join a
  base URL ending in ``/`` with a path starting with one).
- **Body size**: a ``Content-Length`` over the limit is refused with 413 before any byte of the
  body is read; a chunked body is counted as it arrives and refused once it passes the limit.
- **Access log**: method, path, status, duration, the caller's key name, and OpenWebUI's user
  and chat ids (``X-OpenWebUI-User-Id``, ``X-OpenWebUI-Chat-Id``) when sent, as log extras
  (fields of the JSON log format).
- **Metrics**: requests in flight, and each request by method, route template and status (a
  client gone before any answer counts as 499, as nginx has it), with its duration.
"""

from __future__ import annotations

import asyncio
import logging
import re
import time
import uuid

from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant.errors import PayloadTooLarge
from assistant.log import request_id
from assistant.metrics import Metrics
from assistant.server.errors import error_response, to_api_error

logger = logging.getLogger("assistant.server.access")

_SANE_ID = re.compile(r"^[A-Za-z0-9._:-]{1,128}$")
_SLASHES = re.compile(r"/{2,}")
OPENWEBUI_HEADERS = {
    "x-openwebui-user-id": "openwebui_user_id",
    "x-openwebui-chat-id": "openwebui_chat_id",
    "x-openwebui-user-role": "openwebui_user_role",
}
"""OpenWebUI's forwarded headers (``ENABLE_FORWARD_USER_INFO_HEADERS``) kept in the access log.
Names and e-mails are personal data and are not logged."""


class RequestContextMiddleware:
    """Request id, path normalisation, body size limit and access log (see the module doc)."""

    def __init__(self, app: ASGIApp, max_body_bytes: int, metrics: Metrics | None = None) -> None:
        self.app = app
        self.max_body_bytes = max_body_bytes
        self.metrics = metrics

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        headers = {k.decode("latin-1").lower(): v.decode("latin-1") for k, v in scope["headers"]}
        incoming = headers.get("x-request-id", "")
        rid = incoming if _SANE_ID.match(incoming) else f"req_{uuid.uuid4().hex}"
        token = request_id.set(rid)
        path = scope["path"]
        if "//" in path:
            path = _SLASHES.sub("/", path)
            scope = {**scope, "path": path, "raw_path": path.encode()}
        scope.setdefault("state", {})["request_id"] = rid
        started = time.perf_counter()
        status = 0
        if self.metrics is not None:
            self.metrics.http_in_flight.inc()

        async def send_with_id(message: Message) -> None:
            nonlocal status
            if message["type"] == "http.response.start":
                status = message["status"]
                message = {
                    **message,
                    "headers": [*message.get("headers", []), (b"x-request-id", rid.encode())],
                }
            await send(message)

        try:
            length = headers.get("content-length")
            if length is not None:
                if length.strip().isdigit() and int(length) > self.max_body_bytes:
                    await self._too_large(scope, receive, send_with_id)
                    return
                await self.app(scope, receive, send_with_id)  # the server enforces the length
                return
            replay = await self._read_chunked(receive)
            if replay is None:
                await self._too_large(scope, receive, send_with_id)
                return
            await self.app(scope, replay, send_with_id)
        finally:
            seconds = time.perf_counter() - started
            self._log(scope, headers, status, seconds)
            if self.metrics is not None:
                self.metrics.http_in_flight.dec()
                route = getattr(scope.get("route"), "path", None) or "unmatched"
                self.metrics.http_request(scope["method"], route, status or 499, seconds)
            request_id.reset(token)

    async def _read_chunked(self, receive: Receive) -> Receive | None:
        """Read a body sent without a length, up to the limit; ``None`` when it is over.

        Returns a ``receive`` that hands the body on as one message, then the real messages
        (a disconnect, later) as they come.
        """
        chunks: list[bytes] = []
        seen = 0
        while True:
            message = await receive()
            if message["type"] != "http.request":
                break
            chunks.append(message.get("body", b""))
            seen += len(chunks[-1])
            if seen > self.max_body_bytes:
                return None
            if not message.get("more_body", False):
                break
        pending: list[Message] = [{"type": "http.request", "body": b"".join(chunks)}]

        async def replay() -> Message:
            return pending.pop() if pending else await receive()

        return replay

    async def _too_large(self, scope: Scope, receive: Receive, send: Send) -> None:
        error = to_api_error(
            PayloadTooLarge(f"The request body is over the limit of {self.max_body_bytes} bytes.")
        )
        await error_response(error)(scope, receive, send)

    @staticmethod
    def _log(scope: Scope, headers: dict[str, str], status: int, seconds: float) -> None:
        principal = scope.get("state", {}).get("principal")
        extra: dict[str, object] = {
            "method": scope.get("method"),
            "path": scope.get("path"),
            "status": status,
            "duration_ms": round(seconds * 1000, 1),
            "key": getattr(principal, "name", None),
        }
        for header, field in OPENWEBUI_HEADERS.items():
            if header in headers:
                extra[field] = headers[header][:128]
        logger.info(
            "%s %s %s %.1f ms",
            extra["method"],
            extra["path"],
            status,
            extra["duration_ms"],
            extra=extra,
        )


class CancelOnDisconnectMiddleware:
    """Stops the work of a request whose client went away, whenever it goes.

    Starlette notices a disconnect only while it streams a response; a client that leaves
    while the route still waits (for an upstream's first token, or a whole answer) would
    otherwise leave that work running to the end. Here one task reads the client's messages
    and hands them on; when it reads ``http.disconnect`` before the response is complete, it
    cancels the request's task, and the cancellation closes the upstream connection or stops
    the local model's generation.
    """

    def __init__(self, app: ASGIApp) -> None:
        self.app = app

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        messages: asyncio.Queue[Message] = asyncio.Queue()
        finished = False

        async def tracked_send(message: Message) -> None:
            nonlocal finished
            await send(message)
            if message["type"] == "http.response.body" and not message.get("more_body", False):
                finished = True

        work = asyncio.ensure_future(self.app(scope, messages.get, tracked_send))
        client_left = False

        async def read_client() -> None:
            nonlocal client_left
            while True:
                message = await receive()
                messages.put_nowait(message)
                if message["type"] == "http.disconnect":
                    if not finished and not work.done():
                        client_left = True
                        work.cancel()
                    return

        reader = asyncio.ensure_future(read_client())
        try:
            await work
        except asyncio.CancelledError:
            if not client_left:  # the server is stopping: not ours to swallow
                work.cancel()
                raise
            logger.info("client left: request cancelled")
        finally:
            reader.cancel()
