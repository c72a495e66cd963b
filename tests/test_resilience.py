"""Retries, timeouts, circuit breaker and fallback chains of the real provider stack.

Every test drives ``build_assistant(settings).chat_model(...)`` - ChatOpenAI over the openai SDK
and httpx, wrapped by ResilientChatModel / FallbackChatModel - against a scripted
OpenAI-compatible server on loopback (:mod:`tests.fakes.upstream`). Nothing is mocked.
"""

from __future__ import annotations

import os
import time
from collections.abc import AsyncIterator, Callable
from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import AIMessageChunk, BaseMessage

from assistant.agent import Assistant, build_assistant
from assistant.config import load_settings
from assistant.errors import (
    AllProvidersFailed,
    CircuitOpenError,
    ProviderConnectionError,
    ProviderError,
    ProviderHTTPError,
    ProviderTimeout,
)
from assistant.providers import BreakerState
from tests.fakes import (
    FakeUpstream,
    closed_port,
    ok,
    slow_headers,
    status,
    stream_error_frame,
    stream_then_fail,
)
from tests.fakes.fixtures import endpoint

Build = Callable[..., Assistant]

CANARY = "sk-canary-123456789"

PROXY_VARIABLES = ("HTTP_PROXY", "HTTPS_PROXY", "ALL_PROXY")


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> None:
    """No ASSISTANT_* variable, config file, .env or proxy of the developer leaks in."""
    for key in list(os.environ):
        if key.startswith("ASSISTANT_") or key.upper() in PROXY_VARIABLES:
            monkeypatch.delenv(key)
    monkeypatch.chdir(tmp_path)


@pytest.fixture
async def build() -> AsyncIterator[Build]:
    """Build assistants whose compatible endpoints are given; close them at teardown."""
    built: list[Assistant] = []

    def _build(chains: dict[str, Any] | None = None, **endpoints: dict[str, Any]) -> Assistant:
        settings = load_settings(providers={"compatible": endpoints}, chains=chains or {})
        assistant = build_assistant(settings)
        built.append(assistant)
        return assistant

    yield _build
    for assistant in built:
        await assistant.aclose()


def texts(chunks: list[BaseMessage]) -> list[str]:
    """The non-empty text pieces of streamed chunks."""
    return [chunk.text for chunk in chunks if chunk.text]


# -- success ------------------------------------------------------------------------------------


async def test_ainvoke_returns_text_and_usage(build: Build, fake_upstream: FakeUpstream) -> None:
    fake_upstream.script(ok("Paris is the capital.", prompt_tokens=12, completion_tokens=5))
    model = build(fake=endpoint(fake_upstream)).chat_model("fake:some-model")

    answer = await model.ainvoke("What is the capital of France?")

    assert answer.text == "Paris is the capital."
    assert answer.usage_metadata is not None
    assert answer.usage_metadata["input_tokens"] == 12
    assert answer.usage_metadata["output_tokens"] == 5
    assert answer.usage_metadata["total_tokens"] == 17
    [request] = fake_upstream.requests
    assert request.body["model"] == "some-model"
    assert request.body["messages"] == [
        {"role": "user", "content": "What is the capital of France?"}
    ]
    assert not request.stream


def test_sync_invoke_returns_text_and_usage(build: Build, fake_upstream: FakeUpstream) -> None:
    fake_upstream.script(ok("sync answer", prompt_tokens=3, completion_tokens=2))
    model = build(fake=endpoint(fake_upstream)).chat_model("fake:m")

    answer = model.invoke("hi")

    assert answer.text == "sync answer"
    assert answer.usage_metadata is not None
    assert answer.usage_metadata["input_tokens"] == 3
    assert answer.usage_metadata["output_tokens"] == 2
    assert fake_upstream.request_count == 1


async def test_astream_yields_chunks_and_usage(build: Build, fake_upstream: FakeUpstream) -> None:
    fake_upstream.script(ok(chunks=["One", " two", " three"], prompt_tokens=4, completion_tokens=3))
    model = build(fake=endpoint(fake_upstream)).chat_model("fake:m")

    chunks = [chunk async for chunk in model.astream("count")]

    assert texts(chunks) == ["One", " two", " three"]
    total = chunks[0]
    for chunk in chunks[1:]:
        total = total + chunk
    assert isinstance(total, AIMessageChunk)
    assert total.usage_metadata is not None
    assert total.usage_metadata["input_tokens"] == 4
    assert total.usage_metadata["output_tokens"] == 3
    [request] = fake_upstream.requests
    assert request.stream
    assert request.body["stream_options"] == {"include_usage": True}


# -- retries ------------------------------------------------------------------------------------


async def test_5xx_is_retried_until_success(build: Build, fake_upstream: FakeUpstream) -> None:
    fake_upstream.script(status(500), status(503), ok("third time lucky"))
    model = build(fake=endpoint(fake_upstream)).chat_model("fake:m")

    answer = await model.ainvoke("hi")

    assert answer.text == "third time lucky"
    assert fake_upstream.request_count == 3


def test_sync_5xx_is_retried_until_success(build: Build, fake_upstream: FakeUpstream) -> None:
    fake_upstream.script(status(500), status(502), ok("sync lucky"))
    model = build(fake=endpoint(fake_upstream)).chat_model("fake:m")

    assert model.invoke("hi").text == "sync lucky"
    assert fake_upstream.request_count == 3


async def test_429_honours_retry_after(build: Build, fake_upstream: FakeUpstream) -> None:
    fake_upstream.script(status(429, headers={"Retry-After": "1"}), ok("after the wait"))
    # The backoff alone would wait at most backoff_max (0.05 s): only Retry-After explains 1 s.
    model = build(fake=endpoint(fake_upstream)).chat_model("fake:m")

    started = time.monotonic()
    answer = await model.ainvoke("hi")
    elapsed = time.monotonic() - started

    assert answer.text == "after the wait"
    first, second = fake_upstream.requests
    assert second.received_at - first.received_at >= 0.95
    assert elapsed >= 0.95
    assert elapsed < 5


async def test_429_with_retry_after_beyond_max_fails_at_once(
    build: Build, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.script(status(429, headers={"Retry-After": "120"}), ok("never sent"))
    model = build(fake=endpoint(fake_upstream, retry_after_max=5)).chat_model("fake:m")

    started = time.monotonic()
    with pytest.raises(ProviderHTTPError) as caught:
        await model.ainvoke("hi")

    assert caught.value.status_code == 429
    assert caught.value.retry_after == 120
    assert caught.value.transient
    assert time.monotonic() - started < 2
    assert fake_upstream.request_count == 1


@pytest.mark.parametrize("code", [400, 401, 403, 404, 422])
async def test_client_errors_are_not_retried(
    build: Build, fake_upstream: FakeUpstream, code: int
) -> None:
    fake_upstream.script(status(code, message=f"nope {code}"), ok("never sent"))
    model = build(fake=endpoint(fake_upstream)).chat_model("fake:m")

    with pytest.raises(ProviderHTTPError) as caught:
        await model.ainvoke("hi")

    assert caught.value.status_code == code
    assert not caught.value.transient
    assert f"nope {code}" in str(caught.value)
    assert str(caught.value).startswith("fake: ")
    assert fake_upstream.request_count == 1


def test_sync_client_error_is_not_retried(build: Build, fake_upstream: FakeUpstream) -> None:
    fake_upstream.always(status(401, message="bad key"))
    model = build(fake=endpoint(fake_upstream)).chat_model("fake:m")

    with pytest.raises(ProviderHTTPError) as caught:
        model.invoke("hi")

    assert caught.value.status_code == 401
    assert fake_upstream.request_count == 1


async def test_timeout_after_every_attempt(build: Build, fake_upstream: FakeUpstream) -> None:
    fake_upstream.always(slow_headers(5))
    model = build(fake=endpoint(fake_upstream, timeout=0.3)).chat_model("fake:m")

    started = time.monotonic()
    with pytest.raises(ProviderTimeout):
        await model.ainvoke("hi")
    elapsed = time.monotonic() - started

    assert fake_upstream.wait_for_requests(3) == 3
    assert 0.85 <= elapsed < 4  # three 0.3 s timeouts plus short backoffs, not 5 s sleeps


def test_sync_timeout_then_success(build: Build, fake_upstream: FakeUpstream) -> None:
    fake_upstream.script(slow_headers(5), ok("fast enough"))
    model = build(fake=endpoint(fake_upstream, timeout=0.3)).chat_model("fake:m")

    assert model.invoke("hi").text == "fast enough"
    assert fake_upstream.request_count == 2


async def test_connection_refused(build: Build) -> None:
    model = build(fake=endpoint(f"http://127.0.0.1:{closed_port()}/v1")).chat_model("fake:m")

    with pytest.raises(ProviderConnectionError) as caught:
        await model.ainvoke("hi")

    assert caught.value.transient
    assert caught.value.provider == "fake"


@pytest.mark.parametrize("max_retries", [0, 1, 3])
async def test_sdk_retries_are_off(
    build: Build, fake_upstream: FakeUpstream, max_retries: int
) -> None:
    """The openai SDK retries twice by default; only our own retries may reach the upstream."""
    fake_upstream.always(status(500))
    settings = endpoint(fake_upstream, max_retries=max_retries, breaker_threshold=10)
    model = build(fake=settings).chat_model("fake:m")

    with pytest.raises(ProviderHTTPError) as caught:
        await model.ainvoke("hi")

    assert caught.value.status_code == 500
    assert fake_upstream.request_count == max_retries + 1


def test_sync_sdk_retries_are_off(build: Build, fake_upstream: FakeUpstream) -> None:
    fake_upstream.always(status(500))
    model = build(fake=endpoint(fake_upstream, max_retries=0)).chat_model("fake:m")

    with pytest.raises(ProviderHTTPError):
        model.invoke("hi")

    assert fake_upstream.request_count == 1


# -- circuit breaker ----------------------------------------------------------------------------


async def test_breaker_opens_after_threshold(build: Build, fake_upstream: FakeUpstream) -> None:
    fake_upstream.always(status(500))
    assistant = build(fake=endpoint(fake_upstream, max_retries=0, breaker_threshold=3))
    model = assistant.chat_model("fake:m")

    for _ in range(3):
        with pytest.raises(ProviderHTTPError):
            await model.ainvoke("hi")
    assert fake_upstream.request_count == 3
    assert assistant.registry.breaker("fake").state is BreakerState.OPEN

    with pytest.raises(CircuitOpenError) as caught:
        await model.ainvoke("hi")

    assert fake_upstream.request_count == 3
    assert caught.value.transient
    assert 0 < caught.value.retry_in <= 60
    # Another model of the same provider shares its breaker.
    with pytest.raises(CircuitOpenError):
        await assistant.chat_model("fake:other-model").ainvoke("hi")
    assert fake_upstream.request_count == 3


async def test_breaker_counts_retried_attempts(build: Build, fake_upstream: FakeUpstream) -> None:
    """One call with 3 failing attempts reaches a threshold of 3: the next call fails fast."""
    fake_upstream.always(status(500))
    model = build(fake=endpoint(fake_upstream, max_retries=2, breaker_threshold=3)).chat_model(
        "fake:m"
    )

    with pytest.raises(ProviderHTTPError):
        await model.ainvoke("hi")
    assert fake_upstream.request_count == 3

    with pytest.raises(CircuitOpenError):
        await model.ainvoke("hi")
    assert fake_upstream.request_count == 3


async def test_breaker_ignores_client_errors_and_resets_on_success(
    build: Build, fake_upstream: FakeUpstream
) -> None:
    assistant = build(fake=endpoint(fake_upstream, max_retries=0, breaker_threshold=2))
    model = assistant.chat_model("fake:m")

    fake_upstream.script(status(500), ok("fine"), status(500), status(400), status(400))
    with pytest.raises(ProviderHTTPError):
        await model.ainvoke("hi")  # 1 transient failure
    assert (await model.ainvoke("hi")).text == "fine"  # success: count back to 0
    with pytest.raises(ProviderHTTPError):
        await model.ainvoke("hi")  # 1 transient failure
    for _ in range(2):
        with pytest.raises(ProviderHTTPError) as caught:
            await model.ainvoke("hi")  # 400s say nothing about health
        assert caught.value.status_code == 400

    assert assistant.registry.breaker("fake").state is BreakerState.CLOSED
    assert fake_upstream.request_count == 5


def test_sync_breaker_fails_fast(build: Build, fake_upstream: FakeUpstream) -> None:
    fake_upstream.always(status(503))
    model = build(fake=endpoint(fake_upstream, max_retries=0, breaker_threshold=2)).chat_model(
        "fake:m"
    )

    for _ in range(2):
        with pytest.raises(ProviderHTTPError):
            model.invoke("hi")
    with pytest.raises(CircuitOpenError):
        model.invoke("hi")
    with pytest.raises(CircuitOpenError):
        list(model.stream("hi"))

    assert fake_upstream.request_count == 2


# -- streaming ----------------------------------------------------------------------------------


async def test_stream_retries_before_first_chunk(build: Build, fake_upstream: FakeUpstream) -> None:
    fake_upstream.script(status(500), ok(chunks=["a", "b", "c"]))
    model = build(fake=endpoint(fake_upstream)).chat_model("fake:m")

    chunks = [chunk async for chunk in model.astream("hi")]

    assert texts(chunks) == ["a", "b", "c"]
    assert fake_upstream.request_count == 2
    assert all(request.stream for request in fake_upstream.requests)


def test_sync_stream_retries_before_first_chunk(build: Build, fake_upstream: FakeUpstream) -> None:
    fake_upstream.script(status(502), status(429, headers={"retry-after-ms": "10"}), ok("x y"))
    model = build(fake=endpoint(fake_upstream)).chat_model("fake:m")

    assert texts(list(model.stream("hi"))) == ["x ", "y"]
    assert fake_upstream.request_count == 3


async def test_stream_failure_after_chunks_is_raised_not_retried(
    build: Build, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.script(stream_then_fail(3), ok("must not be replayed"))
    model = build(fake=endpoint(fake_upstream)).chat_model("fake:m")

    received: list[str] = []
    with pytest.raises(ProviderError) as caught:
        async for chunk in model.astream("hi"):
            if chunk.text:
                received.append(chunk.text)

    assert received == ["part0 ", "part1 ", "part2 "]
    assert isinstance(caught.value, ProviderConnectionError)
    assert fake_upstream.request_count == 1
    assert fake_upstream.pending == 1  # the ok() was never asked for


async def test_stream_failure_after_only_the_role_chunk_is_retried(
    build: Build, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.script(stream_then_fail(0), ok("second try"))
    model = build(fake=endpoint(fake_upstream)).chat_model("fake:m")

    text = "".join([chunk.text async for chunk in model.astream("hi")])

    assert text == "second try"
    assert fake_upstream.request_count == 2


def test_sync_stream_failure_after_chunks_is_raised(
    build: Build, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.script(stream_then_fail(2), ok("must not be replayed"))
    model = build(fake=endpoint(fake_upstream)).chat_model("fake:m")

    received: list[str] = []
    with pytest.raises(ProviderError):
        for chunk in model.stream("hi"):
            if chunk.text:
                received.append(chunk.text)

    assert received == ["part0 ", "part1 "]
    assert fake_upstream.request_count == 1


async def test_stream_client_error_is_not_retried(
    build: Build, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.script(status(400, message="bad stream request"), ok("never"))
    model = build(fake=endpoint(fake_upstream)).chat_model("fake:m")

    with pytest.raises(ProviderHTTPError) as caught:
        async for _ in model.astream("hi"):
            pass

    assert caught.value.status_code == 400
    assert fake_upstream.request_count == 1


async def test_stream_error_frame_before_first_chunk_is_retried(
    build: Build, fake_upstream: FakeUpstream
) -> None:
    """A `data: {"error": ...}` frame in a 200 stream is a provider failure, not a bug."""
    fake_upstream.script(stream_error_frame(0, "overloaded", code=502), ok(chunks=["ok"]))
    model = build(fake=endpoint(fake_upstream)).chat_model("fake:m")

    chunks = [chunk async for chunk in model.astream("hi")]

    assert texts(chunks) == ["ok"]
    assert fake_upstream.request_count == 2


async def test_stream_error_frame_with_client_error_code_is_not_retried(
    build: Build, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.script(stream_error_frame(0, "prompt too long", code=400), ok("never"))
    model = build(fake=endpoint(fake_upstream)).chat_model("fake:m")

    with pytest.raises(ProviderHTTPError) as caught:
        async for _ in model.astream("hi"):
            pass

    assert caught.value.status_code == 400
    assert "prompt too long" in str(caught.value)
    assert fake_upstream.request_count == 1


async def test_stream_error_frame_after_chunks_is_a_provider_error(
    build: Build, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.script(stream_error_frame(2, f"provider disconnected {CANARY}"), ok("never"))
    model = build(fake=endpoint(fake_upstream, api_key=CANARY)).chat_model("fake:m")

    received: list[str] = []
    with pytest.raises(ProviderError) as caught:
        async for chunk in model.astream("hi"):
            if chunk.text:
                received.append(chunk.text)

    assert received == ["part0 ", "part1 "]
    assert "provider disconnected" in str(caught.value)
    assert CANARY not in str(caught.value)
    assert caught.value.transient
    assert fake_upstream.request_count == 1


def test_sync_stream_error_frame_before_first_chunk_is_retried(
    build: Build, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.script(stream_error_frame(0), ok("x"))
    model = build(fake=endpoint(fake_upstream)).chat_model("fake:m")

    assert texts(list(model.stream("hi"))) == ["x"]
    assert fake_upstream.request_count == 2


# -- fallback chains ----------------------------------------------------------------------------


def chain_assistant(build: Build, first: FakeUpstream, second: FakeUpstream) -> Assistant:
    return build(
        chains={"safe": ["fake:m", "fake2:m"]},
        fake=endpoint(first, max_retries=1),
        fake2=endpoint(second, max_retries=1),
    )


async def test_chain_falls_back_on_transient_failure(
    build: Build, fake_upstream: FakeUpstream, fake_upstream2: FakeUpstream
) -> None:
    fake_upstream.always(status(500))
    fake_upstream2.script(ok("from the second"))
    model = chain_assistant(build, fake_upstream, fake_upstream2).chat_model("safe")

    answer = await model.ainvoke("hi")

    assert answer.text == "from the second"
    assert fake_upstream.request_count == 2  # its own retries first
    assert fake_upstream2.request_count == 1


def test_sync_chain_falls_back_on_timeout(
    build: Build, fake_upstream: FakeUpstream, fake_upstream2: FakeUpstream
) -> None:
    fake_upstream.always(slow_headers(5))
    fake_upstream2.script(ok("second, in time"))
    model = build(
        chains={"safe": "fake:m -> fake2:m"},
        fake=endpoint(fake_upstream, max_retries=0, timeout=0.3),
        fake2=endpoint(fake_upstream2),
    ).chat_model("safe")

    assert model.invoke("hi").text == "second, in time"
    assert fake_upstream2.request_count == 1


async def test_chain_does_not_fall_back_on_client_error(
    build: Build, fake_upstream: FakeUpstream, fake_upstream2: FakeUpstream
) -> None:
    fake_upstream.script(status(400, message="invalid request"))
    model = chain_assistant(build, fake_upstream, fake_upstream2).chat_model("safe")

    with pytest.raises(ProviderHTTPError) as caught:
        await model.ainvoke("hi")

    assert caught.value.status_code == 400
    assert not isinstance(caught.value, AllProvidersFailed)
    assert fake_upstream.request_count == 1
    assert fake_upstream2.request_count == 0


async def test_chain_all_failed_carries_every_failure(
    build: Build, fake_upstream: FakeUpstream, fake_upstream2: FakeUpstream
) -> None:
    fake_upstream.always(status(500, message="first is down"))
    fake_upstream2.always(status(503, message="second is down"))
    model = chain_assistant(build, fake_upstream, fake_upstream2).chat_model("safe")

    with pytest.raises(AllProvidersFailed) as caught:
        await model.ainvoke("hi")

    error = caught.value
    assert len(error.failures) == 2
    assert [f.provider for f in error.failures] == ["fake", "fake2"]
    assert [getattr(f, "status_code", None) for f in error.failures] == [500, 503]
    message = str(error)
    assert message.startswith("safe: ")
    assert "fake: HTTP 500: first is down" in message
    assert "fake2: HTTP 503: second is down" in message
    assert error.transient
    assert fake_upstream.request_count == 2
    assert fake_upstream2.request_count == 2


def test_sync_chain_all_failed(
    build: Build, fake_upstream: FakeUpstream, fake_upstream2: FakeUpstream
) -> None:
    fake_upstream.always(status(500))
    fake_upstream2.always(status(500))
    model = chain_assistant(build, fake_upstream, fake_upstream2).chat_model("safe")

    with pytest.raises(AllProvidersFailed) as caught:
        model.invoke("hi")

    assert len(caught.value.failures) == 2


async def test_chain_stream_falls_back_before_first_chunk(
    build: Build, fake_upstream: FakeUpstream, fake_upstream2: FakeUpstream
) -> None:
    fake_upstream.always(status(500))
    fake_upstream2.script(ok(chunks=["second ", "stream"]))
    model = chain_assistant(build, fake_upstream, fake_upstream2).chat_model("safe")

    chunks = [chunk async for chunk in model.astream("hi")]

    assert texts(chunks) == ["second ", "stream"]
    assert fake_upstream.request_count == 2
    assert fake_upstream2.request_count == 1


async def test_chain_stream_falls_back_on_error_frame(
    build: Build, fake_upstream: FakeUpstream, fake_upstream2: FakeUpstream
) -> None:
    fake_upstream.always(stream_error_frame(0, "no capacity"))
    fake_upstream2.script(ok(chunks=["rescued"]))
    model = chain_assistant(build, fake_upstream, fake_upstream2).chat_model("safe")

    chunks = [chunk async for chunk in model.astream("hi")]

    assert texts(chunks) == ["rescued"]
    assert fake_upstream.request_count == 2


async def test_chain_stream_all_failed(
    build: Build, fake_upstream: FakeUpstream, fake_upstream2: FakeUpstream
) -> None:
    fake_upstream.always(status(500))
    fake_upstream2.always(status(429))
    model = chain_assistant(build, fake_upstream, fake_upstream2).chat_model("safe")

    with pytest.raises(AllProvidersFailed) as caught:
        async for _ in model.astream("hi"):
            pass

    assert [f.provider for f in caught.value.failures] == ["fake", "fake2"]


async def test_chain_stream_failure_after_first_chunk_is_raised(
    build: Build, fake_upstream: FakeUpstream, fake_upstream2: FakeUpstream
) -> None:
    fake_upstream.script(stream_then_fail(2))
    fake_upstream2.always(ok("must not be used"))
    model = chain_assistant(build, fake_upstream, fake_upstream2).chat_model("safe")

    received: list[str] = []
    with pytest.raises(ProviderError) as caught:
        async for chunk in model.astream("hi"):
            if chunk.text:
                received.append(chunk.text)

    assert received == ["part0 ", "part1 "]
    assert not isinstance(caught.value, AllProvidersFailed)
    assert fake_upstream.request_count == 1
    assert fake_upstream2.request_count == 0


def test_sync_chain_stream_failure_after_first_chunk_is_raised(
    build: Build, fake_upstream: FakeUpstream, fake_upstream2: FakeUpstream
) -> None:
    fake_upstream.script(stream_then_fail(1))
    model = chain_assistant(build, fake_upstream, fake_upstream2).chat_model("safe")

    received: list[str] = []
    with pytest.raises(ProviderError) as caught:
        for chunk in model.stream("hi"):
            if chunk.text:
                received.append(chunk.text)

    assert received == ["part0 "]
    assert not isinstance(caught.value, AllProvidersFailed)
    assert fake_upstream2.request_count == 0


async def test_chain_skips_an_open_breaker(
    build: Build, fake_upstream: FakeUpstream, fake_upstream2: FakeUpstream
) -> None:
    fake_upstream.always(status(500))
    fake_upstream2.always(ok("second"))
    assistant = build(
        chains={"safe": ["fake:m", "fake2:m"]},
        fake=endpoint(fake_upstream, max_retries=0, breaker_threshold=1),
        fake2=endpoint(fake_upstream2),
    )
    model = assistant.chat_model("safe")

    assert (await model.ainvoke("hi")).text == "second"  # opens fake's breaker
    assert (await model.ainvoke("hi")).text == "second"  # fake is skipped, not called

    assert fake_upstream.request_count == 1
    assert fake_upstream2.request_count == 2


# -- secrets ------------------------------------------------------------------------------------


async def test_api_key_echoed_by_upstream_is_redacted(
    build: Build, fake_upstream: FakeUpstream
) -> None:
    fake_upstream.always(
        status(401, message=f"Incorrect API key provided: {CANARY}. Check your key.")
    )
    model = build(fake=endpoint(fake_upstream, api_key=CANARY)).chat_model("fake:m")

    with pytest.raises(ProviderHTTPError) as caught:
        await model.ainvoke("hi")

    assert caught.value.status_code == 401
    assert CANARY not in str(caught.value)
    assert CANARY not in repr(caught.value)
    assert "Incorrect API key provided" in str(caught.value)
    # The key was really sent, so the redaction above is what kept it out.
    [request] = fake_upstream.requests
    assert request.headers["authorization"] == f"Bearer {CANARY}"


async def test_api_key_is_redacted_from_chain_failures(
    build: Build, fake_upstream: FakeUpstream, fake_upstream2: FakeUpstream
) -> None:
    fake_upstream.always(status(500, message=f"internal error for key {CANARY}"))
    fake_upstream2.always(status(503, body={"error": {"message": f"down; key={CANARY}"}}))
    model = build(
        chains={"safe": ["fake:m", "fake2:m"]},
        fake=endpoint(fake_upstream, api_key=CANARY, max_retries=0),
        fake2=endpoint(fake_upstream2, api_key=CANARY, max_retries=0),
    ).chat_model("safe")

    with pytest.raises(AllProvidersFailed) as caught:
        await model.ainvoke("hi")

    assert CANARY not in str(caught.value)
    assert all(CANARY not in str(failure) for failure in caught.value.failures)
    assert "internal error for key ***" in str(caught.value)
