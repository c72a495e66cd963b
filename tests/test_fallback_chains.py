"""Fallback chains of the real provider stack, and keys kept out of their errors.

Every test drives ``build_assistant(settings).chat_model(...)`` - ChatOpenAI over the openai SDK
and httpx, wrapped by ResilientChatModel / FallbackChatModel - against a scripted
OpenAI-compatible server on loopback (:mod:`tests.fakes.upstream`). Nothing is mocked.
"""

from __future__ import annotations

import pytest

from assistant.agent import Assistant
from assistant.errors import (
    AllProvidersFailed,
    ProviderError,
    ProviderHTTPError,
)
from tests.fakes import (
    FakeUpstream,
    ok,
    slow_headers,
    status,
    stream_error_frame,
    stream_then_fail,
)
from tests.fakes.fixtures import Build, endpoint, texts

CANARY = "sk-canary-123456789"

pytestmark = pytest.mark.usefixtures("no_proxies")


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
