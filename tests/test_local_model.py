"""The embedded model really answers: through LangChain, streamed, queued, bounded."""

from __future__ import annotations

import asyncio
import json

import pytest
from langchain_core.messages import AIMessageChunk, HumanMessage, SystemMessage, ToolMessage

from assistant.agent import Assistant
from assistant.config import LocalModelSettings
from assistant.errors import ContextLengthExceeded
from assistant.providers import LocalProvider
from assistant.providers.llama_engine import LlamaEngine, bundled_model_path

pytestmark = pytest.mark.slow

QUESTION = [HumanMessage("Name a colour of the sky.")]
CALCULATOR = {
    "type": "function",
    "function": {
        "name": "calculator",
        "description": "Evaluate an arithmetic expression.",
        "parameters": {
            "type": "object",
            "properties": {"expression": {"type": "string"}},
            "required": ["expression"],
        },
    },
}
CLOCK = {
    "type": "function",
    "function": {
        "name": "current_time",
        "description": "The current time in an IANA timezone.",
        "parameters": {
            "type": "object",
            "properties": {"timezone": {"type": "string"}},
            "required": ["timezone"],
        },
    },
}


def _engine(assistant: Assistant) -> LlamaEngine:
    provider = assistant.registry.get("local")
    assert isinstance(provider, LocalProvider)
    return provider.engines["smollm2"]


def test_weights_come_from_the_wheel() -> None:
    path = bundled_model_path()
    assert path.is_file()
    assert "site-packages" in str(path) and path.suffix == ".gguf"


async def test_answers_with_token_counts(local_assistant: Assistant) -> None:
    model = local_assistant.chat_model("local:smollm2")
    message = await model.ainvoke(QUESTION, max_tokens=24, temperature=0)
    assert isinstance(message.content, str) and message.content.strip()
    assert message.response_metadata["finish_reason"] in ("stop", "length")
    usage = message.usage_metadata
    assert usage is not None
    assert usage["input_tokens"] > 0 and 0 < usage["output_tokens"] <= 24


def test_sync_invoke(local_assistant: Assistant) -> None:
    message = local_assistant.chat_model("local:smollm2").invoke(QUESTION, max_tokens=8)
    assert (
        message.content and message.usage_metadata and message.usage_metadata["output_tokens"] > 0
    )


async def test_streams_token_by_token(local_assistant: Assistant) -> None:
    model = local_assistant.chat_model("local:smollm2")
    chunks = [chunk async for chunk in model.astream(QUESTION, max_tokens=16, temperature=0)]
    texts = [chunk.content for chunk in chunks if chunk.content]
    assert len(texts) >= 4, "expected many small deltas, not one block"
    total = chunks[0]
    for chunk in chunks[1:]:
        total = total + chunk
    assert isinstance(total, AIMessageChunk)
    assert total.usage_metadata and total.usage_metadata["output_tokens"] > 0
    assert total.usage_metadata["input_tokens"] > 0


def test_sync_stream(local_assistant: Assistant) -> None:
    chunks = list(local_assistant.chat_model("local:smollm2").stream(QUESTION, max_tokens=8))
    assert sum(1 for chunk in chunks if chunk.content) >= 2


async def test_same_seed_same_answer(local_assistant: Assistant) -> None:
    model = local_assistant.chat_model("local:smollm2")
    first = await model.ainvoke(QUESTION, max_tokens=16, temperature=0.8, seed=7)
    second = await model.ainvoke(QUESTION, max_tokens=16, temperature=0.8, seed=7)
    assert first.content == second.content


async def test_concurrent_calls_are_queued(local_assistant: Assistant) -> None:
    model = local_assistant.chat_model("local:smollm2")
    prompts = [[HumanMessage(f"Count to {n}.")] for n in range(2, 6)]
    results = await asyncio.gather(
        *(model.ainvoke(p, max_tokens=12, temperature=0) for p in prompts)
    )
    assert all(result.content for result in results)
    assert _engine(local_assistant).queue_depth == 0


async def test_event_loop_stays_free_while_generating(local_assistant: Assistant) -> None:
    model = local_assistant.chat_model("local:smollm2")
    ticks = 0

    async def ticker() -> None:
        nonlocal ticks
        while True:
            await asyncio.sleep(0.005)
            ticks += 1

    task = asyncio.create_task(ticker())
    try:
        await model.ainvoke(QUESTION, max_tokens=48, temperature=0)
    finally:
        task.cancel()
    assert ticks >= 5, "the event loop was blocked by generation"


async def test_closing_a_stream_stops_generation(local_assistant: Assistant) -> None:
    engine = _engine(local_assistant)
    stream = engine.astream(
        [{"role": "user", "content": "Write a long story."}], {"max_tokens": 400}
    )
    received = 0
    async for chunk in stream:
        received += len(chunk.text) > 0
        if received == 3:
            break
    await stream.aclose()
    # the worker is free again: a new job starts and finishes, the queue drains
    await engine.acomplete([{"role": "user", "content": "Hi"}], {"max_tokens": 2})
    assert engine.queue_depth == 0


async def test_prompt_over_context_is_a_clear_error(local_assistant: Assistant) -> None:
    model = local_assistant.chat_model("local:smollm2")
    too_long = [HumanMessage("word " * 5000)]
    with pytest.raises(ContextLengthExceeded, match="maximum context length is 2048"):
        await model.ainvoke(too_long)
    # and the engine still works afterwards
    assert (await model.ainvoke(QUESTION, max_tokens=4)).content


async def test_forced_tool_call_fills_arguments_under_the_schema(
    local_assistant: Assistant,
) -> None:
    model = local_assistant.chat_model("local:smollm2").bind_tools(
        [CALCULATOR, CLOCK], tool_choice={"type": "function", "function": {"name": "calculator"}}
    )
    message = await model.ainvoke([HumanMessage("What is 17 * 23?")])
    assert len(message.tool_calls) == 1
    call = message.tool_calls[0]
    assert call["name"] == "calculator"
    assert set(call["args"]) == {"expression"} and isinstance(call["args"]["expression"], str)
    assert call["id"] and message.usage_metadata and message.usage_metadata["output_tokens"] > 0


async def test_auto_tool_choice_picks_among_the_offered_tools(local_assistant: Assistant) -> None:
    model = local_assistant.chat_model("local:smollm2").bind_tools([CALCULATOR, CLOCK])
    message = await model.ainvoke([HumanMessage("Use the calculator: what is 1234 * 5678?")])
    # the tiny model may answer in text; if it calls a tool, the call must be well-formed
    for call in message.tool_calls:
        assert call["name"] in ("calculator", "current_time")
        assert isinstance(call["args"], dict)
    if not message.tool_calls:
        assert isinstance(message.content, str) and message.content


async def test_after_a_tool_result_auto_answers_in_text(local_assistant: Assistant) -> None:
    model = local_assistant.chat_model("local:smollm2").bind_tools([CALCULATOR])
    call = {
        "name": "calculator",
        "args": {"expression": "17 * 23"},
        "id": "call_1",
        "type": "tool_call",
    }
    from langchain_core.messages import AIMessage

    history = [
        SystemMessage("Answer with the tool's result."),
        HumanMessage("What is 17 * 23?"),
        AIMessage("", tool_calls=[call]),
        ToolMessage("391", tool_call_id="call_1"),
    ]
    message = await model.ainvoke(history, max_tokens=24)
    assert not message.tool_calls and message.content


async def test_streamed_tool_call_arrives_as_tool_call_chunks(local_assistant: Assistant) -> None:
    model = local_assistant.chat_model("local:smollm2").bind_tools(
        [CALCULATOR], tool_choice="required"
    )
    chunks = [chunk async for chunk in model.astream([HumanMessage("What is 2 + 2?")])]
    calls = [call for chunk in chunks for call in chunk.tool_call_chunks]
    assert calls and calls[0]["name"] == "calculator"
    assert "expression" in json.loads(calls[0]["args"] or "{}")


def test_other_gguf_files_are_further_local_models(tmp_path) -> None:  # type: ignore[no-untyped-def]
    settings = LocalModelSettings(path=tmp_path / "missing.gguf")
    engine = LlamaEngine("other", settings)
    try:
        assert engine.model_path == tmp_path / "missing.gguf"
        assert not engine.loaded
    finally:
        engine.close()
