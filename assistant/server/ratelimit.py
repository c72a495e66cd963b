"""Requests and tokens per minute per API key, in process memory or shared through Redis.

Fixed one-minute windows (aligned to the wall clock, so every worker and machine agrees on
them): a request is counted when it arrives and refused with ``Retry-After`` (the seconds to
the next window) once the key is over its requests, or over its tokens; tokens are counted
when the answer is done, so the request that crosses the line completes and the next ones
wait. With Redis, counters are ``INCRBY`` + ``EXPIRE`` in one round trip, shared by every
worker; if Redis cannot be reached the limiter lets requests through (logged once per outage):
an outage of the limiter must not become an outage of the API.
"""

from __future__ import annotations

import logging
import time
from typing import Protocol

from assistant.errors import RateLimitExceeded

logger = logging.getLogger(__name__)

WINDOW_S = 60


def _now() -> float:
    """Wall-clock seconds (every worker and machine must agree on the windows)."""
    return time.time()


class Counters(Protocol):
    """Per-window counters."""

    async def add(self, key: str, amount: int) -> int:
        """Add ``amount`` to ``key`` in the current window; the new total."""
        ...

    async def get(self, key: str) -> int:
        """The current window's total of ``key``."""
        ...

    async def aclose(self) -> None:
        """Release connections."""
        ...


def _window() -> int:
    return int(_now() // WINDOW_S)


def seconds_to_next_window() -> float:
    """Seconds until the current window ends (at least 1, for ``Retry-After``)."""
    return max(1.0, WINDOW_S - _now() % WINDOW_S)


class MemoryCounters:
    """Counters of this process (each worker has its own)."""

    def __init__(self) -> None:
        self._window = _window()
        self._counts: dict[str, int] = {}

    def _roll(self) -> None:
        window = _window()
        if window != self._window:
            self._window, self._counts = window, {}

    async def add(self, key: str, amount: int) -> int:
        self._roll()
        self._counts[key] = self._counts.get(key, 0) + amount
        return self._counts[key]

    async def get(self, key: str) -> int:
        self._roll()
        return self._counts.get(key, 0)

    async def aclose(self) -> None:
        return None


class RedisCounters:
    """Counters in Redis, shared by every worker and machine using the same server."""

    def __init__(self, url: str, *, prefix: str = "assistant:ratelimit:", timeout: float = 0.5):
        import redis.asyncio

        self.prefix = prefix
        self._client = redis.asyncio.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout
        )
        self._down = False

    def _key(self, key: str) -> str:
        return f"{self.prefix}{key}:{_window()}"

    def _failed(self, exc: Exception) -> int:
        if not self._down:
            logger.warning("rate limits off: Redis unreachable (%s)", type(exc).__name__)
            self._down = True
        return 0

    def _recovered(self) -> None:
        if self._down:
            logger.warning("rate limits back on: Redis reachable again")
            self._down = False

    async def add(self, key: str, amount: int) -> int:
        from redis.exceptions import RedisError

        name = self._key(key)
        try:
            async with self._client.pipeline(transaction=True) as pipe:
                pipe.incrby(name, amount)
                pipe.expire(name, 2 * WINDOW_S)
                total, _ = await pipe.execute()
        except (TimeoutError, RedisError, OSError) as exc:
            return self._failed(exc)
        self._recovered()
        return int(total)

    async def get(self, key: str) -> int:
        from redis.exceptions import RedisError

        try:
            value = await self._client.get(self._key(key))
        except (TimeoutError, RedisError, OSError) as exc:
            return self._failed(exc)
        self._recovered()
        return int(value or 0)

    async def ping(self) -> bool:
        """Whether Redis answers (for ``/ready``)."""
        from redis.exceptions import RedisError

        try:
            return bool(await self._client.ping())
        except (TimeoutError, RedisError, OSError):
            return False

    async def aclose(self) -> None:
        await self._client.aclose()


class RateLimiter:
    """Applies per-key limits over some counters."""

    def __init__(self, counters: Counters) -> None:
        self.counters = counters

    async def admit(
        self, name: str, requests_per_minute: int | None, tokens_per_minute: int | None
    ) -> None:
        """Count one request of key ``name``; raise :class:`RateLimitExceeded` when over."""
        if tokens_per_minute is not None:
            used = await self.counters.get(f"{name}:tokens")
            if used >= tokens_per_minute:
                raise RateLimitExceeded(
                    f"Rate limit reached for key '{name}': {tokens_per_minute} tokens per "
                    f"minute (used {used}). Try again in {seconds_to_next_window():.0f} s.",
                    seconds_to_next_window(),
                )
        if requests_per_minute is not None:
            count = await self.counters.add(f"{name}:requests", 1)
            if count > requests_per_minute:
                raise RateLimitExceeded(
                    f"Rate limit reached for key '{name}': {requests_per_minute} requests per "
                    f"minute. Try again in {seconds_to_next_window():.0f} s.",
                    seconds_to_next_window(),
                )

    async def spend(self, name: str, tokens: int) -> None:
        """Count the tokens of a finished answer against key ``name``."""
        if tokens > 0:
            await self.counters.add(f"{name}:tokens", tokens)

    async def usage(self, name: str) -> dict[str, int]:
        """Requests and tokens of key ``name`` in the current window."""
        return {
            "requests": await self.counters.get(f"{name}:requests"),
            "tokens": await self.counters.get(f"{name}:tokens"),
        }


def rate_limiter(redis_url: str | None) -> RateLimiter:
    """Redis counters when a URL is given, else this process's memory."""
    return RateLimiter(RedisCounters(redis_url) if redis_url else MemoryCounters())
