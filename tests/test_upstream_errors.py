"""Translation of SDK and transport exceptions into the assistant's error tree."""

from __future__ import annotations

import email.utils
import json
from datetime import UTC, datetime
from typing import Any

import anthropic
import httpx
import openai
import pytest

from assistant.errors import (
    ProviderConnectionError,
    ProviderError,
    ProviderHTTPError,
    ProviderTimeout,
)
from assistant.providers.upstream_errors import map_exception, parse_retry_after

URL = "http://127.0.0.1:9/v1/chat/completions"
SECRET = "sk-canary-upstream-0123456789"


def request() -> httpx.Request:
    return httpx.Request("POST", URL)


def response(code: int, headers: dict[str, str] | None = None, body: Any = None) -> httpx.Response:
    return httpx.Response(code, headers=headers or {}, json=body, request=request())


def openai_status_error(
    cls: type[openai.APIStatusError],
    code: int,
    message: str = "upstream says no",
    headers: dict[str, str] | None = None,
) -> openai.APIStatusError:
    body = {"error": {"message": message, "type": "x", "param": None, "code": None}}
    return cls(
        f"Error code: {code} - {body}",
        response=response(code, headers, body),
        body=body["error"],
    )


# -- parse_retry_after --------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("headers", "expected"),
    [
        ({"Retry-After": "5"}, 5.0),
        ({"retry-after": "1.5"}, 1.5),
        ({"RETRY-AFTER": "0"}, 0.0),
        ({"Retry-After": "-3"}, 0.0),
        ({"retry-after-ms": "250"}, 0.25),
        ({"Retry-After-Ms": "1500", "Retry-After": "9"}, 1.5),  # milliseconds win
        ({"retry-after-ms": "soon", "Retry-After": "4"}, 4.0),  # bad ms falls back
        ({"retry-after-ms": "-10"}, 0.0),
    ],
)
def test_parse_retry_after_seconds_and_milliseconds(
    headers: dict[str, str], expected: float
) -> None:
    assert parse_retry_after(headers) == pytest.approx(expected)


@pytest.mark.parametrize(
    "headers",
    [
        None,
        {},
        {"Content-Type": "application/json"},
        {"Retry-After": ""},
        {"Retry-After": "soon"},
        {"Retry-After": "Thursday at noon"},
        {"Retry-After": "1e999x"},
    ],
)
def test_parse_retry_after_garbage_is_none(headers: dict[str, str] | None) -> None:
    assert parse_retry_after(headers) is None


def test_parse_retry_after_http_date() -> None:
    now = 1_700_000_000.0
    later = email.utils.format_datetime(datetime.fromtimestamp(now + 42, UTC), usegmt=True)

    assert parse_retry_after({"Retry-After": later}, now=now) == pytest.approx(42.0)


def test_parse_retry_after_past_http_date_is_zero() -> None:
    now = 1_700_000_000.0
    earlier = email.utils.format_datetime(datetime.fromtimestamp(now - 600, UTC), usegmt=True)

    assert parse_retry_after({"Retry-After": earlier}, now=now) == 0.0


def test_parse_retry_after_http_date_defaults_to_wall_clock() -> None:
    far = email.utils.format_datetime(datetime(2999, 1, 1, tzinfo=UTC), usegmt=True)

    assert parse_retry_after({"Retry-After": far}) > 365 * 24 * 3600


def test_parse_retry_after_reads_httpx_headers() -> None:
    assert parse_retry_after(httpx.Headers({"Retry-After": "7"})) == 7.0


# -- map_exception: SDK status errors -----------------------------------------------------------


@pytest.mark.parametrize(
    ("cls", "code", "transient"),
    [
        (openai.BadRequestError, 400, False),
        (openai.AuthenticationError, 401, False),
        (openai.PermissionDeniedError, 403, False),
        (openai.NotFoundError, 404, False),
        (openai.ConflictError, 409, True),
        (openai.UnprocessableEntityError, 422, False),
        (openai.RateLimitError, 429, True),
        (openai.InternalServerError, 500, True),
        (openai.InternalServerError, 503, True),
        (openai.APIStatusError, 418, False),
    ],
)
def test_openai_status_errors(cls: type[openai.APIStatusError], code: int, transient: bool) -> None:
    mapped = map_exception("openai", openai_status_error(cls, code, f"problem {code}"))

    assert isinstance(mapped, ProviderHTTPError)
    assert mapped.status_code == code
    assert mapped.transient is transient
    assert mapped.provider == "openai"
    assert str(mapped) == f"openai: HTTP {code}: problem {code}"
    assert mapped.retry_after is None


def test_openai_rate_limit_carries_retry_after() -> None:
    exc = openai_status_error(openai.RateLimitError, 429, headers={"Retry-After": "12"})

    mapped = map_exception("openrouter", exc)

    assert isinstance(mapped, ProviderHTTPError)
    assert mapped.retry_after == 12.0


def test_openai_status_error_without_json_body_uses_sdk_message() -> None:
    exc = openai.InternalServerError(
        "Error code: 502 - <html>bad gateway</html>",
        response=response(502),
        body=None,
    )

    mapped = map_exception("openai", exc)

    assert isinstance(mapped, ProviderHTTPError)
    assert mapped.status_code == 502
    assert "bad gateway" in str(mapped)


def test_secrets_are_redacted_and_messages_bounded() -> None:
    exc = openai_status_error(
        openai.AuthenticationError, 401, f"Incorrect API key provided: {SECRET}. " + "x" * 1000
    )

    mapped = map_exception("openai", exc, secrets=[SECRET])

    assert mapped is not None
    assert SECRET not in str(mapped)
    assert "Incorrect API key provided: ***" in str(mapped)
    assert len(mapped.message) < 400


def test_anthropic_errors_share_the_shape() -> None:
    body = {"type": "error", "error": {"type": "overloaded_error", "message": "Overloaded"}}
    status_error = anthropic.InternalServerError(
        "Overloaded",
        response=response(529, {"retry-after": "3"}, body),
        body=body,
    )

    mapped = map_exception("anthropic", status_error)

    assert isinstance(mapped, ProviderHTTPError)
    assert mapped.status_code == 529
    assert mapped.transient
    assert mapped.retry_after == 3.0
    assert "Overloaded" in str(mapped)
    assert isinstance(
        map_exception("anthropic", anthropic.APITimeoutError(request=request())),
        ProviderTimeout,
    )


# -- map_exception: timeouts and connections ----------------------------------------------------


def test_openai_timeout() -> None:
    mapped = map_exception("openai", openai.APITimeoutError(request=request()))

    assert isinstance(mapped, ProviderTimeout)
    assert mapped.transient
    assert str(mapped) == "openai: request timed out"


def test_openai_connection_error_names_the_cause() -> None:
    exc = openai.APIConnectionError(request=request())
    exc.__cause__ = httpx.ConnectError("[Errno 111] Connection refused")

    mapped = map_exception("ollama", exc)

    assert isinstance(mapped, ProviderConnectionError)
    assert mapped.transient
    assert str(mapped) == "ollama: connection failed: ConnectError"


@pytest.mark.parametrize(
    "exc",
    [
        httpx.ReadTimeout("read timed out", request=request()),
        httpx.ConnectTimeout("connect timed out", request=request()),
        httpx.PoolTimeout("pool timed out", request=request()),
        TimeoutError("timed out"),
    ],
)
def test_raw_timeouts(exc: BaseException) -> None:
    assert isinstance(map_exception("p", exc), ProviderTimeout)


@pytest.mark.parametrize(
    "exc",
    [
        httpx.ConnectError("refused", request=request()),
        httpx.RemoteProtocolError("peer closed connection", request=request()),
        httpx.ReadError("reset", request=request()),
        ConnectionResetError("reset by peer"),
        ConnectionRefusedError("refused"),
    ],
)
def test_raw_connection_errors(exc: BaseException) -> None:
    mapped = map_exception("p", exc)

    assert isinstance(mapped, ProviderConnectionError)
    assert str(mapped) == f"p: connection failed: {type(exc).__name__}"


def test_httpx_status_error() -> None:
    exc = httpx.HTTPStatusError(
        "server error",
        request=request(),
        response=response(503, {"Retry-After": "2"}),
    )

    mapped = map_exception("p", exc)

    assert isinstance(mapped, ProviderHTTPError)
    assert mapped.status_code == 503
    assert mapped.retry_after == 2.0
    assert "Service Unavailable" in str(mapped)


# -- map_exception: in-band stream errors -------------------------------------------------------


def test_error_frame_without_status_is_a_transient_provider_error() -> None:
    exc = openai.APIError(
        f"provider disconnected {SECRET}",
        request(),
        body={"message": f"provider disconnected {SECRET}", "code": "server_error"},
    )

    mapped = map_exception("openrouter", exc, secrets=[SECRET])

    assert type(mapped) is ProviderError
    assert mapped.transient
    assert "provider disconnected ***" in str(mapped)
    assert SECRET not in str(mapped)


@pytest.mark.parametrize(("code", "transient"), [(502, True), ("429", True), (400, False)])
def test_error_frame_with_status_code(code: int | str, transient: bool) -> None:
    exc = openai.APIError("boom", request(), body={"message": "boom", "code": code})

    mapped = map_exception("openrouter", exc)

    assert isinstance(mapped, ProviderHTTPError)
    assert mapped.status_code == int(code)
    assert mapped.transient is transient


def test_an_answer_that_is_not_json_is_a_transient_provider_error() -> None:
    try:
        json.loads('{"id": "chatcmpl-1", "choices": [{')
    except json.JSONDecodeError as exc:
        mapped = map_exception("gw", exc)

    assert type(mapped) is ProviderError
    assert mapped.transient
    assert str(mapped).startswith("gw: malformed answer (not JSON): ")


# -- map_exception: everything else -------------------------------------------------------------


def test_provider_errors_pass_through_unchanged() -> None:
    original = ProviderTimeout("x", "request timed out")

    assert map_exception("other", original) is original


@pytest.mark.parametrize(
    "exc",
    [
        ValueError("bad value"),
        KeyError("missing"),
        TypeError("wrong type"),
        RuntimeError("bug"),
        ZeroDivisionError("division by zero"),
        openai.OpenAIError("missing api key"),
    ],
)
def test_unknown_exceptions_are_bugs(exc: BaseException) -> None:
    assert map_exception("p", exc) is None
