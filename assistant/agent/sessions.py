"""Conversations continued by id: the CLI's ``--session`` and the notebooks keep one going.

The OpenAI API is stateless (clients resend the conversation), so the server does not use
sessions. Stores: process memory (the default; bounded in count, expiring after the profile's
``session_ttl``), Redis when ``sessions.redis_url`` is set (shared by processes and machines,
keys expire by themselves), and JSON files for the CLI.
"""

from __future__ import annotations

import hashlib
import json
import os
import threading
import time
from collections import OrderedDict
from collections.abc import Callable
from pathlib import Path
from typing import Protocol

from langchain_core.messages import BaseMessage, messages_from_dict, messages_to_dict

from assistant.errors import SessionStoreError


class SessionStore(Protocol):
    """Where a conversation's messages live between turns."""

    async def load(self, session_id: str) -> list[BaseMessage]:
        """The conversation so far (empty for a new or expired session)."""
        ...

    async def save(self, session_id: str, messages: list[BaseMessage], ttl: float) -> None:
        """Replace the conversation, kept ``ttl`` seconds from now."""
        ...

    async def delete(self, session_id: str) -> None:
        """Forget the conversation."""
        ...


class MemorySessionStore:
    """Sessions in this process: least recently used ones go first past ``max_sessions``."""

    def __init__(
        self, max_sessions: int = 10_000, clock: Callable[[], float] = time.monotonic
    ) -> None:
        self.max_sessions = max_sessions
        self._clock = clock
        self._lock = threading.Lock()
        self._sessions: OrderedDict[str, tuple[float, list[BaseMessage]]] = OrderedDict()

    async def load(self, session_id: str) -> list[BaseMessage]:
        with self._lock:
            entry = self._sessions.get(session_id)
            if entry is None:
                return []
            expires, messages = entry
            if expires <= self._clock():
                del self._sessions[session_id]
                return []
            self._sessions.move_to_end(session_id)
            return list(messages)

    async def save(self, session_id: str, messages: list[BaseMessage], ttl: float) -> None:
        with self._lock:
            self._sessions[session_id] = (self._clock() + ttl, list(messages))
            self._sessions.move_to_end(session_id)
            while len(self._sessions) > self.max_sessions:
                self._sessions.popitem(last=False)

    async def delete(self, session_id: str) -> None:
        with self._lock:
            self._sessions.pop(session_id, None)

    def __len__(self) -> int:
        return len(self._sessions)


class FileSessionStore:
    """Sessions as JSON files (the CLI's ``--session``): they outlive the process.

    Each file stores its expiry time (last save plus the TTL); ids are hashed into file names,
    so any id is safe. Writes go to a temporary file first, then replace the old one.
    """

    def __init__(self, directory: Path, clock: Callable[[], float] = time.time) -> None:
        self.directory = directory
        self._clock = clock

    def _file(self, session_id: str) -> Path:
        digest = hashlib.sha256(session_id.encode()).hexdigest()[:32]
        return self.directory / f"{digest}.json"

    async def load(self, session_id: str) -> list[BaseMessage]:
        path = self._file(session_id)
        try:
            record = json.loads(path.read_text(encoding="utf-8"))
            expired = float(record.get("expires", 0)) <= self._clock()
            messages = [] if expired else list(messages_from_dict(record["messages"]))
        except FileNotFoundError:
            return []
        except (ValueError, KeyError, TypeError, AttributeError):
            return []  # not UTF-8, not JSON, or not a session: a fresh session, not a failure
        if expired:
            path.unlink(missing_ok=True)
        return messages

    async def save(self, session_id: str, messages: list[BaseMessage], ttl: float) -> None:
        self.directory.mkdir(parents=True, exist_ok=True)
        path = self._file(session_id)
        record = {
            "id": session_id,
            "expires": self._clock() + ttl,
            "messages": messages_to_dict(messages),
        }
        temporary = path.with_suffix(f".{os.getpid()}.tmp")
        try:
            temporary.write_text(json.dumps(record), encoding="utf-8")
            temporary.replace(path)
        finally:
            temporary.unlink(missing_ok=True)  # only left over when the write failed

    async def delete(self, session_id: str) -> None:
        self._file(session_id).unlink(missing_ok=True)


class RedisSessionStore:
    """Sessions in Redis: one key per session, holding its messages as JSON, with a TTL."""

    def __init__(
        self, url: str, *, prefix: str = "assistant:session:", timeout: float = 2.0
    ) -> None:
        import redis.asyncio

        self.prefix = prefix
        self._client = redis.asyncio.Redis.from_url(
            url, socket_timeout=timeout, socket_connect_timeout=timeout
        )

    def _key(self, session_id: str) -> str:
        return self.prefix + hashlib.sha256(session_id.encode()).hexdigest()[:32]

    async def ping(self) -> bool:
        """Whether Redis answers (for the server's ``/ready``)."""
        from redis.exceptions import RedisError

        try:
            return bool(await self._client.ping())
        except (RedisError, OSError):
            return False

    async def load(self, session_id: str) -> list[BaseMessage]:
        from redis.exceptions import RedisError

        try:
            raw = await self._client.get(self._key(session_id))
        except RedisError as exc:
            raise SessionStoreError(
                f"session store (Redis) unavailable: {type(exc).__name__}"
            ) from None
        if raw is None:
            return []
        try:
            return list(messages_from_dict(json.loads(raw)["messages"]))
        except (ValueError, KeyError, TypeError):
            return []  # a corrupt entry is a fresh session, not a failure

    async def save(self, session_id: str, messages: list[BaseMessage], ttl: float) -> None:
        from redis.exceptions import RedisError

        payload = json.dumps({"id": session_id, "messages": messages_to_dict(messages)})
        try:
            await self._client.set(self._key(session_id), payload, px=max(1, int(ttl * 1000)))
        except RedisError as exc:
            raise SessionStoreError(
                f"session store (Redis) unavailable: {type(exc).__name__}"
            ) from None

    async def delete(self, session_id: str) -> None:
        from redis.exceptions import RedisError

        try:
            await self._client.delete(self._key(session_id))
        except RedisError as exc:
            raise SessionStoreError(
                f"session store (Redis) unavailable: {type(exc).__name__}"
            ) from None

    async def aclose(self) -> None:
        """Close the connection pool."""
        await self._client.aclose()


def session_store(redis_url: str | None, max_sessions: int) -> SessionStore:
    """Redis when a URL is configured, else process memory."""
    if redis_url:
        return RedisSessionStore(redis_url)
    return MemorySessionStore(max_sessions)
