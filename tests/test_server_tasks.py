"""OpenWebUI's background tasks (title, tags, follow-ups) are recognised and answered by the
task model as a raw model: no agent loop, no tool, cached. One OpenWebUI turn is replayed
with and without task routing and the model and tool calls are counted."""

from __future__ import annotations

import json
from typing import Any

import httpx
import pytest

from assistant.config import Settings
from assistant.server import create_app
from assistant.server.tasks import background_task
from assistant.server.wire.chat import ChatCompletionRequest
from tests.fakes.scripted import (
    ScriptedChatModel,
    ScriptedProvider,
    call_tools,
    reply,
    scripted_assistant,
    tool_call,
)

CHAT = [{"role": "user", "content": "What is the capital of France?"}]
HISTORY = "<chat_history>\nUSER: What is the capital of France?\nASSISTANT: Paris.\n</chat_history>"
# OpenWebUI's default templates (config.py), shortened after their first lines
TITLE = (
    "### Task:\nGenerate a concise, 3-5 word title with an emoji summarizing the chat history.\n"
    f'### Output:\nJSON format: {{ "title": "your concise title here" }}\n{HISTORY}'
)
TAGS = (
    "### Task:\nGenerate 1-3 broad tags categorizing the main themes of the chat history, "
    f'along with 1-3 more specific subtopic tags.\n### Output:\nJSON format: {{ "tags": [] }}\n'
    f"{HISTORY}"
)
FOLLOW_UPS = (
    "### Task:\nSuggest 3-5 relevant follow-up questions or prompts that the user might "
    f'naturally ask next.\n### Output:\nJSON format: {{ "follow_ups": [] }}\n{HISTORY}'
)


def _task_body(prompt: str) -> dict[str, Any]:
    """What OpenWebUI's tasks router forwards (``metadata`` is dropped on the way)."""
    return {
        "model": "helper",
        "messages": [{"role": "user", "content": prompt}],
        "stream": False,
        "max_completion_tokens": 1000,
    }


def _turn_api(routing: bool) -> tuple[httpx.AsyncClient, ScriptedChatModel, ScriptedChatModel]:
    # the agent's model reaches for its tool on every request, as a tool-happy model does
    agent_model = ScriptedChatModel(
        script=[call_tools(tool_call("echo", {"text": "x"})), reply("Paris.")], cycle=True
    )
    task_model = ScriptedChatModel(script=[reply('{"title": "🇫🇷 French capital"}')], cycle=True)
    assistant = scripted_assistant(
        ScriptedProvider("s", agent_model),
        ScriptedProvider("t", task_model),
        profiles={"helper": {"model": "s:m", "tools": ["echo"]}},
        server={"tasks": {"enabled": routing, "model": "t:m"}},
    )
    app = create_app(assistant.settings, assistant)
    client = httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")
    return client, agent_model, task_model


async def _one_openwebui_turn(api: httpx.AsyncClient, header: bool) -> list[httpx.Response]:
    extra = {"X-OpenWebUI-Task": ""} if header else {}
    chat = await api.post(
        "/v1/chat/completions",
        json={"model": "helper", "messages": CHAT, "stream": True},
        headers=extra,
    )
    answers = [chat]
    for task, prompt in [
        ("title_generation", TITLE),
        ("tags_generation", TAGS),
        ("follow_up_generation", FOLLOW_UPS),
    ]:
        headers = {"X-OpenWebUI-Task": task} if header else {}
        answers.append(
            await api.post("/v1/chat/completions", json=_task_body(prompt), headers=headers)
        )
    return answers


def _tool_calls(model: ScriptedChatModel) -> int:
    return sum(
        1
        for messages in model.seen
        for message in messages
        if getattr(message, "type", "") == "tool"
    )


@pytest.mark.parametrize("header", [True, False], ids=["by-header", "by-template"])
async def test_one_openwebui_turn_costs_fewer_calls_with_task_routing(header: bool) -> None:
    api, agent_model, task_model = _turn_api(routing=True)
    async with api:
        routed = await _one_openwebui_turn(api, header)
    assert all(response.status_code == 200 for response in routed)
    tasks = ["title_generation", "tags_generation", "follow_up_generation"]
    for response, task in zip(routed[1:], tasks, strict=True):
        assert response.headers["x-assistant-task"] == task
        assert response.json()["model"] == "helper"  # the asked model is echoed
        assert json.loads(response.json()["choices"][0]["message"]["content"])["title"]
    assert len(agent_model.seen) == 2  # the chat only: tool call, then the answer
    assert len(task_model.seen) == 3  # one call per task, no tool offered
    assert all(not offered for offered in task_model.offered)

    api, agent_unrouted, _ = _turn_api(routing=False)
    async with api:
        unrouted = await _one_openwebui_turn(api, header)
    assert all(response.status_code == 200 for response in unrouted)
    assert len(agent_unrouted.seen) == 8  # every task ran the agent loop with its tool
    # one turn: 8 calls of the agent's model and 4 tool runs, against 2 + 3 and 1
    assert _tool_calls(agent_unrouted) == 4 and _tool_calls(agent_model) == 1


async def test_tasks_are_deterministic_and_cached() -> None:
    task_model = ScriptedChatModel(script=[reply('{"title": "x"}')], cycle=True)
    assistant = scripted_assistant(
        ScriptedProvider("t", task_model),
        server={"tasks": {"model": "t:m"}},
        default_model="t:m",
    )
    app = create_app(assistant.settings, assistant)
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as api:
        body = {**_task_body(TITLE), "model": "t:m"}
        first = await api.post("/v1/chat/completions", json=body)
        again = await api.post("/v1/chat/completions", json=body)
    assert first.headers["x-cache"] == "miss" and again.headers["x-cache"] == "hit"
    assert len(task_model.seen) == 1
    assert task_model.calls[0].kwargs.get("temperature") == 0.0


@pytest.mark.parametrize(
    ("headers", "body", "expected"),
    [
        ({}, {"messages": CHAT}, None),
        ({"x-openwebui-task": ""}, {"messages": CHAT}, None),
        ({"x-openwebui-task": "title_generation"}, {"messages": CHAT}, "title_generation"),
        ({}, {"messages": CHAT, "metadata": {"task": "tags_generation"}}, "tags_generation"),
        ({}, {"messages": [{"role": "user", "content": TITLE}]}, "title_generation"),
        ({}, {"messages": [{"role": "user", "content": FOLLOW_UPS}]}, "follow_up_generation"),
        # a user who writes "### Task:" without a chat history is chatting
        ({}, {"messages": [{"role": "user", "content": "### Task:\nwrite a title"}]}, None),
    ],
)
def test_recognition(headers: dict[str, str], body: dict[str, Any], expected: str | None) -> None:
    request = ChatCompletionRequest.model_validate({"model": "m", **body})
    assert background_task(headers, request, Settings().server.tasks) == expected
