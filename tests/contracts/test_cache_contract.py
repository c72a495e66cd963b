"""The cache contract: every backend (this process's memory, a real redis-server) passes it,
through :class:`ResponseCache` (compression, statistics) as the application uses it."""

from __future__ import annotations

from collections.abc import AsyncIterator
from typing import Any

import pytest

from assistant.cache import MemoryBackend, RedisBackend, ResponseCache, key_pattern, request_key

MESSAGES = [{"role": "user", "content": "What is the capital of France?"}]


def key(**changes: Any) -> str:
    fields: dict[str, Any] = {
        "tenant": "alice",
        "model": "local:smollm2",
        "messages": MESSAGES,
        "params": {"temperature": 0},
    }
    return request_key(**{**fields, **changes})


@pytest.fixture(params=["memory", "redis"])
async def cache(request: pytest.FixtureRequest) -> AsyncIterator[ResponseCache]:
    if request.param == "memory":
        backend: Any = MemoryBackend()
    else:
        backend = RedisBackend(request.getfixturevalue("redis_url"))
        await backend.delete_matching("*")  # the server is shared by the test session
    store = ResponseCache(backend, ttl=60, compress_min_bytes=64)
    yield store
    await store.invalidate("*")
    await store.aclose()


async def test_a_stored_value_comes_back_and_counts_as_a_hit(cache: ResponseCache) -> None:
    assert await cache.get(key()) is None
    assert await cache.put(key(), b"Paris.", cost_s=0.8)
    assert await cache.get(key()) == b"Paris."
    stats = cache.stats
    assert (stats.hits, stats.misses, stats.stores) == (1, 1, 1)
    assert stats.hit_ratio == 0.5 and stats.seconds_saved == pytest.approx(0.8)


async def test_large_values_are_compressed_and_round_trip(cache: ResponseCache) -> None:
    answer = ("The capital of France is Paris. " * 200).encode()
    await cache.put(key(), answer)
    assert await cache.get(key()) == answer
    assert cache.stats.bytes_stored < len(answer) / 5
    assert cache.stats.bytes_saved > len(answer) / 2
    binary = bytes(range(256)) * 4  # incompressible: stored as is
    await cache.put(key(model="x:y"), binary)
    assert await cache.get(key(model="x:y")) == binary


async def test_what_shapes_the_answer_never_collides(cache: ResponseCache) -> None:
    variants = [
        key(),
        key(tenant="bob"),
        key(model="openai:gpt-4o-mini"),
        key(params={"temperature": 0, "max_tokens": 10}),
        key(params={"seed": 1}),
        key(messages=[{"role": "user", "content": "What is the capital of Spain?"}]),
        key(messages=[{"role": "system", "content": "Be terse."}, *MESSAGES]),
        key(tools=[{"type": "function", "function": {"name": "calculator"}}]),
        key(version="profile-v2"),
    ]
    assert len(set(variants)) == len(variants)
    for index, name in enumerate(variants):
        await cache.put(name, f"answer {index}".encode())
    for index, name in enumerate(variants):
        assert await cache.get(name) == f"answer {index}".encode()
    # an unset parameter is the same request as an absent one; order does not matter
    assert key(params={"temperature": 0, "seed": None}) == key()
    assert key(params={"max_tokens": 10, "temperature": 0}) == variants[3]


async def test_invalidation_by_tenant_model_version_or_all(cache: ResponseCache) -> None:
    names = {
        "a": key(),
        "b": key(tenant="bob"),
        "c": key(model="openai:gpt-4o-mini"),
        "d": key(version="v2"),
    }
    for name in names.values():
        await cache.put(name, b"x")
    assert await cache.invalidate(key_pattern(model="openai:gpt-4o-mini")) == 1
    assert await cache.get(names["c"]) is None and await cache.get(names["a"]) == b"x"
    assert await cache.invalidate(key_pattern(tenant="bob")) == 1
    assert await cache.invalidate(key_pattern(version="v2")) == 1
    assert await cache.get(names["a"]) == b"x"
    assert await cache.invalidate() == 1
    assert await cache.get(names["a"]) is None
    assert (await cache.describe())["entries"] == 0


async def test_a_corrupt_entry_is_a_miss(cache: ResponseCache) -> None:
    await cache.backend.set(key(), b"z\x00\x00\x00\x00\x00\x00\x00\x00not zstd", 60)
    assert await cache.get(key()) is None
    await cache.backend.set(key(), b"?", 60)
    assert await cache.get(key()) is None


async def test_describe_reports_backend_and_stats(cache: ResponseCache) -> None:
    await cache.put(key(), b"Paris.")
    await cache.get(key())
    described = await cache.describe()
    assert described["backend"] == cache.backend.name and described["available"] is True
    assert described["entries"] == 1 and described["hits"] == 1 and described["hit_ratio"] == 1.0
