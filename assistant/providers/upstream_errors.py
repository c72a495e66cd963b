"""Translate SDK and transport exceptions into the assistant's :class:`ProviderError` tree.

The openai and anthropic SDKs share one shape (``APIStatusError`` with ``status_code`` and
``response``, ``APITimeoutError``, ``APIConnectionError``), so one mapper serves both, and raw
httpx errors too. An error the upstream reports inside a 200 answer (an SSE
``data: {"error": ...}`` frame, raised by the SDK as a plain ``APIError``) is a provider failure
as well, and so is an answer the SDK cannot parse (a body or SSE frame that is not JSON).
Anything else is returned as ``None``: a bug, never retried.
"""

from __future__ import annotations

import email.utils
import json
import time
from collections.abc import Iterable, Mapping
from typing import Any

import httpx

from assistant.errors import (
    ProviderConnectionError,
    ProviderError,
    ProviderHTTPError,
    ProviderTimeout,
)
from assistant.log import redact

_MAX_MESSAGE = 300


def parse_retry_after(
    headers: Mapping[str, str] | None, *, now: float | None = None
) -> float | None:
    """Seconds to wait from ``retry-after-ms`` or ``Retry-After`` (seconds or HTTP date)."""
    if not headers:
        return None
    lowered = {key.lower(): value for key, value in headers.items()}
    millis = lowered.get("retry-after-ms")
    if millis:
        try:
            return max(0.0, float(millis) / 1000)
        except ValueError:
            pass
    value = lowered.get("retry-after")
    if not value:
        return None
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    try:
        when = email.utils.parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    return max(0.0, when.timestamp() - (time.time() if now is None else now))


def _upstream_message(exc: Any) -> str:
    body = getattr(exc, "body", None)
    if isinstance(body, dict):
        error = body.get("error", body)
        if isinstance(error, dict) and isinstance(error.get("message"), str):
            return str(error["message"])
    return str(getattr(exc, "message", None) or exc)


def _class_names(exc: BaseException) -> set[str]:
    return {cls.__name__ for cls in type(exc).__mro__}


def map_exception(
    provider: str, exc: BaseException, secrets: Iterable[str] = ()
) -> ProviderError | None:
    """The :class:`ProviderError` for an SDK/transport failure, or ``None`` if it is a bug."""
    if isinstance(exc, ProviderError):
        return exc
    names = _class_names(exc)
    secrets = list(secrets)

    def clean(text: str) -> str:
        return redact(text, secrets)[:_MAX_MESSAGE]

    if "APIStatusError" in names:
        status = int(getattr(exc, "status_code", 0) or 0)
        response = getattr(exc, "response", None)
        headers = dict(response.headers) if response is not None else None
        return ProviderHTTPError(
            provider, status, clean(_upstream_message(exc)), retry_after=parse_retry_after(headers)
        )
    if "APITimeoutError" in names or isinstance(exc, httpx.TimeoutException | TimeoutError):
        return ProviderTimeout(provider, "request timed out")
    if "APIConnectionError" in names or isinstance(exc, httpx.TransportError | ConnectionError):
        cause = exc.__cause__ or exc
        return ProviderConnectionError(
            provider, clean(f"connection failed: {type(cause).__name__}")
        )
    if isinstance(exc, httpx.HTTPStatusError):
        status = exc.response.status_code
        return ProviderHTTPError(
            provider,
            status,
            clean(exc.response.reason_phrase),
            retry_after=parse_retry_after(dict(exc.response.headers)),
        )
    if "APIError" in names:
        # The upstream reported an error inside a 200 answer (a `data: {"error": ...}` frame
        # of a stream): a provider failure, not a bug. Its `code` may carry an HTTP status.
        message = clean(_upstream_message(exc))
        code = _status_code(getattr(exc, "body", None))
        if code is not None:
            return ProviderHTTPError(provider, code, message)
        return ProviderError(provider, f"upstream error: {message}")
    if isinstance(exc, json.JSONDecodeError):
        # The SDK could not parse the upstream's answer (a body or an SSE frame that is not
        # JSON): the upstream (or a proxy before it) is broken, as with a 502 - not our bug.
        return ProviderError(provider, clean(f"malformed answer (not JSON): {exc.msg}"))
    return None


def _status_code(body: object) -> int | None:
    """The HTTP status an error body's ``code`` names, if it names one."""
    if not isinstance(body, dict):
        return None
    error = body.get("error", body)
    code = error.get("code") if isinstance(error, dict) else None
    if isinstance(code, str) and code.isdigit():
        code = int(code)
    if isinstance(code, int) and not isinstance(code, bool) and 400 <= code <= 599:
        return code
    return None
