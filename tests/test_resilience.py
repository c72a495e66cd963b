"""Retries, timeouts, the circuit breaker and streaming of the real provider stack.

Every test drives ``build_assistant(settings).chat_model(...)`` - ChatOpenAI over the openai SDK
and httpx, wrapped by ResilientChatModel / FallbackChatModel - against a scripted
OpenAI-compatible server on loopback (:mod:`tests.fakes.upstream`). Nothing is mocked.
"""

from __future__ import annotations

import time

import pytest
from langchain_core.messages import AIMessageChunk

from assistant.errors import (
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
from tests.fakes.fixtures import Build, endpoint, texts

CANARY = "sk-canary-123456789"

pytestmark = pytest.mark.usefixtures("no_proxies")


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
