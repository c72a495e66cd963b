"""A caller's own functions offered to an agent profile, through chat completions and the
Responses API: a call to one ends the turn and comes back as the answer's tool call (whole and
streamed), unexecuted; the profile's own tools still run. Scripted models (deterministic)."""

from __future__ import annotations

import json
from typing import Any

import httpx

from assistant.server import create_app
from tests.fakes.scripted import (
    ScriptedChatModel,
    ScriptedProvider,
    call_tools,
    reply,
    scripted_assistant,
    tool_call,
)

WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "Weather in a city.",
        "parameters": {"type": "object", "properties": {"city": {"type": "string"}}},
    },
}
ASK = [{"role": "user", "content": "Weather in Paris? And echo hi first."}]


def _api(*script: Any) -> tuple[httpx.AsyncClient, ScriptedChatModel]:
    model = ScriptedChatModel(script=list(script))
    assistant = scripted_assistant(
        ScriptedProvider("s", model),
        profiles={"helper": {"model": "s:m", "tools": ["echo"]}},
        cache={"enabled": False},
    )
    app = create_app(assistant.settings, assistant)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")
    return client, model


def _script() -> list[Any]:
    return [
        call_tools(tool_call("echo", {"text": "hi"}, id="c1")),
        call_tools(tool_call("get_weather", {"city": "Paris"}, id="c2")),
    ]


def _frames(text: str) -> list[dict[str, Any]]:
    return [json.loads(line[6:]) for line in text.splitlines() if line.startswith("data: {")]


async def test_chat_whole_answer_carries_the_client_call() -> None:
    api, model = _api(*_script())
    async with api:
        response = await api.post(
            "/v1/chat/completions", json={"model": "helper", "messages": ASK, "tools": [WEATHER]}
        )
    assert response.status_code == 200, response.text
    choice = response.json()["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    (call,) = choice["message"]["tool_calls"]
    assert call["id"] == "c2" and call["function"]["name"] == "get_weather"
    assert json.loads(call["function"]["arguments"]) == {"city": "Paris"}
    assert len(model.seen) == 2  # echo ran (a second model call), get_weather ended the turn
    assert "get_weather" in model.offered[0] and "echo" in model.offered[0]


async def test_chat_stream_carries_the_client_call_as_tool_call_deltas() -> None:
    api, _ = _api(*_script())
    async with api:
        response = await api.post(
            "/v1/chat/completions",
            json={"model": "helper", "messages": ASK, "tools": [WEATHER], "stream": True},
        )
    frames = _frames(response.text)
    calls = [c for f in frames for c in f["choices"][0]["delta"].get("tool_calls", [])]
    assert [c["function"]["name"] for c in calls] == ["get_weather"]
    assert json.loads(calls[0]["function"]["arguments"]) == {"city": "Paris"}
    assert frames[-1]["choices"][0]["finish_reason"] == "tool_calls"
    reasoning = "".join(f["choices"][0]["delta"].get("reasoning_content", "") for f in frames)
    assert "Calling echo" in reasoning and "get_weather" not in reasoning


async def test_without_tools_the_agent_answers_as_before() -> None:
    api, model = _api(reply("Sunny."))
    async with api:
        response = await api.post("/v1/chat/completions", json={"model": "helper", "messages": ASK})
    assert response.json()["choices"][0]["message"] == {"role": "assistant", "content": "Sunny."}
    assert "get_weather" not in model.offered[0]


async def test_responses_api_agent_function_call_whole_and_streamed() -> None:
    flat = {"type": "function", **WEATHER["function"]}  # the Responses API's tool shape
    api, _ = _api(*_script(), *_script())
    async with api:
        whole = await api.post(
            "/v1/responses", json={"model": "helper", "input": ASK, "tools": [flat]}
        )
        streamed = await api.post(
            "/v1/responses",
            json={"model": "helper", "input": ASK, "tools": [flat], "stream": True},
        )
    body = whole.json()
    (item,) = body["output"]
    assert item["type"] == "function_call" and item["call_id"] == "c2"
    events = [json.loads(line[6:]) for line in streamed.text.splitlines()
              if line.startswith("data: ")]  # fmt: skip
    kinds = [event["type"] for event in events]
    assert "response.function_call_arguments.delta" in kinds
    final = events[-1]["response"]
    assert kinds[-1] == "response.completed"
    assert [i["name"] for i in final["output"] if i["type"] == "function_call"] == ["get_weather"]


async def test_previous_response_id_is_shared_by_workers_through_redis(redis_url: str) -> None:
    """Two app instances (two workers) over one Redis session store: a response stored by
    one is continued on the other; without Redis each worker knows only its own."""
    from assistant.agent.sessions import MemorySessionStore, RedisSessionStore

    models: list[ScriptedChatModel] = []

    def worker(sessions: Any) -> httpx.AsyncClient:
        model = ScriptedChatModel(script=[reply("First."), reply("Second.")], cycle=True)
        models.append(model)
        assistant = scripted_assistant(ScriptedProvider("s", model), sessions=sessions)
        app = create_app(assistant.settings, assistant)
        return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")

    one, two = worker(RedisSessionStore(redis_url)), worker(RedisSessionStore(redis_url))
    async with one, two:
        first = await one.post("/v1/responses", json={"model": "s:m", "input": "Hi"})
        follow = await two.post(
            "/v1/responses",
            json={"model": "s:m", "input": "And?", "previous_response_id": first.json()["id"]},
        )
    assert follow.status_code == 200, follow.text
    assert follow.json()["previous_response_id"] == first.json()["id"]
    seen = [message.text for message in models[1].seen[0]]
    assert seen == ["Hi", "First.", "And?"]  # the other worker continued the conversation

    alone, other = worker(MemorySessionStore()), worker(MemorySessionStore())
    async with alone, other:
        first = await alone.post("/v1/responses", json={"model": "s:m", "input": "Hi"})
        lost = await other.post(
            "/v1/responses",
            json={"model": "s:m", "input": "And?", "previous_response_id": first.json()["id"]},
        )
    assert lost.status_code == 400
    assert lost.json()["error"]["code"] == "previous_response_not_found"


async def test_a_failing_session_store_does_not_fail_a_finished_answer() -> None:
    class Broken:
        async def load(self, session_id: str) -> list[Any]:
            return []

        async def save(self, session_id: str, messages: list[Any], ttl: float) -> None:
            raise RuntimeError("redis is down")

        async def delete(self, session_id: str) -> None:
            return None

    model = ScriptedChatModel(script=[reply("Fine.")], cycle=True)
    assistant = scripted_assistant(ScriptedProvider("s", model), sessions=Broken())
    app = create_app(assistant.settings, assistant)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as api:
        whole = await api.post("/v1/responses", json={"model": "s:m", "input": "Hi"})
        streamed = await api.post(
            "/v1/responses", json={"model": "s:m", "input": "Hi", "stream": True}
        )
    assert whole.status_code == 200 and whole.json()["status"] == "completed"
    kinds = [json.loads(line[6:])["type"] for line in streamed.text.splitlines()
             if line.startswith("data: ")]  # fmt: skip
    assert kinds[-1] == "response.completed" and "error" not in kinds


async def test_a_task_name_from_the_client_is_never_echoed_raw() -> None:
    model = ScriptedChatModel(script=[reply("t")], cycle=True)
    assistant = scripted_assistant(ScriptedProvider("s", model))
    app = create_app(assistant.settings, assistant)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as api:
        response = await api.post(
            "/v1/chat/completions",
            json={"model": "s:m", "messages": ASK, "metadata": {"task": "título ☃\r\nX: y"}},
        )
    assert response.status_code == 200
    assert response.headers["x-assistant-task"] == "background_task"
