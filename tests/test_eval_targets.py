"""Targets and their variants: one model or profile tried with other prompts, params and tools."""

from __future__ import annotations

import tomllib

import pytest

from assistant import AssistantError, ProfileSettings, Settings
from evals import Case, resolve_target
from tests.fakes.scripted import (
    ScriptedChatModel,
    ScriptedProvider,
    call_tools,
    reply,
    scripted_assistant,
    tool_call,
)

CASE = Case(
    id="c1",
    input=[
        {"role": "system", "content": "Case system prompt."},
        {"role": "user", "content": "Hi"},
    ],
)


async def test_model_variant_replaces_the_system_prompt_and_passes_params() -> None:
    model = ScriptedChatModel(script=[reply("hello")])
    assistant = scripted_assistant(ScriptedProvider("p", model))
    target = resolve_target(
        "p:m",
        assistant,
        label="p:m terse",
        params={"temperature": 0.0, "max_tokens": 7, "seed": 3},
        system_prompt="Be terse.",
    )
    assert target.name == "p:m terse" and target.group == "p"
    output = await target.run(CASE)
    assert output.output == "hello" and output.error is None
    assert output.usage.prompt_tokens == 10 and output.latency_s >= (output.ttft_s or 0)
    (call,) = model.calls
    assert [m.type for m in call.messages] == ["system", "human"]
    assert call.messages[0].content == "Be terse." and call.messages[1].content == "Hi"
    assert {k: call.kwargs[k] for k in ("temperature", "max_tokens", "seed")} == {
        "temperature": 0.0,
        "max_tokens": 7,
        "seed": 3,
    }


async def test_a_plain_model_target_keeps_the_case_system_prompt() -> None:
    model = ScriptedChatModel(script=[reply("ok")])
    target = resolve_target("p:m", scripted_assistant(ScriptedProvider("p", model)))
    await target.run(CASE)
    assert model.calls[0].messages[0].content == "Case system prompt."
    assert "temperature" not in model.calls[0].kwargs


async def test_agent_variant_overrides_prompt_and_tools_without_touching_the_profile() -> None:
    model = ScriptedChatModel(
        script=[call_tools(tool_call("echo", {"text": "x"})), reply("done")], cycle=True
    )
    assistant = scripted_assistant(
        ScriptedProvider("p", model), profiles={"helper": {"model": "p:m"}}
    )
    no_tools = resolve_target(
        "helper", assistant, label="helper bare", tools=[], system_prompt="Never use tools."
    )
    assert no_tools.name == "helper bare" and no_tools.group == "p"
    agent = no_tools.agent()  # type: ignore[attr-defined]
    assert agent.tools == [] and agent.profile.system_prompt == "Never use tools."
    assert assistant.agent("helper").profile.system_prompt != "Never use tools."  # untouched
    assert {t.name for t in assistant.agent("helper").tools} == {"current_time", "echo"}

    echo_only = resolve_target("helper", assistant, tools=["echo"], params={"temperature": 0.5})
    output = await echo_only.run(Case(id="c", input="say x"))
    assert output.tools_called == ["echo"] and output.output == "done"
    assert model.calls[0].kwargs.get("temperature") == 0.5


def test_variants_are_checked_early() -> None:
    assistant = scripted_assistant(
        ScriptedProvider("p", ScriptedChatModel()), profiles={"helper": {"model": "p:m"}}
    )
    with pytest.raises(AssistantError, match="takes no tools"):
        resolve_target("p:m", assistant, tools=["echo"])
    with pytest.raises(AssistantError, match="model refs and agent profiles"):
        resolve_target("py:module:function", assistant, label="x")
    with pytest.raises(AssistantError, match="nope"):
        resolve_target("helper", assistant, tools=["nope"])


def test_profile_to_toml_round_trips_through_settings() -> None:
    profile = ProfileSettings(
        model="openai:gpt-4o-mini",
        system_prompt='Say "hi".\nThen stop \\ wait.',
        tools=["calculator"],
        temperature=0.2,
    )
    snippet = profile.to_toml("my variant")
    assert snippet.startswith('[profiles."my variant"]\n')
    assert "max_model_calls" not in snippet  # defaults are left out
    parsed = tomllib.loads(snippet)
    settings = Settings.model_validate(parsed)
    assert settings.profiles["my variant"] == profile
