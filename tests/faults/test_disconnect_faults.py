"""Client disconnects through the real API: before the first token and after it.

When the client leaves, the gateway must stop the work it started for it: the upstream sees
its request cancelled within a bounded time (and the request is not retried elsewhere), and
the embedded model's queue drains. The gateway keeps serving afterwards.
"""

from __future__ import annotations

import time

import httpx
import pytest

from tests.fakes.upstream import ok, slow_stream
from tests.faults.conftest import Gateway
from tests.faults.support import chat_body, wait_for
from tests.scoreboard import Figures

pytestmark = pytest.mark.slow


def still_serving(gateway: Gateway) -> None:
    """The next request is answered normally, by the primary."""
    gateway.primary.script(ok("still here"))
    reply = httpx.post(f"{gateway.url}/v1/chat/completions", json=chat_body("safe"), timeout=20)
    assert reply.status_code == 200, reply.text
    assert reply.json()["choices"][0]["message"]["content"] == "still here"


@pytest.mark.scoreboard("fault", "client disconnect after the first token")
def test_leaving_mid_stream_cancels_the_upstream_request(
    gateway: Gateway, scoreboard: Figures
) -> None:
    gateway.primary.script(slow_stream(n_chunks=200, interval=0.05))  # 10 s unless cancelled
    with httpx.stream(
        "POST", f"{gateway.url}/v1/chat/completions", json=chat_body("safe", stream=True),
        timeout=20,
    ) as answer:  # fmt: skip
        lines = answer.iter_lines()
        received = [next(lines) for _ in range(8)]  # bounded: 8 lines
        left_at = time.monotonic()

    assert any('"content": "t1 "' in line or '"content":"t1 "' in line for line in received)
    assert gateway.primary.wait_for_disconnects(1, timeout=5) == 1, "the upstream kept streaming"
    noticed = gateway.primary.disconnects[0] - left_at
    assert noticed < 1.5
    assert gateway.primary.request_count == 1 and gateway.backup.request_count == 0
    still_serving(gateway)
    scoreboard.record(injected=1, upstream_cancelled=1, noticed_s=round(noticed, 2), retried=0)


@pytest.mark.scoreboard("fault", "client disconnect before the first token")
def test_leaving_before_the_first_token_cancels_the_upstream_request(
    gateway: Gateway, scoreboard: Figures
) -> None:
    # headers and the role chunk at once, then 20 s until the first token
    gateway.primary.script(slow_stream(first_token_after=20))
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(
            f"{gateway.url}/v1/chat/completions", json=chat_body("safe", stream=True), timeout=0.5
        )
    gave_up = time.monotonic()

    assert gateway.primary.wait_for_disconnects(1, timeout=5) == 1, "the request was left open"
    noticed = gateway.primary.disconnects[0] - gave_up
    assert noticed < 1.5
    assert gateway.primary.request_count == 1 and gateway.backup.request_count == 0
    still_serving(gateway)
    scoreboard.record(injected=1, upstream_cancelled=1, noticed_s=round(noticed, 2), retried=0)


def _queue_depth(gateway: Gateway) -> int:
    health = httpx.get(f"{gateway.url}/health", timeout=5).json()
    return int(health["local_models"]["smollm2"]["queue_depth"])


LONG = {
    "model": "local:smollm2",
    "messages": [{"role": "user", "content": "Tell a very long story."}],
    "max_tokens": 1500,
    "temperature": 0,  # greedy: the full 1500 tokens, ~15 s, unless cancelled
}


@pytest.mark.scoreboard("fault", "client disconnect from the local model, mid-stream")
def test_leaving_a_local_stream_drains_the_model_queue(
    gateway: Gateway, scoreboard: Figures
) -> None:
    with httpx.stream(
        "POST", f"{gateway.url}/v1/chat/completions", json={**LONG, "stream": True}, timeout=60
    ) as answer:
        lines = answer.iter_lines()
        received = [next(lines) for _ in range(6)]  # bounded: 6 lines
    assert any(line.startswith("data: ") for line in received)
    drained = wait_for(lambda: _queue_depth(gateway) == 0, 5, what="the local queue drained")
    scoreboard.record(injected=1, drained_s=round(drained, 2))


@pytest.mark.scoreboard("fault", "client disconnect from the local model, before any byte")
def test_leaving_a_whole_local_answer_drains_the_model_queue(
    gateway: Gateway, scoreboard: Figures
) -> None:
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{gateway.url}/v1/chat/completions", json=LONG, timeout=1.0)
    drained = wait_for(lambda: _queue_depth(gateway) == 0, 5, what="the local queue drained")
    scoreboard.record(injected=1, drained_s=round(drained, 2))
