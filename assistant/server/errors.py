"""The error tree mapped onto OpenAI's error JSON and status codes.

Every non-2xx body is ``{"error": {"message", "type", "param", "code"}}``: never FastAPI's
default 422 body, never a traceback, never a secret.
"""

from __future__ import annotations

import logging
from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from fastapi import FastAPI, Request
from fastapi.exceptions import RequestValidationError
from fastapi.responses import JSONResponse
from starlette.exceptions import HTTPException as StarletteHTTPException
from starlette.types import ASGIApp, Message, Receive, Scope, Send

from assistant.errors import (
    AllProvidersFailed,
    AssistantError,
    AuthenticationError,
    CacheUnavailable,
    CircuitOpenError,
    InvalidRequestError,
    ModelNotFoundError,
    PayloadTooLarge,
    PermissionDeniedError,
    ProviderConnectionError,
    ProviderError,
    ProviderHTTPError,
    ProviderTimeout,
    ProviderUnavailableError,
    RateLimitExceeded,
)
from assistant.log import redact
from assistant.server.wire.common import UnencodableText

logger = logging.getLogger(__name__)

_PASS_THROUGH_STATUSES = frozenset({400, 404, 413, 422})
_NOT_JSON = "The request body is not valid JSON (UTF-8 encoded)."
_NOT_OBJECT = "The request body must be a JSON object."
_FASTAPI_PARSE_FAILURE = "There was an error parsing the body"


@dataclass(frozen=True, slots=True)
class APIError:
    """An error as the API reports it."""

    status: int
    message: str
    type: str
    code: str | None = None
    param: str | None = None
    retry_after: float | None = None

    def body(self) -> dict[str, Any]:
        """OpenAI's error object."""
        return {
            "error": {
                "message": self.message,
                "type": self.type,
                "param": self.param,
                "code": self.code,
            }
        }

    def headers(self) -> dict[str, str]:
        """``Retry-After`` when the client should wait."""
        if self.retry_after is None:
            return {}
        return {"Retry-After": str(max(1, round(self.retry_after)))}


def _provider_error(error: ProviderError) -> APIError:
    message = str(error)
    if isinstance(error, CircuitOpenError):
        return APIError(
            503, message, "server_error", "provider_unavailable", retry_after=error.retry_in
        )
    if isinstance(error, AllProvidersFailed):
        return APIError(502, message, "server_error", "all_providers_failed")
    if isinstance(error, ProviderTimeout):
        return APIError(504, message, "server_error", "upstream_timeout")
    if isinstance(error, ProviderConnectionError):
        return APIError(502, message, "server_error", "upstream_unreachable")
    if isinstance(error, ProviderHTTPError):
        if error.status_code == 429:
            return APIError(
                429,
                message,
                "rate_limit_error",
                "rate_limit_exceeded",
                retry_after=error.retry_after,
            )
        if error.status_code in _PASS_THROUGH_STATUSES:
            status = 400 if error.status_code == 422 else error.status_code
            return APIError(status, message, "invalid_request_error", "upstream_rejected_request")
        return APIError(502, message, "server_error", "upstream_error")
    return APIError(502, message, "server_error", "upstream_error")


def to_api_error(exc: BaseException) -> APIError:
    """The API error for any exception (unknown ones become a bare 500)."""
    if isinstance(exc, ModelNotFoundError):
        return APIError(404, str(exc), "invalid_request_error", "model_not_found", "model")
    if isinstance(exc, AuthenticationError):
        return APIError(401, str(exc), "invalid_request_error", "invalid_api_key")
    if isinstance(exc, PermissionDeniedError):
        return APIError(403, str(exc), "permission_error", "insufficient_permissions")
    if isinstance(exc, RateLimitExceeded):
        return APIError(
            429, str(exc), "rate_limit_error", "rate_limit_exceeded", retry_after=exc.retry_after
        )
    if isinstance(exc, CacheUnavailable):
        return APIError(503, str(exc), "server_error", "cache_unavailable")
    if isinstance(exc, PayloadTooLarge):
        return APIError(413, str(exc), "invalid_request_error", "request_too_large")
    if isinstance(exc, InvalidRequestError):
        return APIError(400, str(exc), "invalid_request_error", exc.code, exc.param)
    if isinstance(exc, ProviderUnavailableError):
        return APIError(503, str(exc), "server_error", "provider_unavailable", "model")
    if isinstance(exc, ProviderError):
        return _provider_error(exc)
    if isinstance(exc, AssistantError):
        return APIError(500, str(exc), "server_error", "internal_error")
    return APIError(
        500,
        "The server had an error while processing your request.",
        "server_error",
        "internal_error",
    )


def _validation_error(exc: RequestValidationError) -> APIError:
    errors = exc.errors()
    first = errors[0] if errors else {"loc": (), "msg": "invalid request", "type": ""}
    location = [str(part) for part in first.get("loc", ()) if part != "body"]
    param = ".".join(location) or None
    if first.get("type") == "json_invalid":
        return APIError(400, _NOT_JSON, "invalid_request_error", "invalid_json")
    context = first.get("ctx")
    cause = context.get("error") if isinstance(context, dict) else None
    if isinstance(cause, UnencodableText):
        where = cause.param or "body"
        message = f"Invalid value for '{where}': {cause}."
        return APIError(400, message, "invalid_request_error", "invalid_request", cause.param)
    if param is None and first.get("type") == "value_error":  # a check of the whole request
        message = str(first.get("msg", "")).removeprefix("Value error, ")
        return APIError(400, message, "invalid_request_error", "invalid_request")
    if param is None:
        return APIError(400, _NOT_OBJECT, "invalid_request_error", "invalid_request")
    detail = str(first.get("msg", "")).removeprefix("Value error, ")
    message = f"Invalid value for '{param}': {detail}" if param else detail
    if first.get("type") == "missing":
        message = f"Missing required parameter: '{param}'."
    return APIError(400, message, "invalid_request_error", "invalid_request", param)


def error_response(error: APIError, secrets: Iterable[str] = ()) -> JSONResponse:
    """A JSON response for ``error`` with secrets redacted from its message."""
    body = error.body()
    body["error"]["message"] = redact(body["error"]["message"], secrets)
    return JSONResponse(body, status_code=error.status, headers=error.headers())


def install_error_handlers(app: FastAPI, secrets: Iterable[str]) -> None:
    """Route every failure through OpenAI's error shape."""
    secret_list = list(secrets)

    async def on_assistant_error(request: Request, exc: Exception) -> JSONResponse:
        error = to_api_error(exc)
        if error.status >= 500:
            logger.warning("request failed: %s", redact(str(exc), secret_list))
        return error_response(error, secret_list)

    async def on_validation_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, RequestValidationError)  # noqa: S101 - registered for it
        return error_response(_validation_error(exc), secret_list)

    async def on_http_error(request: Request, exc: Exception) -> JSONResponse:
        assert isinstance(exc, StarletteHTTPException)  # noqa: S101 - registered for it
        if exc.status_code == 400 and exc.detail == _FASTAPI_PARSE_FAILURE:
            return error_response(APIError(400, _NOT_JSON, "invalid_request_error", "invalid_json"))
        kind = "invalid_request_error" if exc.status_code < 500 else "server_error"
        code = {404: "not_found", 405: "method_not_allowed"}.get(exc.status_code)
        return error_response(APIError(exc.status_code, str(exc.detail), kind, code), secret_list)

    app.add_exception_handler(AssistantError, on_assistant_error)
    app.add_exception_handler(RequestValidationError, on_validation_error)
    app.add_exception_handler(StarletteHTTPException, on_http_error)
    app.add_middleware(CatchAllMiddleware, secrets=secret_list)


class CatchAllMiddleware:
    """Turns any unexpected exception into a 500 in OpenAI's shape, logged in one line.

    Starlette's own last-resort handler answers too, but then re-raises, and the server
    prints a traceback; here the failure ends with the response.
    """

    def __init__(self, app: ASGIApp, secrets: list[str]) -> None:
        self.app = app
        self.secrets = secrets

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            await self.app(scope, receive, send)
            return
        started = False

        async def tracking_send(message: Message) -> None:
            nonlocal started
            if message["type"] == "http.response.start":
                started = True
            await send(message)

        try:
            await self.app(scope, receive, tracking_send)
        except Exception as exc:
            logger.error("unexpected %s: %s", type(exc).__name__, redact(str(exc), self.secrets))
            if not started:
                await error_response(to_api_error(exc), self.secrets)(scope, receive, send)
