"""Upstream faults through the real API: a served gateway in front of fake upstreams.

Each test scripts the primary upstream (``flaky:m``) with a fault and calls the gateway as a
client would (the ``openai`` SDK or httpx), then asserts what the API documents: a retry that
honours ``Retry-After``, a fallback to ``backup:m`` on transient failures before the first
token, an OpenAI-shaped error (a status before the first byte, an error frame and ``[DONE]``
after it), never a hang, a 500 or a traceback; and no text lost or sent twice.
"""

from __future__ import annotations

import json
import time

import httpx
import openai
import pytest

from tests.fakes.upstream import (
    malformed_sse,
    ok,
    reset_mid_stream,
    slow_headers,
    split_utf8,
    status,
    trickle,
)
from tests.faults.conftest import Gateway
from tests.faults.support import assert_openai_error, chat_body, stream_chat
from tests.scoreboard import Figures

pytestmark = pytest.mark.slow


def sdk(gateway: Gateway) -> openai.OpenAI:
    """The official client, its own retries off (the gateway's are under test)."""
    return openai.OpenAI(base_url=f"{gateway.url}/v1", api_key="unused", max_retries=0, timeout=20)


def post(gateway: Gateway, body: dict[str, object], timeout: float = 20) -> httpx.Response:
    return httpx.post(f"{gateway.url}/v1/chat/completions", json=body, timeout=timeout)


# -- 429 with Retry-After -----------------------------------------------------------------------


@pytest.mark.scoreboard("fault", "upstream 429 with Retry-After")
def test_429_is_retried_after_the_delay_it_asks_for(gateway: Gateway, scoreboard: Figures) -> None:
    gateway.primary.script(status(429, headers={"Retry-After": "1"}), ok("after the wait"))

    answer = sdk(gateway).chat.completions.create(
        model="flaky:m", messages=[{"role": "user", "content": "hi"}]
    )

    assert answer.choices[0].message.content == "after the wait"
    first, second = gateway.primary.requests
    waited = second.received_at - first.received_at
    assert 0.95 <= waited < 3.0, f"retried after {waited:.2f}s, not after Retry-After: 1"
    assert gateway.backup.request_count == 0
    scoreboard.record(injected=1, retried=1, waited_s=round(waited, 2), survived=1)


@pytest.mark.scoreboard("fault", "upstream 429 with a Retry-After too long to wait")
def test_429_asking_too_long_a_wait_falls_back_at_once(
    gateway: Gateway, scoreboard: Figures
) -> None:
    gateway.primary.always(status(429, headers={"Retry-After": "60"}))
    gateway.backup.script(ok("from the backup"))
    began = time.monotonic()

    answer = sdk(gateway).chat.completions.create(
        model="safe", messages=[{"role": "user", "content": "hi"}]
    )

    assert answer.choices[0].message.content == "from the backup"
    assert gateway.primary.request_count == 1  # 60 s > retry_after_max: not retried
    assert gateway.backup.request_count == 1
    assert time.monotonic() - began < 3.0
    # and without a fallback the client gets the 429 (OpenAI's shape), at once
    direct = post(gateway, chat_body("flaky:m"))
    assert direct.status_code == 429, direct.text
    assert direct.headers["retry-after"] == "60"  # passed on to the client
    assert_openai_error(direct.json())
    scoreboard.record(injected=2, fell_back=1, surfaced_429=1, survived=2)


# -- 500 ----------------------------------------------------------------------------------------


@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "streamed"])
@pytest.mark.scoreboard("fault", "upstream 500")
def test_500_is_retried_then_falls_back(
    gateway: Gateway, scoreboard: Figures, streamed: bool
) -> None:
    gateway.primary.always(status(500))
    gateway.backup.script(ok("backup answer"))

    if streamed:
        result = stream_chat(gateway.url, chat_body("safe"))
        assert result.status == 200 and result.frames[-1] == "[DONE]"
        assert result.errors == []
        text = result.text
    else:
        answer = post(gateway, chat_body("safe"))
        assert answer.status_code == 200, answer.text
        text = answer.json()["choices"][0]["message"]["content"]

    assert text == "backup answer"
    assert gateway.primary.request_count == 2  # the first attempt and one retry
    assert gateway.backup.request_count == 1
    scoreboard.record(injected=2, retried=1, fell_back=1, duplicated=0, survived=1)


# -- slow headers -------------------------------------------------------------------------------


@pytest.mark.scoreboard("fault", "upstream slow headers (timeout)")
def test_slow_headers_time_out_then_fall_back(gateway: Gateway, scoreboard: Figures) -> None:
    gateway.primary.always(slow_headers(10, ok("too late")))
    gateway.backup.script(ok("in time"))
    began = time.monotonic()

    answer = post(gateway, chat_body("safe"))

    took = time.monotonic() - began
    assert answer.status_code == 200, answer.text
    assert answer.json()["choices"][0]["message"]["content"] == "in time"
    assert gateway.primary.request_count == 2  # 1 s timeout, one retry
    assert 1.9 < took < 6.0, f"answered in {took:.1f}s: the 1 s timeout was not applied"
    scoreboard.record(injected=2, timed_out=2, fell_back=1, seconds=round(took, 2), survived=1)


# -- trickling body -----------------------------------------------------------------------------


@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "streamed"])
@pytest.mark.scoreboard("fault", "upstream trickling body")
def test_a_slow_but_steady_body_completes(
    gateway: Gateway, scoreboard: Figures, streamed: bool
) -> None:
    text = "Every byte of this answer drips in slowly, but it never stops."
    # ~2 s in all (a whole body is ~350 bytes, a stream ~2.5 kB), longer than the 1 s
    # timeout, but never 1 s without a byte
    gateway.primary.script(trickle(text, step=24 if streamed else 3, interval=0.02))
    began = time.monotonic()

    if streamed:
        result = stream_chat(gateway.url, chat_body("safe"))
        assert result.errors == [] and result.finish_reasons == ["stop"]
        assert result.frames[-1] == "[DONE]"
        received = result.text
    else:
        answer = post(gateway, chat_body("safe"))
        assert answer.status_code == 200, answer.text
        received = answer.json()["choices"][0]["message"]["content"]

    took = time.monotonic() - began
    assert received == text
    assert took > 1.0, "the body did not trickle for longer than the timeout"
    assert gateway.primary.request_count == 1 and gateway.backup.request_count == 0
    scoreboard.record(injected=1, survived=1, seconds=round(took, 2), retried=0)


# -- malformed SSE ------------------------------------------------------------------------------


@pytest.mark.scoreboard("fault", "upstream malformed SSE after the first token")
def test_malformed_sse_after_text_is_an_error_frame(gateway: Gateway, scoreboard: Figures) -> None:
    gateway.primary.script(malformed_sse(2))

    result = stream_chat(gateway.url, chat_body("safe"), timeout=15)

    assert result.status == 200
    assert result.text == "part0 part1 "  # what arrived before the bad frame, once
    (error,) = result.errors
    assert_openai_error({"error": error})
    assert error["code"] == "upstream_error" and "malformed" in error["message"]
    assert result.frames[-1] == "[DONE]"
    assert result.finish_reasons == []  # an error, not a normal end
    assert gateway.backup.request_count == 0  # no fallback after the first token
    scoreboard.record(injected=1, error_frames=1, duplicated=0, hung=0)


@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "streamed"])
@pytest.mark.scoreboard("fault", "upstream malformed SSE/JSON before any text")
def test_malformed_answer_before_text_is_a_502_or_falls_back(
    gateway: Gateway, scoreboard: Figures, streamed: bool
) -> None:
    gateway.primary.always(malformed_sse(0))
    gateway.backup.script(ok("from the backup"))

    if streamed:
        direct = stream_chat(gateway.url, chat_body("flaky:m"), timeout=15)
        code, body = direct.status, json.loads(direct.frames[0])
        saved = stream_chat(gateway.url, chat_body("safe"), timeout=15)
        assert saved.errors == [] and saved.frames[-1] == "[DONE]"
        text = saved.text
    else:
        answer = post(gateway, chat_body("flaky:m"), timeout=15)
        code, body = answer.status_code, answer.json()
        saved_answer = post(gateway, chat_body("safe"), timeout=15)
        assert saved_answer.status_code == 200, saved_answer.text
        text = saved_answer.json()["choices"][0]["message"]["content"]

    assert code == 502, body  # before the first byte: a status, not a 500
    error = assert_openai_error(body)
    assert error["code"] == "upstream_error" and "flaky" in error["message"]
    assert "malformed" in error["message"]
    assert text == "from the backup"  # a chain falls back
    assert gateway.primary.request_count == 4  # (attempt + retry) x (direct, chain)
    scoreboard.record(injected=4, clear_errors=1, fell_back=1, status=code, hung=0)


# -- UTF-8 split across network chunks ----------------------------------------------------------


@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "streamed"])
@pytest.mark.scoreboard("fault", "UTF-8 character split across network chunks")
def test_a_split_multibyte_character_arrives_intact(
    gateway: Gateway, scoreboard: Figures, streamed: bool
) -> None:
    behaviour = split_utf8("Café ", "naïve ", "😀 ", "東京")
    gateway.primary.script(behaviour)

    if streamed:
        result = stream_chat(gateway.url, chat_body("flaky:m"))
        assert result.errors == [] and result.frames[-1] == "[DONE]"
        received = result.text
    else:
        received = (
            sdk(gateway)
            .chat.completions.create(model="flaky:m", messages=[{"role": "user", "content": "hi"}])
            .choices[0]
            .message.content
            or ""
        )

    assert received == "Café naïve 😀 東京"
    assert "\ufffd" not in received
    scoreboard.record(injected=len(behaviour.chunks), survived=1, replaced_chars=0)


# -- connection refused -------------------------------------------------------------------------


@pytest.mark.scoreboard("fault", "upstream connection refused")
def test_connection_refused_falls_back_or_is_a_502(gateway: Gateway, scoreboard: Figures) -> None:
    gateway.backup.script(ok("backup answer"), ok("backup streamed"))

    whole = post(gateway, chat_body("downsafe"))
    streamed = stream_chat(gateway.url, chat_body("downsafe"))
    began = time.monotonic()
    direct = post(gateway, chat_body("down:m"))
    took = time.monotonic() - began

    assert whole.status_code == 200, whole.text
    assert whole.json()["choices"][0]["message"]["content"] == "backup answer"
    assert streamed.text == "backup streamed" and streamed.errors == []
    assert direct.status_code in (502, 503), direct.text
    error = assert_openai_error(direct.json())
    assert "down" in error["message"]
    assert took < 3.0, f"a refused connection took {took:.1f}s to report"
    scoreboard.record(injected=3, fell_back=2, clear_errors=1, survived=3)


# -- connection reset mid-stream ----------------------------------------------------------------


@pytest.mark.scoreboard("fault", "upstream connection reset mid-stream")
def test_reset_after_text_ends_with_an_error_frame_and_nothing_twice(
    gateway: Gateway, scoreboard: Figures
) -> None:
    gateway.primary.script(reset_mid_stream(3))

    result = stream_chat(gateway.url, chat_body("safe"), timeout=15)

    assert result.status == 200
    assert result.text == "part0 part1 part2 "  # each piece exactly once
    (error,) = result.errors
    assert_openai_error({"error": error})
    assert error["code"] == "upstream_unreachable" and "flaky" in error["message"]
    assert result.frames[-1] == "[DONE]" and result.finish_reasons == []
    assert gateway.primary.request_count == 1  # not retried after the first token...
    assert gateway.backup.request_count == 0  # ...nor fallen back
    scoreboard.record(injected=1, error_frames=1, duplicated=0, lost=0)


@pytest.mark.parametrize("streamed", [False, True], ids=["whole", "streamed"])
@pytest.mark.scoreboard("fault", "upstream connection reset before the first token")
def test_reset_before_text_falls_back(
    gateway: Gateway, scoreboard: Figures, streamed: bool
) -> None:
    gateway.primary.always(reset_mid_stream(0))
    gateway.backup.script(ok("from the backup"))

    if streamed:
        result = stream_chat(gateway.url, chat_body("safe"), timeout=15)
        assert result.errors == [] and result.frames[-1] == "[DONE]"
        received = result.text
    else:
        answer = post(gateway, chat_body("safe"), timeout=15)
        assert answer.status_code == 200, answer.text
        received = answer.json()["choices"][0]["message"]["content"]

    assert received == "from the backup"
    assert gateway.primary.request_count == 2 and gateway.backup.request_count == 1
    scoreboard.record(injected=2, fell_back=1, duplicated=0, survived=1)
