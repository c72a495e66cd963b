"""Sessions in a real Redis: round trip, TTL on the key, isolation, outage as a clear error."""

from __future__ import annotations

import pytest
import redis.asyncio
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from assistant.agent import build_assistant
from assistant.agent.sessions import RedisSessionStore
from assistant.config import Settings
from assistant.errors import SessionStoreError

CONVERSATION = [
    HumanMessage("What is 2+2?"),
    AIMessage(
        "",
        tool_calls=[
            {"name": "calculator", "args": {"expression": "2+2"}, "id": "c1", "type": "tool_call"}
        ],
    ),
    ToolMessage("4", tool_call_id="c1", name="calculator"),
    AIMessage("4."),
]


async def test_round_trip_and_ttl(redis_url: str) -> None:
    store = RedisSessionStore(redis_url)
    try:
        await store.save("user/42 é", CONVERSATION, ttl=30)
        loaded = await store.load("user/42 é")
        assert [m.type for m in loaded] == ["human", "ai", "tool", "ai"]
        assert isinstance(loaded[1], AIMessage) and loaded[1].tool_calls[0]["args"] == {
            "expression": "2+2"
        }
        raw = redis.asyncio.Redis.from_url(redis_url)
        ttl_ms = await raw.pttl(store._key("user/42 é"))
        await raw.aclose()
        assert 0 < ttl_ms <= 30_000
        assert await store.load("someone else") == []
        await store.delete("user/42 é")
        assert await store.load("user/42 é") == []
    finally:
        await store.aclose()


async def test_corrupt_entry_is_a_fresh_session(redis_url: str) -> None:
    store = RedisSessionStore(redis_url)
    raw = redis.asyncio.Redis.from_url(redis_url)
    try:
        await raw.set(store._key("broken"), b"{not json")
        assert await store.load("broken") == []
    finally:
        await raw.aclose()
        await store.aclose()


async def test_redis_down_is_a_clear_error() -> None:
    from tests.conftest import free_port

    store = RedisSessionStore(f"redis://127.0.0.1:{free_port()}/0", timeout=0.5)
    try:
        with pytest.raises(SessionStoreError, match="Redis"):
            await store.load("x")
    finally:
        await store.aclose()


def test_build_assistant_uses_redis_when_configured(redis_url: str) -> None:
    assistant = build_assistant(Settings(sessions={"redis_url": redis_url}))
    assert isinstance(assistant.sessions, RedisSessionStore)
    assert not isinstance(build_assistant(Settings()).sessions, RedisSessionStore)
