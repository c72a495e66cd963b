"""The response cache over a backend: keys, compression, statistics, and outages as misses.

:func:`request_key` hashes everything that shapes an answer (messages, sampling parameters,
tools) under a readable prefix of tenant, model and profile version, so one glob pattern
invalidates a tenant's, a model's or a profile version's entries. :class:`ResponseCache`
stores values zstd-compressed above a size threshold, counts hits, misses, bytes and the
latency a hit saved, and turns a backend failure into a miss: it logs one warning per outage,
skips the backend for ``retry_after`` seconds (so a frozen Redis costs one socket timeout, not
one per request), then tries again by itself.
"""

from __future__ import annotations

import hashlib
import json
import logging
import struct
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import asdict, dataclass
from typing import Any
from urllib.parse import quote

import zstandard

from assistant.cache.backends import CacheBackend
from assistant.errors import CacheUnavailable
from assistant.observe import NULL_OBSERVER, Observer

logger = logging.getLogger(__name__)

_HEADER = struct.Struct(">cd")
"""Stored value: a format byte (``r`` raw, ``z`` zstd) and the seconds the answer cost."""
_RAW, _ZSTD = b"r", b"z"


def _part(text: str) -> str:
    """A key part with ``:`` and glob characters escaped, so patterns match whole parts."""
    return quote(text, safe="")


def request_key(
    *,
    tenant: str,
    model: str,
    messages: Sequence[Mapping[str, Any]],
    params: Mapping[str, Any] | None = None,
    tools: Sequence[Mapping[str, Any]] | None = None,
    version: str = "-",
) -> str:
    """``tenant:model:version:sha256`` for one request.

    ``tenant`` is who asks (an API key's name), ``version`` what else shapes the answer
    outside the request (e.g. a hash of an agent profile's prompt and tools). ``None`` values
    in ``params`` are left out, so an unset parameter and an absent one are the same request.
    """
    body = {
        "messages": list(messages),
        "params": {k: v for k, v in sorted((params or {}).items()) if v is not None},
        "tools": list(tools or []),
    }
    canonical = json.dumps(
        body, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str
    )
    digest = hashlib.sha256(canonical.encode("utf-8")).hexdigest()
    return f"{_part(tenant)}:{_part(model)}:{_part(version)}:{digest}"


def key_pattern(
    *, tenant: str | None = None, model: str | None = None, version: str | None = None
) -> str:
    """A glob matching the keys of a tenant, a model and/or a version (all keys when none)."""
    parts = [_part(p) if p is not None else "*" for p in (tenant, model, version)]
    return ":".join([*parts, "*"])


def is_deterministic(params: Mapping[str, Any]) -> bool:
    """Whether a request asks for a repeatable answer: temperature 0, or a seed."""
    return params.get("temperature") == 0 or params.get("seed") is not None


@dataclass
class CacheStats:
    """What the cache did since the process started."""

    hits: int = 0
    misses: int = 0
    errors: int = 0
    """Backend failures (each also counted as a miss or a skipped write)."""
    stores: int = 0
    bytes_stored: int = 0
    """Bytes written to the backend (after compression)."""
    bytes_saved: int = 0
    """Bytes compression saved on those writes."""
    seconds_saved: float = 0.0
    """What the answers served from cache had cost to make."""

    @property
    def hit_ratio(self) -> float | None:
        """Hits over lookups; ``None`` before the first lookup."""
        lookups = self.hits + self.misses
        return self.hits / lookups if lookups else None

    def as_dict(self) -> dict[str, Any]:
        """JSON-ready, with the hit ratio."""
        return {**asdict(self), "hit_ratio": self.hit_ratio}


class ResponseCache:
    """Compressed values over a :class:`CacheBackend`, where a failing backend is a miss."""

    def __init__(
        self,
        backend: CacheBackend,
        *,
        ttl: float = 3600.0,
        compress_min_bytes: int = 1024,
        retry_after: float = 2.0,
        only_deterministic: bool = True,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.backend = backend
        self.only_deterministic = only_deterministic
        self.ttl = ttl
        self.compress_min_bytes = compress_min_bytes
        self.retry_after = retry_after
        self.stats = CacheStats()
        self._clock = clock
        self._down_until: float | None = None
        self._compressor = zstandard.ZstdCompressor(level=3)
        self._decompressor = zstandard.ZstdDecompressor()
        self.observer: Observer = NULL_OBSERVER
        """Told about every lookup and every outage (set by the composition root)."""

    def cacheable(self, params: Mapping[str, Any]) -> bool:
        """Whether a request with these sampling parameters may be cached."""
        return not self.only_deterministic or is_deterministic(params)

    @property
    def available(self) -> bool:
        """False while the backend is being skipped after a failure."""
        return self._down_until is None or self._clock() >= self._down_until

    def _failed(self, exc: CacheUnavailable) -> None:
        self.stats.errors += 1
        if self._down_until is None:
            logger.warning("%s: serving without cache until it answers again", exc)
            self.observer.cache_availability(self.backend.name, available=False)
        self._down_until = self._clock() + self.retry_after

    def _answered(self) -> None:
        if self._down_until is not None:
            logger.warning("cache backend %s answers again", self.backend.name)
            self._down_until = None
            self.observer.cache_availability(self.backend.name, available=True)

    def encode(self, value: bytes, cost_s: float = 0.0) -> bytes:
        """The stored form of ``value``: compressed when at least ``compress_min_bytes``."""
        if len(value) >= self.compress_min_bytes:
            packed = self._compressor.compress(value)
            if len(packed) < len(value):
                return _HEADER.pack(_ZSTD, cost_s) + packed
        return _HEADER.pack(_RAW, cost_s) + value

    def decode(self, stored: bytes) -> tuple[bytes, float] | None:
        """``(value, cost_s)`` from a stored form; ``None`` when it is not one (a miss)."""
        if len(stored) < _HEADER.size:
            return None
        kind, cost = _HEADER.unpack_from(stored)
        body = stored[_HEADER.size :]
        if kind == _RAW:
            return body, cost
        if kind == _ZSTD:
            try:
                return self._decompressor.decompress(body), cost
            except zstandard.ZstdError:
                return None
        return None

    async def get(self, key: str) -> bytes | None:
        """The cached value, or ``None`` (absent, expired, corrupt, or backend down)."""
        if not self.available:
            self.stats.misses += 1
            self.observer.cache_looked_up(self.backend.name, "error")
            return None
        try:
            stored = await self.backend.get(key)
        except CacheUnavailable as exc:
            self._failed(exc)
            self.stats.misses += 1
            self.observer.cache_looked_up(self.backend.name, "error")
            return None
        self._answered()
        decoded = self.decode(stored) if stored is not None else None
        if decoded is None:
            self.stats.misses += 1
            self.observer.cache_looked_up(self.backend.name, "miss")
            return None
        value, cost = decoded
        self.stats.hits += 1
        self.observer.cache_looked_up(self.backend.name, "hit")
        self.stats.seconds_saved += cost
        return value

    async def put(
        self, key: str, value: bytes, *, ttl: float | None = None, cost_s: float = 0.0
    ) -> bool:
        """Store ``value`` (``cost_s``: what it took to make); whether it was stored."""
        if not self.available:
            return False
        stored = self.encode(value, cost_s)
        try:
            await self.backend.set(key, stored, ttl if ttl is not None else self.ttl)
        except CacheUnavailable as exc:
            self._failed(exc)
            return False
        self._answered()
        self.stats.stores += 1
        self.stats.bytes_stored += len(stored)
        self.stats.bytes_saved += max(0, len(value) + _HEADER.size - len(stored))
        return True

    async def invalidate(self, pattern: str = "*") -> int:
        """Delete the entries matching ``pattern`` (see :func:`key_pattern`); how many.

        Raises :class:`~assistant.errors.CacheUnavailable` when the backend cannot answer: an
        operator asking to clear must know it did not happen.
        """
        deleted = await self.backend.delete_matching(pattern)
        self._answered()
        return deleted

    async def describe(self) -> dict[str, Any]:
        """Statistics and what the backend holds (``entries``/``bytes`` ``None`` if down)."""
        size: dict[str, Any] = {"entries": None, "bytes": None}
        try:
            held = await self.backend.size()
            size = {"entries": held.entries, "bytes": held.bytes}
        except CacheUnavailable:
            pass
        return {"backend": self.backend.name, "available": self.available, **size,
                **self.stats.as_dict()}  # fmt: skip

    async def aclose(self) -> None:
        """Release the backend's connections."""
        await self.backend.aclose()
