"""Redis faults through the real API: down at start, frozen (``kill -STOP``), restarted.

One real redis-server backs the response cache (``cache.backend = redis``), the rate limiter
(``server.redis_url``) and the session store (``sessions.redis_url``) of a served gateway in
front of a fake upstream. Whatever Redis does, the API answers (a cache outage is a miss, the
rate limiter fails open) and never with a 5xx; ``/ready`` says Redis is down (503 with the
failing checks, as documented: the OpenAI routes do not use sessions); and once Redis is back,
the cache and the limiter are used again without a restart.
"""

from __future__ import annotations

import hashlib
import itertools
import json
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path

import httpx
import pytest

from tests.conftest import serving
from tests.fakes.upstream import FakeUpstream
from tests.faults.support import RedisControl, api_env, resilience, wait_for
from tests.scoreboard import Figures

pytestmark = pytest.mark.slow

KEY = "sk-faults-redis-tenant"
PROMPTS = itertools.count()
"""Numbers making prompts unique across the module (a repeated one could be a stale hit)."""


@dataclass
class Stack:
    """A gateway on a Redis the test controls, and what its answers looked like."""

    url: str
    redis: RedisControl
    upstream: FakeUpstream
    statuses: list[int] = field(default_factory=list)
    slowest: float = 0.0

    def ask(self, prompt: str) -> httpx.Response:
        """A cacheable request (temperature 0) as the tenant; records status and latency."""
        began = time.monotonic()
        reply = httpx.post(
            f"{self.url}/v1/chat/completions",
            json={
                "model": "fake:m",
                "messages": [{"role": "user", "content": prompt}],
                "temperature": 0,
            },
            headers={"Authorization": f"Bearer {KEY}"},
            timeout=20,
        )
        self.slowest = max(self.slowest, time.monotonic() - began)
        self.statuses.append(reply.status_code)
        assert reply.status_code == 200, reply.text
        assert reply.json()["choices"][0]["message"]["content"] == "Hello from the fake upstream."
        return reply

    def ready(self) -> httpx.Response:
        return httpx.get(f"{self.url}/ready", timeout=10)

    @property
    def five_xx(self) -> int:
        return sum(code >= 500 for code in self.statuses)

    def cache_works(self, prompt: str) -> bool:
        """Asked twice, ``prompt`` is a hit the second time and reaches the upstream once."""
        before = self.upstream.request_count
        self.ask(prompt)
        hit = self.ask(prompt).headers.get("x-cache") == "hit"
        return hit and self.upstream.request_count == before + 1

    def recovers(self, label: str, timeout: float = 15) -> float:
        """Bounded wait for the cache, the limiter and ``/ready`` to use Redis again."""
        took = wait_for(
            lambda: self.cache_works(f"{label} {next(PROMPTS)}"),  # never asked before
            timeout,
            interval=0.2,
            what="the cache used Redis again",
        )
        assert self.redis.keys("assistant:ratelimit:*"), "the rate limiter did not use Redis"
        wait_for(
            lambda: self.ready().status_code == 200,
            timeout,
            what=f"/ready back to 200 (last: {self.ready().text})",
        )
        return took

    def outage(self, label: str, requests: int = 6) -> None:
        """During an outage: every request answered, from the upstream (a miss), in time."""
        before = self.upstream.request_count
        for i in range(requests):
            reply = self.ask(f"{label} {i % 2}")  # repeated prompts: hits if the cache worked
            assert reply.headers.get("x-cache") != "hit"
        assert self.upstream.request_count == before + requests
        ready = self.ready()
        assert ready.status_code == 503, ready.text
        checks = ready.json()["checks"]
        assert checks["rate_limit_redis"]["ok"] is False
        assert checks["session_redis"]["ok"] is False


def _env(upstream: FakeUpstream, redis: RedisControl) -> dict[str, str]:
    key = {
        "name": "tenant",
        "sha256": hashlib.sha256(KEY.encode()).hexdigest(),
        "requests_per_minute": 100_000,  # counted in Redis, never reached here
    }
    return api_env(
        {"fake": {"base_url": upstream.base_url, "models": ["m"], **resilience()}},
        ASSISTANT_DEFAULT_MODEL="fake:m",
        ASSISTANT_PROVIDERS__LOCAL__ENABLED="false",
        ASSISTANT_SERVER__AUTH__KEYS=json.dumps([key]),
        ASSISTANT_CACHE__BACKEND="redis",
        ASSISTANT_CACHE__REDIS_URL=redis.url,
        ASSISTANT_CACHE__RETRY_AFTER="0.5",
        ASSISTANT_SERVER__REDIS_URL=redis.url,
        ASSISTANT_SESSIONS__REDIS_URL=redis.url,
    )


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream("faults-redis") as server:
        yield server


@pytest.fixture(scope="module")
def stack(upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A gateway on a running Redis (tests may stop, freeze and restart it)."""
    redis = RedisControl(tmp_path_factory.mktemp("redis"))
    redis.start()
    try:
        with serving(tmp_path_factory.mktemp("redis-gateway"), _env(upstream, redis)) as (
            url,
            _,
        ):
            yield Stack(url, redis, upstream)
    finally:
        redis.stop()


@pytest.fixture
def healthy(stack: Stack) -> Stack:
    """The module's stack with Redis running and in use."""
    if stack.redis.process is None:
        stack.redis.start()
    if stack.redis.frozen:
        stack.redis.thaw()
    stack.upstream.reset()
    stack.statuses.clear()
    stack.slowest = 0.0
    stack.recovers("warm-up")
    return stack


@pytest.mark.scoreboard("fault", "Redis down when the API starts")
def test_redis_down_at_start(upstream: FakeUpstream, tmp_path: Path, scoreboard: Figures) -> None:
    upstream.reset()
    redis = RedisControl(tmp_path / "redis")
    (tmp_path / "redis").mkdir()
    try:
        with serving(tmp_path, _env(upstream, redis)) as (url, _):
            stack = Stack(url, redis, upstream)
            # every request is answered (a hang on Redis fails at the client's 20 s timeout);
            # how long the slowest took is a figure for the scoreboard, not a test bound
            stack.outage("down at start")
            body = stack.ready().json()
            assert "Traceback" not in json.dumps(body)
            redis.start()
            took = stack.recovers("came up")
            assert stack.five_xx == 0
    finally:
        redis.stop()
    scoreboard.record(
        requests=len(stack.statuses),
        five_xx=stack.five_xx,
        slowest_s=round(stack.slowest, 2),
        recovered_s=round(took, 2),
    )


@pytest.mark.scoreboard("fault", "Redis frozen (SIGSTOP) mid-run")
def test_redis_frozen_then_thawed(healthy: Stack, scoreboard: Figures) -> None:
    healthy.redis.freeze()
    try:
        healthy.outage("frozen")  # answered, not hung: the client's 20 s timeout would fail it
    finally:
        healthy.redis.thaw()
    took = healthy.recovers("thawed")
    assert healthy.five_xx == 0
    scoreboard.record(
        requests=len(healthy.statuses),
        five_xx=0,
        slowest_s=round(healthy.slowest, 2),
        recovered_s=round(took, 2),
    )


@pytest.mark.scoreboard("fault", "Redis restarted (killed, then a fresh server)")
def test_redis_killed_and_restarted(healthy: Stack, scoreboard: Figures) -> None:
    healthy.redis.stop()
    healthy.outage("killed")
    healthy.redis.start()  # a fresh, empty server on the same port
    took = healthy.recovers("restarted")
    assert healthy.five_xx == 0
    scoreboard.record(requests=len(healthy.statuses), five_xx=0, recovered_s=round(took, 2))
