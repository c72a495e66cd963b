"""The response cache through the API: hits and misses, Cache-Control, streams replayed, tools,
tenants kept apart, errors and cut-off streams never stored, and the admin routes."""

from __future__ import annotations

import json
from typing import Any

import httpx

from assistant.config import Settings
from assistant.server import create_app
from assistant.server.auth import hash_key
from tests.fakes.scripted import (
    ScriptedChatModel,
    ScriptedProvider,
    call_tools,
    reply,
    scripted_assistant,
    tool_call,
)

ALICE, BOB, ADMIN = "sk-aw-cache-alice-000000", "sk-aw-cache-bob-1111111", "sk-aw-cache-admin-22222"
ASK = {"model": "s:m", "messages": [{"role": "user", "content": "Capital of France?"}]}
DETERMINISTIC = {**ASK, "temperature": 0}


def client(model: ScriptedChatModel, **settings: Any) -> httpx.AsyncClient:
    assistant = scripted_assistant(ScriptedProvider("s", model))
    configured = Settings.model_validate(settings)
    assistant.settings = assistant.settings.model_copy(update={"cache": configured.cache})
    from assistant.cache import response_cache

    assistant.cache = response_cache(configured.cache) if configured.cache.enabled else None
    app = create_app(configured, assistant)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


def frames(body: str) -> list[Any]:
    lines = [line[6:] for line in body.splitlines() if line.startswith("data: ")]
    assert lines[-1] == "[DONE]"
    return [json.loads(line) for line in lines[:-1]]


def streamed_text(events: list[Any]) -> str:
    return "".join(c["delta"].get("content") or "" for e in events for c in e["choices"])


async def test_a_deterministic_request_is_answered_from_cache_the_second_time() -> None:
    model = ScriptedChatModel(script=[reply("Paris."), reply("Lyon?")])
    async with client(model) as api:
        first = await api.post("/v1/chat/completions", json=DETERMINISTIC)
        second = await api.post("/v1/chat/completions", json=DETERMINISTIC)
    assert first.headers["x-cache"] == "miss" and second.headers["x-cache"] == "hit"
    assert len(model.calls) == 1
    one, two = first.json(), second.json()
    assert two["choices"][0]["message"] == one["choices"][0]["message"]
    assert two["usage"] == one["usage"] and two["id"] != one["id"]


async def test_sampled_requests_bypass_the_cache() -> None:
    model = ScriptedChatModel(script=[reply("one"), reply("two")])
    async with client(model) as api:
        first = await api.post("/v1/chat/completions", json={**ASK, "temperature": 0.9})
        second = await api.post("/v1/chat/completions", json={**ASK, "temperature": 0.9})
    assert first.headers["x-cache"] == second.headers["x-cache"] == "bypass"
    assert len(model.calls) == 2
    seeded = ScriptedChatModel(script=[reply("seeded")])
    async with client(seeded) as api:
        await api.post("/v1/chat/completions", json={**ASK, "temperature": 0.9, "seed": 4})
        again = await api.post("/v1/chat/completions", json={**ASK, "temperature": 0.9, "seed": 4})
    assert again.headers["x-cache"] == "hit"  # a seed makes it repeatable


async def test_cache_control_skips_the_lookup_or_the_write() -> None:
    model = ScriptedChatModel(script=[reply("a"), reply("b"), reply("c")])
    async with client(model) as api:
        no_store = await api.post(
            "/v1/chat/completions", json=DETERMINISTIC, headers={"Cache-Control": "no-store"}
        )
        stored = await api.post("/v1/chat/completions", json=DETERMINISTIC)  # nothing was kept
        hit = await api.post("/v1/chat/completions", json=DETERMINISTIC)
        fresh = await api.post(
            "/v1/chat/completions", json={**DETERMINISTIC, "cache_control": "no-cache"}
        )
    assert [r.headers["x-cache"] for r in (no_store, stored, hit, fresh)] == [
        "miss",
        "miss",
        "hit",
        "miss",
    ]
    contents = [r.json()["choices"][0]["message"]["content"] for r in (stored, hit, fresh)]
    assert contents == ["b", "b", "c"] and len(model.calls) == 3


async def test_streams_are_cached_and_replayed_as_streams() -> None:
    model = ScriptedChatModel(script=[reply("The capital is Paris.")])
    body = {**DETERMINISTIC, "stream": True, "stream_options": {"include_usage": True}}
    async with client(model) as api:
        first = await api.post("/v1/chat/completions", json=body)
        second = await api.post("/v1/chat/completions", json=body)
        whole = await api.post("/v1/chat/completions", json=DETERMINISTIC)
    assert (first.headers["x-cache"], second.headers["x-cache"]) == ("miss", "hit")
    replay = frames(second.text)
    assert replay[0]["choices"][0]["delta"]["role"] == "assistant"
    assert streamed_text(replay) == streamed_text(frames(first.text)) == "The capital is Paris."
    assert replay[-2]["choices"][0]["finish_reason"] == "stop"
    assert replay[-1]["choices"] == [] and replay[-1]["usage"]["total_tokens"] == 15
    assert whole.headers["x-cache"] == "hit"  # a whole answer from the cached stream
    assert whole.json()["choices"][0]["message"]["content"] == "The capital is Paris."
    assert len(model.calls) == 1


async def test_tool_calls_are_cached() -> None:
    model = ScriptedChatModel(script=[call_tools(tool_call("calc", {"x": 1}, id="call_a"))])
    tool = {"type": "function", "function": {"name": "calc", "parameters": {"type": "object"}}}
    body = {**DETERMINISTIC, "tools": [tool]}
    async with client(model) as api:
        first = await api.post("/v1/chat/completions", json=body)
        second = await api.post("/v1/chat/completions", json={**body, "stream": True})
    calls = first.json()["choices"][0]["message"]["tool_calls"]
    assert calls[0]["function"] == {"name": "calc", "arguments": '{"x": 1}'}
    assert second.headers["x-cache"] == "hit"
    deltas = [c["delta"] for e in frames(second.text) for c in e["choices"]]
    (streamed,) = [d["tool_calls"][0] for d in deltas if "tool_calls" in d]
    assert streamed["index"] == 0 and streamed["function"] == calls[0]["function"]
    assert len(model.calls) == 1


async def test_tenants_never_share_answers() -> None:
    keys = [{"name": "alice", "sha256": hash_key(ALICE)}, {"name": "bob", "sha256": hash_key(BOB)}]
    model = ScriptedChatModel(script=[reply("for alice"), reply("for bob")])
    async with client(model, server={"auth": {"keys": keys}}) as api:
        alice = {"Authorization": f"Bearer {ALICE}"}
        bob = {"Authorization": f"Bearer {BOB}"}
        await api.post("/v1/chat/completions", json=DETERMINISTIC, headers=alice)
        theirs = await api.post("/v1/chat/completions", json=DETERMINISTIC, headers=bob)
    assert theirs.headers["x-cache"] == "miss"
    assert theirs.json()["choices"][0]["message"]["content"] == "for bob"


async def test_errors_and_cut_off_streams_are_never_stored() -> None:
    model = ScriptedChatModel(script=[ValueError("boom"), reply("fine")])
    async with client(model) as api:
        failed = await api.post("/v1/chat/completions", json=DETERMINISTIC)
        after = await api.post("/v1/chat/completions", json=DETERMINISTIC)
    assert failed.status_code == 500 and after.headers["x-cache"] == "miss"

    class CutOff(ScriptedChatModel):
        async def _astream(self, *args: Any, **kwargs: Any) -> Any:
            async for chunk in super()._astream(*args, **kwargs):
                yield chunk
                raise ConnectionResetError("upstream went away")

    cut = CutOff(script=[reply("half an answer"), reply("whole answer")])
    body = {**DETERMINISTIC, "stream": True}
    async with client(cut) as api:
        broken = await api.post("/v1/chat/completions", json=body)
        again = await api.post("/v1/chat/completions", json=DETERMINISTIC)
    assert '"error"' in broken.text
    assert again.headers["x-cache"] == "miss"


async def test_admin_routes_report_and_clear() -> None:
    admin = {"Authorization": f"Bearer {ADMIN}"}
    alice = {"Authorization": f"Bearer {ALICE}"}
    auth = {"keys": [{"name": "alice", "sha256": hash_key(ALICE)}], "admin_sha256": hash_key(ADMIN)}
    model = ScriptedChatModel(script=[reply("x"), reply("y")])
    async with client(model, server={"auth": auth}) as api:
        await api.post("/v1/chat/completions", json=DETERMINISTIC, headers=alice)
        await api.post("/v1/chat/completions", json=DETERMINISTIC, headers=alice)
        stats = (await api.get("/v1/cache/stats", headers=admin)).json()
        assert (stats["hits"], stats["misses"], stats["entries"]) == (1, 1, 1)
        assert stats["backend"] == "memory" and stats["hit_ratio"] == 0.5
        assert (await api.get("/v1/cache/stats", headers=alice)).status_code == 403
        other = await api.delete("/v1/cache", params={"model": "s:other"}, headers=admin)
        assert other.json()["deleted"] == 0
        cleared = await api.delete("/v1/cache", params={"model": "s:m"}, headers=admin)
        assert cleared.json()["deleted"] == 1
        again = await api.post("/v1/chat/completions", json=DETERMINISTIC, headers=alice)
        assert again.headers["x-cache"] == "miss"
    async with client(ScriptedChatModel(script=[]), cache={"enabled": False}) as api:
        off = await api.get("/v1/cache/stats")
        assert off.status_code == 403  # admin routes need the admin key before anything else
