"""The response cache beyond the contract: the memory backend's bounds and expiry, the
deterministic-request rule, settings, and Redis faults against a real redis-server (stopped,
frozen with SIGSTOP, restarted): misses within the socket timeout, one warning per outage,
recovery by itself."""

from __future__ import annotations

import logging
import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from assistant.cache import (
    MemoryBackend,
    RedisBackend,
    ResponseCache,
    is_deterministic,
    request_key,
    response_cache,
)
from assistant.config import CacheSettings, Settings
from assistant.errors import ConfigError
from assistant.metrics import Metrics
from tests.conftest import free_port, start_redis


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


async def test_memory_entries_expire() -> None:
    clock = Clock()
    backend = MemoryBackend(clock=clock)
    await backend.set("k", b"v", ttl=10)
    clock.now += 9.9
    assert await backend.get("k") == b"v"
    clock.now += 0.2
    assert await backend.get("k") is None
    assert (await backend.size()).entries == 0


async def test_memory_evicts_least_recently_used_by_entries_and_bytes() -> None:
    backend = MemoryBackend(max_entries=3, max_bytes=1000)
    for name in "abc":
        await backend.set(name, b"x" * 100, ttl=60)
    await backend.get("a")  # a is now the most recently used
    await backend.set("d", b"x" * 100, ttl=60)
    assert await backend.get("b") is None and await backend.get("a") is not None
    await backend.set("big", b"y" * 900, ttl=60)  # bytes bound: older entries make room
    size = await backend.size()
    assert size.bytes is not None and size.bytes <= 1000 and await backend.get("big")
    await backend.set("huge", b"z" * 2000, ttl=60)  # larger than the cache: not stored
    assert await backend.get("huge") is None and await backend.get("big")


def test_only_deterministic_requests_are_cacheable_by_default() -> None:
    assert is_deterministic({"temperature": 0})
    assert is_deterministic({"temperature": 0.7, "seed": 3})
    assert not is_deterministic({"temperature": 0.7})
    assert not is_deterministic({})


def test_keys_escape_separators() -> None:
    one = request_key(tenant="a:b", model="c", messages=[])
    other = request_key(tenant="a", model="b:c", messages=[])
    assert one != other and one.count(":") == other.count(":") == 3


def test_settings_build_the_configured_backend() -> None:
    assert response_cache(CacheSettings()).backend.name == "memory"
    redis = response_cache(CacheSettings(backend="redis", redis_url="redis://127.0.0.1:1/0"))
    assert redis.backend.name == "redis"
    with pytest.raises(ConfigError, match=r"cache\.redis_url"):
        response_cache(CacheSettings(backend="redis"))
    with pytest.raises(ValueError, match="redis://"):
        Settings.model_validate({"cache": {"redis_url": "http://nope"}})


# -- Redis faults --------------------------------------------------------------------------------


@pytest.fixture
def own_redis(tmp_path: Path) -> Iterator[tuple[int, list[subprocess.Popen[bytes]]]]:
    """A redis-server this test may stop, freeze and restart (the list holds the current one)."""
    port = free_port()
    processes = [start_redis(port, tmp_path)]
    yield port, processes
    for process in processes:
        if process.poll() is None:
            os.kill(process.pid, signal.SIGCONT)
            process.terminate()
            process.wait(timeout=10)


class CountingRedis(RedisBackend):
    """The Redis backend, counting the lookups that reach the server."""

    lookups = 0

    async def get(self, key: str) -> bytes | None:
        self.lookups += 1
        return await super().get(key)


def fault_cache(port: int, clock: Clock) -> ResponseCache:
    backend = CountingRedis(f"redis://127.0.0.1:{port}/0", socket_timeout=0.2)
    return ResponseCache(backend, ttl=60, retry_after=2.0, clock=clock)


def lookups(cache: ResponseCache) -> int:
    backend = cache.backend
    assert isinstance(backend, CountingRedis)
    return backend.lookups


async def timed_get(cache: ResponseCache, key: str) -> tuple[bytes | None, float]:
    started = time.perf_counter()
    value = await cache.get(key)
    return value, time.perf_counter() - started


async def test_redis_down_at_start_is_a_fast_miss_then_recovers(
    tmp_path: Path, caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="assistant.cache.store")
    port, clock = free_port(), Clock()
    cache = fault_cache(port, clock)  # nothing listens there yet
    metrics = Metrics()
    cache.observer = metrics
    metrics.known_cache("redis")
    value, took = await timed_get(cache, "k")
    assert value is None and took < 0.5
    assert await cache.put("k", b"v") is False  # skipped while down
    before = lookups(cache)
    value, took = await timed_get(cache, "k")
    assert value is None and lookups(cache) == before  # bypassed: no call to Redis at all
    warnings = [r for r in caplog.records if "without cache" in r.getMessage()]
    assert len(warnings) == 1 and "ConnectionError" in warnings[0].getMessage()
    assert metrics.cache_up.labels("redis")._value.get() == 0  # the "cache down" alert fires
    assert metrics.cache_requests.labels("redis", "error")._value.get() == 2

    process = start_redis(port, tmp_path)
    try:
        clock.now += 2.1  # the bypass window ends
        assert await cache.put("k", b"v") is True
        assert await cache.get("k") == b"v"
        assert any("answers again" in r.getMessage() for r in caplog.records)
        assert cache.stats.errors == 1
        assert metrics.cache_up.labels("redis")._value.get() == 1
        assert metrics.cache_requests.labels("redis", "hit")._value.get() == 1
    finally:
        process.terminate()
        process.wait(timeout=10)
        await cache.aclose()


async def test_a_frozen_redis_costs_one_socket_timeout(
    own_redis: tuple[int, list[subprocess.Popen[bytes]]], caplog: pytest.LogCaptureFixture
) -> None:
    caplog.set_level(logging.WARNING, logger="assistant.cache.store")
    port, processes = own_redis
    clock = Clock()
    cache = fault_cache(port, clock)
    await cache.put("k", b"v")
    os.kill(processes[0].pid, signal.SIGSTOP)
    try:
        value, took = await timed_get(cache, "k")
        assert value is None and 0.15 < took < 1.0  # one socket timeout, then a miss
        before = lookups(cache)
        for _ in range(5):  # the next requests do not wait: Redis is not even asked
            value, took = await timed_get(cache, "k")
            assert value is None and took < 0.1
        assert lookups(cache) == before
    finally:
        os.kill(processes[0].pid, signal.SIGCONT)
    clock.now += 2.1
    assert await cache.get("k") == b"v"  # thawed: back by itself, data intact
    outage_warnings = [r for r in caplog.records if "without cache" in r.getMessage()]
    assert len(outage_warnings) == 1
    await cache.aclose()


async def test_a_restarted_redis_is_used_again(
    own_redis: tuple[int, list[subprocess.Popen[bytes]]], tmp_path: Path
) -> None:
    port, processes = own_redis
    clock = Clock()
    cache = fault_cache(port, clock)
    await cache.put("k", b"v")
    processes[0].terminate()
    processes[0].wait(timeout=10)
    assert await cache.get("k") is None  # stopped: a miss
    fresh_dir = tmp_path / "again"
    fresh_dir.mkdir()
    processes.append(start_redis(port, fresh_dir))  # a fresh, empty server
    clock.now += 2.1
    assert await cache.get("k") is None  # the data went with the old server
    assert await cache.put("k", b"new") is True
    assert await cache.get("k") == b"new"
    await cache.aclose()
