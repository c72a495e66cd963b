"""Agent profiles served as models by the OpenAI-compatible API.

In-process (httpx's ASGI transport) with scripted models, plus one end-to-end test of the
real embedded model through ``assistant serve`` and the official ``openai`` SDK.
"""

from __future__ import annotations

import json
import re
from typing import Any

import httpx
import pytest

from assistant.config import Settings
from assistant.errors import ProviderHTTPError
from assistant.server import create_app
from assistant.tools import ToolRegistry
from tests.fakes.scripted import (
    ScriptedChatModel,
    ScriptedProvider,
    call_tools,
    reply,
    scripted_assistant,
    tool_call,
)

PROFILE = "helper"


def _client(*providers: ScriptedProvider, **profile: Any) -> httpx.AsyncClient:
    profile.setdefault("model", "s:m")
    assistant = scripted_assistant(*providers, profiles={PROFILE: profile})
    app = create_app(assistant.settings, assistant)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


def _chat(stream: bool = False, **extra: Any) -> dict[str, Any]:
    return {
        "model": PROFILE,
        "messages": [{"role": "user", "content": "Please echo hi"}],
        "stream": stream,
        **extra,
    }


def _frames(body: str) -> list[str]:
    return [line[len("data: ") :] for line in body.splitlines() if line.startswith("data: ")]


def _echo_then_answer() -> ScriptedChatModel:
    return ScriptedChatModel(
        script=[
            call_tools(tool_call("echo", {"text": "hi"}), input_tokens=11, output_tokens=3),
            reply("The echo said hi", input_tokens=17, output_tokens=4),
        ]
    )


def _assert_openai_error(response: httpx.Response, status: int) -> dict[str, Any]:
    assert response.status_code == status
    assert response.headers["content-type"].startswith("application/json")
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert "Traceback" not in error["message"]
    return dict(error)


async def test_models_lists_the_profile() -> None:
    async with _client(ScriptedProvider("s", ScriptedChatModel())) as client:
        listed = (await client.get("/v1/models")).json()["data"]
        one = await client.get(f"/v1/models/{PROFILE}")

    by_id = {model["id"]: model for model in listed}
    assert by_id[PROFILE]["owned_by"] == "agent"
    assert by_id[PROFILE]["object"] == "model"
    assert "s:m" in by_id  # the profile's model is listed too
    assert one.status_code == 200 and one.json()["id"] == PROFILE


async def test_chat_with_a_profile_returns_the_agents_answer_and_usage() -> None:
    model = _echo_then_answer()
    async with _client(ScriptedProvider("s", model)) as client:
        response = await client.post("/v1/chat/completions", json=_chat())

    assert response.status_code == 200
    body = response.json()
    assert body["object"] == "chat.completion" and body["model"] == PROFILE
    choice = body["choices"][0]
    assert choice["message"] == {"role": "assistant", "content": "The echo said hi"}
    assert choice["finish_reason"] == "stop"  # the agent ran the tool itself
    assert body["usage"] == {"prompt_tokens": 28, "completion_tokens": 7, "total_tokens": 35}
    assert len(model.calls) == 2  # model, tool, model: the agent loop ran


async def test_streaming_a_profile_shows_tool_activity_then_the_answer() -> None:
    async with _client(ScriptedProvider("s", _echo_then_answer())) as client:
        response = await client.post(
            "/v1/chat/completions",
            json=_chat(stream=True, stream_options={"include_usage": True}),
        )

    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = _frames(response.text)
    assert events[-1] == "[DONE]"
    frames = [json.loads(event) for event in events[:-1]]
    assert {frame["object"] for frame in frames} == {"chat.completion.chunk"}
    assert {frame["model"] for frame in frames} == {PROFILE}
    assert len({frame["id"] for frame in frames}) == 1

    assert frames[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    usage = frames[-1]
    assert usage["choices"] == []
    assert usage["usage"] == {"prompt_tokens": 28, "completion_tokens": 7, "total_tokens": 35}
    finish = frames[-2]["choices"][0]
    assert finish == {"index": 0, "delta": {}, "finish_reason": "stop"}

    deltas = [frame["choices"][0]["delta"] for frame in frames[1:-2]]
    reasoning = [d["reasoning_content"] for d in deltas if "reasoning_content" in d]
    content = [d["content"] for d in deltas if "content" in d]
    assert len(reasoning) + len(content) == len(deltas)  # nothing else is sent
    assert reasoning == ['Calling echo({"text": "hi"})\n', "echo returned: hi\n"]
    assert len(content) > 1 and "".join(content) == "The echo said hi"
    last_reasoning = max(i for i, d in enumerate(deltas) if "reasoning_content" in d)
    first_content = min(i for i, d in enumerate(deltas) if "content" in d)
    assert last_reasoning < first_content


async def test_streaming_without_usage_option_sends_no_usage_chunk() -> None:
    async with _client(ScriptedProvider("s", _echo_then_answer())) as client:
        response = await client.post("/v1/chat/completions", json=_chat(stream=True))

    frames = [json.loads(event) for event in _frames(response.text)[:-1]]
    assert all(frame["choices"] for frame in frames)
    assert frames[-1]["choices"][0]["finish_reason"] == "stop"


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
async def test_provider_failure_before_output_is_an_http_error(stream: bool) -> None:
    broken = ScriptedChatModel(fail_at={1: ProviderHTTPError("s", 503, "upstream down")})
    async with _client(ScriptedProvider("s", broken)) as client:
        response = await client.post("/v1/chat/completions", json=_chat(stream=stream))

    error = _assert_openai_error(response, 502)
    assert error["type"] == "server_error" and error["code"] == "upstream_error"
    assert "upstream down" in error["message"]


async def test_rate_limit_in_the_agent_is_a_429_with_retry_after() -> None:
    limited = ScriptedChatModel(
        fail_at={1: ProviderHTTPError("s", 429, "slow down", retry_after=7)}
    )
    async with _client(ScriptedProvider("s", limited)) as client:
        response = await client.post("/v1/chat/completions", json=_chat(stream=True))

    error = _assert_openai_error(response, 429)
    assert error["type"] == "rate_limit_error"
    assert response.headers["retry-after"] == "7"


async def test_every_model_of_the_profile_chain_failing_is_a_502() -> None:
    a = ScriptedChatModel(fail_at={1: ProviderHTTPError("a", 503, "a down")})
    b = ScriptedChatModel(fail_at={1: ProviderHTTPError("b", 500, "b down")})
    async with _client(
        ScriptedProvider("a", a), ScriptedProvider("b", b), model="a:m -> b:m"
    ) as client:
        response = await client.post("/v1/chat/completions", json=_chat())

    error = _assert_openai_error(response, 502)
    assert error["code"] == "all_providers_failed"
    assert "a down" in error["message"] and "b down" in error["message"]


async def test_failure_after_output_is_one_error_frame_then_done() -> None:
    model = ScriptedChatModel(
        script=[call_tools(tool_call("echo", {"text": "hi"}))],
        fail_at={2: ProviderHTTPError("s", 500, "broke mid-turn")},
    )
    async with _client(ScriptedProvider("s", model)) as client:
        response = await client.post("/v1/chat/completions", json=_chat(stream=True))

    assert response.status_code == 200  # the stream had started (tool activity was sent)
    events = _frames(response.text)
    assert events[-1] == "[DONE]"
    error = json.loads(events[-2])["error"]
    assert error["code"] == "upstream_error" and "broke mid-turn" in error["message"]
    reasoning = [
        json.loads(event)["choices"][0]["delta"].get("reasoning_content") for event in events[1:-2]
    ]
    assert reasoning[0].startswith("Calling echo(")


@pytest.mark.parametrize("stream", [False, True], ids=["whole", "streamed"])
async def test_unknown_profile_like_name_is_a_404(stream: bool) -> None:
    async with _client(ScriptedProvider("s", ScriptedChatModel())) as client:
        response = await client.post(
            "/v1/chat/completions", json={**_chat(stream=stream), "model": "helpr"}
        )

    error = _assert_openai_error(response, 404)
    assert error["code"] == "model_not_found" and error["param"] == "model"


# -- the real thing -----------------------------------------------------------------------------


def _builtin_tool_names() -> set[str]:
    return {tool.name for tool in ToolRegistry.from_settings(Settings())}


@pytest.mark.slow
@pytest.mark.timeout(900)  # two agent turns on 2 shared CPU cores: seconds idle, minutes loaded
def test_real_agent_through_the_openai_sdk(server_url: str) -> None:
    """The default ``assistant`` profile on ``local:smollm2``, through ``assistant serve``.

    The tiny model's words are not asserted, only the protocol: an answer, and tool activity
    (if any) naming a real tool.
    """
    import openai

    client = openai.OpenAI(
        base_url=f"{server_url}/v1", api_key="anything", max_retries=0, timeout=400
    )
    assert "assistant" in [model.id for model in client.models.list()]
    question = [{"role": "user", "content": "What is 12 times 7?"}]

    completion = client.chat.completions.create(model="assistant", messages=question)
    assert completion.model == "assistant"
    assert completion.choices[0].message.role == "assistant"
    assert (completion.choices[0].message.content or "").strip()
    assert completion.usage is not None and completion.usage.prompt_tokens > 0

    stream = client.chat.completions.create(
        model="assistant",
        messages=question,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    content = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert content.strip()
    reasoning = "".join(
        (c.choices[0].delta.model_extra or {}).get("reasoning_content") or ""
        for c in chunks
        if c.choices
    )
    called = re.findall(r"^Calling (\w+)\(", reasoning, flags=re.MULTILINE)
    assert set(called) <= _builtin_tool_names()
    finishes = [
        c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason
    ]
    assert finishes == ["stop"]
    assert chunks[-1].choices == [] and chunks[-1].usage is not None


async def test_request_temperature_reaches_the_agents_model_calls() -> None:
    model = ScriptedChatModel(script=[reply("ok")])
    async with _client(ScriptedProvider("s", model), temperature=1.0) as client:
        response = await client.post(
            "/v1/chat/completions", json=_chat(temperature=0.0, max_tokens=9)
        )
    assert response.status_code == 200, response.text
    assert model.calls[-1].kwargs["temperature"] == 0.0
    assert model.calls[-1].kwargs["max_tokens"] == 9
