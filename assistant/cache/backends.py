"""Where cached answers live: this process's memory, or a Redis server shared by workers.

Both speak :class:`CacheBackend`: bytes in, bytes out, keys as plain strings. A backend that
cannot answer raises :class:`~assistant.errors.CacheUnavailable`; the layer above
(:class:`~assistant.cache.store.ResponseCache`) turns that into a miss.
"""

from __future__ import annotations

import fnmatch
import time
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import Protocol

from assistant.errors import CacheUnavailable

KEY_PREFIX = "assistant:cache:"
"""Every key of the Redis backend starts with this (the server may hold other data)."""


@dataclass(frozen=True, slots=True)
class BackendSize:
    """What a backend holds now."""

    entries: int
    bytes: int | None
    """Stored bytes, when the backend can tell cheaply (Redis cannot)."""


class CacheBackend(Protocol):
    """Bytes by key, with a time to live."""

    name: str
    """``memory`` or ``redis`` (a metrics label)."""

    async def get(self, key: str) -> bytes | None:
        """The value, or ``None`` when absent or expired."""
        ...

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        """Store ``value`` for ``ttl`` seconds."""
        ...

    async def delete_matching(self, pattern: str) -> int:
        """Delete the keys matching a glob ``pattern`` (``*`` for all); how many went."""
        ...

    async def size(self) -> BackendSize:
        """Entries (and bytes) held now."""
        ...

    async def ping(self) -> bool:
        """Whether the backend answers."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


class MemoryBackend:
    """An LRU in this process, bounded in entries and in stored bytes, with a TTL per entry."""

    name = "memory"

    def __init__(
        self,
        max_entries: int = 10_000,
        max_bytes: int = 256 * 1024 * 1024,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.max_entries = max_entries
        self.max_bytes = max_bytes
        self._clock = clock
        self._items: OrderedDict[str, tuple[bytes, float]] = OrderedDict()
        self._bytes = 0

    async def get(self, key: str) -> bytes | None:
        item = self._items.get(key)
        if item is None:
            return None
        value, expires = item
        if expires <= self._clock():
            self._drop(key)
            return None
        self._items.move_to_end(key)
        return value

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        if len(value) > self.max_bytes:
            return  # larger than the whole cache: not worth evicting everything for
        if key in self._items:
            self._drop(key)
        self._items[key] = (value, self._clock() + ttl)
        self._bytes += len(value)
        while len(self._items) > self.max_entries or self._bytes > self.max_bytes:
            self._drop(next(iter(self._items)))  # least recently used first

    def _drop(self, key: str) -> None:
        value, _ = self._items.pop(key)
        self._bytes -= len(value)

    async def delete_matching(self, pattern: str) -> int:
        doomed = [key for key in self._items if fnmatch.fnmatchcase(key, pattern)]
        for key in doomed:
            self._drop(key)
        return len(doomed)

    async def size(self) -> BackendSize:
        return BackendSize(entries=len(self._items), bytes=self._bytes)

    async def ping(self) -> bool:
        return True

    async def aclose(self) -> None:
        return None


class RedisBackend:
    """Values in Redis under :data:`KEY_PREFIX`, with short socket timeouts.

    A frozen or unreachable server costs at most ``socket_timeout`` per call before
    :class:`~assistant.errors.CacheUnavailable` is raised.
    """

    name = "redis"

    def __init__(self, url: str, *, socket_timeout: float = 0.25) -> None:
        import redis.asyncio

        self._client = redis.asyncio.Redis.from_url(
            url,
            socket_timeout=socket_timeout,
            socket_connect_timeout=socket_timeout,
            retry_on_timeout=False,
        )

    @staticmethod
    def _unavailable(exc: BaseException) -> CacheUnavailable:
        return CacheUnavailable(f"Redis cache unavailable: {type(exc).__name__}")

    async def get(self, key: str) -> bytes | None:
        from redis.exceptions import RedisError

        try:
            value = await self._client.get(KEY_PREFIX + key)
        except (RedisError, OSError, TimeoutError) as exc:
            raise self._unavailable(exc) from None
        if value is None:
            return None
        return value if isinstance(value, bytes) else str(value).encode()

    async def set(self, key: str, value: bytes, ttl: float) -> None:
        from redis.exceptions import RedisError

        try:
            await self._client.set(KEY_PREFIX + key, value, px=max(1, int(ttl * 1000)))
        except (RedisError, OSError, TimeoutError) as exc:
            raise self._unavailable(exc) from None

    async def delete_matching(self, pattern: str) -> int:
        from redis.exceptions import RedisError

        deleted = 0
        try:
            batch: list[bytes] = []
            async for name in self._client.scan_iter(match=KEY_PREFIX + pattern, count=500):
                batch.append(name)
                if len(batch) >= 500:
                    deleted += int(await self._client.delete(*batch))
                    batch = []
            if batch:
                deleted += int(await self._client.delete(*batch))
        except (RedisError, OSError, TimeoutError) as exc:
            raise self._unavailable(exc) from None
        return deleted

    async def size(self) -> BackendSize:
        from redis.exceptions import RedisError

        try:
            entries = 0
            async for _ in self._client.scan_iter(match=KEY_PREFIX + "*", count=1000):
                entries += 1
        except (RedisError, OSError, TimeoutError) as exc:
            raise self._unavailable(exc) from None
        return BackendSize(entries=entries, bytes=None)

    async def ping(self) -> bool:
        from redis.exceptions import RedisError

        try:
            return bool(await self._client.ping())
        except (RedisError, OSError, TimeoutError):
            return False

    async def aclose(self) -> None:
        await self._client.aclose()
