"""The local model's two-step tool calling, with a scripted engine (deterministic)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import pytest
from langchain_core.messages import AIMessage, HumanMessage, ToolMessage

from assistant.errors import InvalidRequestError
from assistant.providers.llama_engine import LocalChunk, LocalCompletion
from assistant.providers.local import ChatLocalLlama
from assistant.types import Usage

CALCULATOR = {
    "type": "function",
    "function": {
        "name": "calculator",
        "description": "Evaluate arithmetic.",
        "parameters": {"type": "object", "properties": {"expression": {"type": "string"}}},
    },
}
CLOCK = {
    "type": "function",
    "function": {
        "name": "clock",
        "description": "Now.",
        "parameters": {"type": "object", "properties": {}},
    },
}


class ScriptedEngine:
    """Answers each call with the next scripted text; records what it was asked."""

    def __init__(self, *texts: str) -> None:
        self.texts = list(texts)
        self.calls: list[tuple[list[dict[str, Any]], dict[str, Any]]] = []

    def complete(self, messages: list[dict[str, Any]], params: dict[str, Any]) -> LocalCompletion:
        self.calls.append((messages, params))
        return LocalCompletion(text=self.texts.pop(0), finish_reason="stop", usage=Usage(5, 2))

    async def acomplete(
        self, messages: list[dict[str, Any]], params: dict[str, Any]
    ) -> LocalCompletion:
        return self.complete(messages, params)

    async def astream(
        self, messages: list[dict[str, Any]], params: dict[str, Any]
    ) -> AsyncIterator[LocalChunk]:
        self.calls.append((messages, params))
        yield LocalChunk(text=self.texts.pop(0))
        yield LocalChunk(text="", finish_reason="stop", usage=Usage(5, 1))

    def stream(
        self, messages: list[dict[str, Any]], params: dict[str, Any]
    ) -> Iterator[LocalChunk]:
        self.calls.append((messages, params))
        yield LocalChunk(text=self.texts.pop(0))


def _model(engine: ScriptedEngine) -> ChatLocalLlama:
    return ChatLocalLlama.model_construct(engine=engine, model_name="smollm2")


def test_select_then_fill_returns_a_tool_call() -> None:
    engine = ScriptedEngine('{"tool": "calculator"}', '{"expression": "2+2"}')
    message = _model(engine).bind_tools([CALCULATOR, CLOCK]).invoke([HumanMessage("2+2?")])
    assert isinstance(message, AIMessage)
    assert [(c["name"], c["args"]) for c in message.tool_calls] == [
        ("calculator", {"expression": "2+2"})
    ]
    assert message.response_metadata["finish_reason"] == "tool_calls"
    assert message.usage_metadata and message.usage_metadata["input_tokens"] == 10  # both steps
    selection_schema = engine.calls[0][1]["json_schema"]
    assert selection_schema["properties"]["tool"]["enum"] == ["calculator", "clock", "none"]
    assert engine.calls[1][1]["json_schema"] == CALCULATOR["function"]["parameters"]
    assert all(
        params["temperature"] == 0.0 and params["max_tokens"] <= 96 for _, params in engine.calls
    )


def test_choosing_none_answers_in_text() -> None:
    engine = ScriptedEngine('{"tool": "none"}', "Four.")
    message = _model(engine).bind_tools([CALCULATOR]).invoke([HumanMessage("2+2?")])
    assert message.content == "Four." and not message.tool_calls
    assert engine.calls[1][1].get("json_schema") is None


def test_required_with_several_tools_cannot_choose_none() -> None:
    engine = ScriptedEngine('{"tool": "clock"}', "{}")
    message = _model(engine).bind_tools([CALCULATOR, CLOCK], tool_choice="required").invoke("now?")
    assert message.tool_calls[0]["name"] == "clock"
    assert "none" not in engine.calls[0][1]["json_schema"]["properties"]["tool"]["enum"]


def test_forced_tool_skips_selection() -> None:
    engine = ScriptedEngine('{"expression": "1+1"}')
    choice = {"type": "function", "function": {"name": "calculator"}}
    message = _model(engine).bind_tools([CALCULATOR, CLOCK], tool_choice=choice).invoke("1+1")
    assert message.tool_calls[0]["args"] == {"expression": "1+1"}
    assert len(engine.calls) == 1


def test_unusable_arguments_fall_back_to_a_text_answer() -> None:
    engine = ScriptedEngine('{"expression": "17 * 23 + 4 = 3', "It is 395.")
    message = _model(engine).bind_tools([CALCULATOR], tool_choice="calculator").invoke("17*23+4?")
    assert not message.tool_calls and message.content == "It is 395."
    assert message.response_metadata["finish_reason"] == "stop"


def test_after_a_tool_result_auto_answers_without_tool_steps() -> None:
    engine = ScriptedEngine("The answer is 4.")
    history = [
        HumanMessage("2+2?"),
        AIMessage(
            "", tool_calls=[{"name": "calculator", "args": {"expression": "2+2"}, "id": "c1"}]
        ),
        ToolMessage("4", tool_call_id="c1"),
    ]
    message = _model(engine).bind_tools([CALCULATOR]).invoke(history)
    assert message.content == "The answer is 4." and len(engine.calls) == 1
    rendered = engine.calls[0][0]
    assert rendered[-1] == {"role": "tool", "content": "4"}
    assert json.loads(rendered[-2]["content"]) == {
        "name": "calculator",
        "arguments": {"expression": "2+2"},
    }


def test_tool_choice_naming_an_absent_tool_is_an_invalid_request() -> None:
    engine = ScriptedEngine()
    with pytest.raises(InvalidRequestError, match="'weather'"):
        _model(engine).bind_tools([CALCULATOR], tool_choice="weather").invoke("hi")


async def test_streamed_tool_call_is_one_tool_call_chunk() -> None:
    engine = ScriptedEngine('{"expression": "3*3"}')
    chunks = [
        c
        async for c in _model(engine)
        .bind_tools([CALCULATOR], tool_choice="required")
        .astream("3*3")
    ]
    calls = [call for chunk in chunks for call in chunk.tool_call_chunks]
    assert len(calls) == 1 and calls[0]["name"] == "calculator"
    assert json.loads(calls[0]["args"] or "") == {"expression": "3*3"}
