"""The response cache: backends (memory, Redis), keys, compression, statistics.

Build one from settings with :func:`response_cache`; wire it in front of model calls in the
composition root (``assistant.agent``). A cache outage is a miss, never an error.
"""

from __future__ import annotations

from assistant.cache.backends import BackendSize, CacheBackend, MemoryBackend, RedisBackend
from assistant.cache.store import (
    CacheStats,
    ResponseCache,
    is_deterministic,
    key_pattern,
    request_key,
)
from assistant.config import CacheSettings


def response_cache(settings: CacheSettings) -> ResponseCache:
    """The cache the settings describe (the Redis backend needs ``redis_url``)."""
    backend: CacheBackend
    if settings.backend == "redis":
        if not settings.redis_url:
            from assistant.errors import ConfigError

            raise ConfigError("cache.backend is 'redis' but cache.redis_url is not set")
        backend = RedisBackend(settings.redis_url, socket_timeout=settings.socket_timeout)
    else:
        backend = MemoryBackend(settings.max_entries, settings.max_bytes)
    return ResponseCache(
        backend,
        ttl=settings.ttl,
        compress_min_bytes=settings.compress_min_bytes,
        retry_after=settings.retry_after,
        only_deterministic=settings.only_deterministic,
    )


__all__ = [
    "BackendSize",
    "CacheBackend",
    "CacheStats",
    "MemoryBackend",
    "RedisBackend",
    "ResponseCache",
    "is_deterministic",
    "key_pattern",
    "request_key",
    "response_cache",
]
