"""The response cache in front of an agent's model calls: hits replace calls, keys keep tenants,
profiles and settings apart, TTL per profile, no-store/no-cache, and X-Cache through the API."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from assistant.agent import AgentResult, Assistant, CachePolicy
from assistant.cache import key_pattern
from assistant.server import create_app
from assistant.types import ModelCallRecord, TextDelta, ToolCallRecord
from tests.fakes.scripted import (
    ScriptedChatModel,
    ScriptedProvider,
    call_tools,
    reply,
    scripted_assistant,
    tool_call,
)

PROFILE = "helper"
ASK = "What is the capital of France?"


def _assistant(model: ScriptedChatModel, **profile: Any) -> Assistant:
    profile = {"model": "s:m", "temperature": 0, "tools": ["echo"], **profile}
    return scripted_assistant(ScriptedProvider("s", model), profiles={PROFILE: profile})


def _model_calls(result: AgentResult) -> list[ModelCallRecord]:
    return [step for step in result.trajectory if isinstance(step, ModelCallRecord)]


async def test_a_repeated_turn_is_answered_from_cache_tool_steps_included() -> None:
    model = ScriptedChatModel(
        script=[call_tools(tool_call("echo", {"text": "Paris"}, id="c1")), reply("Paris.")]
    )
    assistant = _assistant(model)
    first = await assistant.agent(PROFILE).arun(ASK)
    second = await assistant.agent(PROFILE).arun(ASK)  # the script is exhausted: hits only

    assert len(model.calls) == 2
    assert first.answer == second.answer == "Paris."
    assert (first.cache, second.cache) == ("miss", "hit")
    assert [call.cached for call in _model_calls(second)] == [True, True]
    assert [call.cached for call in _model_calls(first)] == [False, False]
    # the tool still runs: only model calls are cached
    assert [s.name for s in second.trajectory if isinstance(s, ToolCallRecord)] == ["echo"]
    assert second.usage == first.usage
    assert assistant.cache is not None and assistant.cache.stats.hits == 2


async def test_sampled_turns_are_not_cached_unless_configured() -> None:
    model = ScriptedChatModel(script=[reply("one"), reply("two")])
    assistant = _assistant(model, temperature=0.7)
    results = [await assistant.agent(PROFILE).arun(ASK) for _ in range(2)]
    assert [r.answer for r in results] == ["one", "two"]
    assert [r.cache for r in results] == ["bypass", "bypass"]

    everything = ScriptedChatModel(script=[reply("one")])
    assistant = scripted_assistant(
        ScriptedProvider("s", everything),
        profiles={PROFILE: {"model": "s:m", "temperature": 0.7}},
        cache={"only_deterministic": False},
    )
    results = [await assistant.agent(PROFILE).arun(ASK) for _ in range(2)]
    assert [r.cache for r in results] == ["miss", "hit"]


async def test_a_run_s_own_temperature_zero_makes_it_cacheable() -> None:
    model = ScriptedChatModel(script=[reply("one")])
    assistant = _assistant(model, temperature=0.7)
    runs = [
        await assistant.agent(PROFILE).arun(ASK, model_settings={"temperature": 0})
        for _ in range(2)
    ]
    assert [r.cache for r in runs] == ["miss", "hit"]


async def test_tenants_profiles_and_settings_never_share_entries() -> None:
    model = ScriptedChatModel(script=[reply(f"answer {i}") for i in range(5)])
    assistant = _assistant(model)
    agent = assistant.agent(PROFILE)
    alice = await agent.arun(ASK, cache_policy=CachePolicy(tenant="alice"))
    bob = await agent.arun(ASK, cache_policy=CachePolicy(tenant="bob"))
    longer = await agent.arun(ASK, cache_policy=CachePolicy("alice"), model_settings={"seed": 3})
    edited = await assistant.agent(PROFILE, system_prompt="Answer in French.").arun(
        ASK, cache_policy=CachePolicy(tenant="alice")
    )
    other_question = await agent.arun("And of Spain?", cache_policy=CachePolicy(tenant="alice"))
    assert [r.cache for r in (alice, bob, longer, edited, other_question)] == ["miss"] * 5
    assert len({r.answer for r in (alice, bob, longer, edited, other_question)}) == 5
    again = await agent.arun(ASK, cache_policy=CachePolicy(tenant="bob"))
    assert (again.cache, again.answer) == ("hit", bob.answer)


async def test_no_cache_skips_the_lookup_and_no_store_the_write() -> None:
    model = ScriptedChatModel(script=[reply("a"), reply("b"), reply("c"), reply("d")])
    agent = _assistant(model).agent(PROFILE)
    not_stored = await agent.arun(ASK, cache_policy=CachePolicy(write=False))
    stored = await agent.arun(ASK, cache_policy=CachePolicy(read=False))
    fresh = await agent.arun(ASK, cache_policy=CachePolicy(read=False))
    hit = await agent.arun(ASK)
    assert [r.answer for r in (not_stored, stored, fresh)] == ["a", "b", "c"]
    assert hit.answer == "c" and hit.cache == "hit"  # no-cache still writes
    neither = await agent.arun(ASK, cache_policy=CachePolicy(read=False, write=False))
    assert (neither.answer, neither.cache) == ("d", "bypass")


async def test_a_profile_can_opt_out_and_set_its_own_ttl() -> None:
    model = ScriptedChatModel(script=[reply("a"), reply("b")])
    agent = _assistant(model, cache=False).agent(PROFILE)
    assert [(await agent.arun(ASK)).cache for _ in range(2)] == ["bypass", "bypass"]

    model = ScriptedChatModel(script=[reply("a")])
    assistant = _assistant(model, cache_ttl=42)
    await assistant.agent(PROFILE).arun(ASK)
    assert assistant.cache is not None
    backend: Any = assistant.cache.backend
    ((_, (_, expires)),) = backend._items.items()  # the memory backend's one entry
    assert 41 < expires - backend._clock() <= 42


async def test_failed_model_calls_are_not_stored() -> None:
    from assistant.errors import ProviderHTTPError

    model = ScriptedChatModel(script=[ProviderHTTPError("s", 400, "bad request"), reply("fine")])
    agent = _assistant(model).agent(PROFILE)
    with pytest.raises(ProviderHTTPError):
        await agent.arun(ASK)
    result = await agent.arun(ASK)
    assert result.answer == "fine" and result.cache == "miss"


async def test_a_cached_turn_streams_its_answer() -> None:
    model = ScriptedChatModel(script=[reply("Paris is the capital.")])
    agent = _assistant(model).agent(PROFILE)
    await agent.arun(ASK)
    events = [event async for event in agent.astream(ASK)]
    text = "".join(e.text for e in events if isinstance(e, TextDelta))
    result = events[-1]
    assert isinstance(result, AgentResult)
    assert text == result.answer == "Paris is the capital." and result.cache == "hit"


async def test_invalidating_a_profile_namespace_drops_its_entries() -> None:
    model = ScriptedChatModel(script=[reply("a"), reply("b")])
    assistant = _assistant(model)
    await assistant.agent(PROFILE).arun(ASK, cache_policy=CachePolicy(tenant="t"))
    assert assistant.cache is not None
    assert await assistant.cache.invalidate(key_pattern(model="other-profile")) == 0
    assert await assistant.cache.invalidate(key_pattern(model=PROFILE)) == 1
    again = await assistant.agent(PROFILE).arun(ASK, cache_policy=CachePolicy(tenant="t"))
    assert (again.answer, again.cache) == ("b", "miss")


def _api(assistant: Assistant) -> httpx.AsyncClient:
    app = create_app(assistant.settings, assistant)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


async def test_the_api_says_whether_an_agent_turn_came_from_cache() -> None:
    model = ScriptedChatModel(script=[reply("Paris."), reply("Lyon.")])
    body = {"model": PROFILE, "messages": [{"role": "user", "content": ASK}]}
    async with _api(_assistant(model)) as api:
        first = await api.post("/v1/chat/completions", json=body)
        second = await api.post("/v1/chat/completions", json=body)
        streamed = await api.post("/v1/chat/completions", json={**body, "stream": True})
        skipped = await api.post(
            "/v1/chat/completions", json=body, headers={"Cache-Control": "no-cache"}
        )
    assert [r.headers["x-cache"] for r in (first, second, streamed)] == ["miss", "hit", "hit"]
    assert second.json()["choices"][0]["message"]["content"] == "Paris."
    frames = [
        json.loads(line[6:])
        for line in streamed.text.splitlines()
        if line.startswith("data: ") and line != "data: [DONE]"
    ]
    text = "".join(c["delta"].get("content") or "" for f in frames for c in f["choices"])
    assert text == "Paris."
    assert skipped.headers["x-cache"] == "miss"
    assert skipped.json()["choices"][0]["message"]["content"] == "Lyon."
