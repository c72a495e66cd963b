"""The agent layer through ``Assistant.agent(name).arun/astream``, with scripted models.

Every model here is a :class:`~tests.fakes.scripted.ScriptedChatModel` reached through the
real provider layers (resilience, fallback chains), so each test is deterministic and checks
what the model was actually sent as well as what the run returned.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Sequence
from typing import Any

import pytest
from langchain_core.messages import (
    AIMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)
from langchain_core.messages.utils import count_tokens_approximately
from langchain_core.tools import tool as langchain_tool

from assistant.agent import AgentEvent, AgentResult, Assistant
from assistant.errors import ProviderHTTPError
from assistant.tools import ToolRegistry, make_tool, tool
from assistant.types import (
    ModelCallRecord,
    TextDelta,
    ToolCallRecord,
    ToolFinished,
    ToolStarted,
)
from tests.fakes.scripted import (
    ScriptedChatModel,
    ScriptedProvider,
    ScriptExhausted,
    builtin_tools,
    call_tools,
    reply,
    scripted_assistant,
    tool_call,
)

PROFILE = "helper"


def _assistant(
    model: ScriptedChatModel,
    *,
    tools: ToolRegistry | Sequence[Any] | None = None,
    **profile: Any,
) -> Assistant:
    """An assistant with one profile ``helper`` on the scripted model ``s:m``."""
    return scripted_assistant(
        ScriptedProvider("s", model),
        tools=tools,
        profiles={PROFILE: {"model": "s:m", **profile}},
    )


def _non_system(messages: list[BaseMessage]) -> list[BaseMessage]:
    return [message for message in messages if not isinstance(message, SystemMessage)]


def _tool_messages(messages: list[BaseMessage]) -> list[ToolMessage]:
    return [message for message in messages if isinstance(message, ToolMessage)]


async def _collect(assistant: Assistant, question: str, **kwargs: Any) -> list[AgentEvent]:
    return [event async for event in assistant.agent(PROFILE).astream(question, **kwargs)]


# -- the scripted model itself ------------------------------------------------------------------


async def test_scripted_model_streams_tokens_and_tool_call_chunks() -> None:
    model = ScriptedChatModel(
        script=[call_tools(tool_call("echo", {"text": "hi"}), text="Let me see.")]
    )
    chunks = [chunk async for chunk in model.bind_tools(builtin_tools().select()).astream("q")]

    assert [c.text for c in chunks if c.text] == ["Let ", "me ", "see."]
    with_calls = [c for c in chunks if c.tool_call_chunks]
    assert len(with_calls) == 1
    assert with_calls[0].tool_call_chunks[0]["name"] == "echo"
    assert json.loads(with_calls[0].tool_call_chunks[0]["args"] or "") == {"text": "hi"}
    merged = chunks[0]
    for chunk in chunks[1:]:
        merged += chunk
    assert merged.tool_calls[0]["args"] == {"text": "hi"}
    assert merged.usage_metadata is not None and merged.usage_metadata["input_tokens"] == 10
    assert model.offered == [["echo", "current_time"]]
    assert model.calls[0].streamed and model.calls[0].kwargs["tools"] == ["echo", "current_time"]


async def test_scripted_model_fails_at_call_n_and_when_its_script_runs_out() -> None:
    model = ScriptedChatModel(script=["one"], fail_at={1: ProviderHTTPError("p", 503, "down")})
    with pytest.raises(ProviderHTTPError):
        await model.ainvoke("q")
    assert (await model.ainvoke("q")).text == "one"  # the failure used no script item
    with pytest.raises(ScriptExhausted):
        await model.ainvoke("q")
    assert len(model.seen) == 3


# -- a tool call, then an answer ----------------------------------------------------------------


async def test_tool_call_then_answer_records_the_trajectory() -> None:
    model = ScriptedChatModel(
        script=[
            call_tools(tool_call("echo", {"text": "hi"}), input_tokens=11, output_tokens=3),
            reply("The echo said hi", input_tokens=17, output_tokens=4),
        ]
    )
    result = await _assistant(model).agent(PROFILE).arun("Please echo hi")

    assert result.answer == "The echo said hi"
    assert result.stopped is None
    assert result.tool_calls == ["echo"]
    assert [step.kind for step in result.trajectory] == ["model", "tool", "model"]
    first, echo, second = result.trajectory
    assert isinstance(first, ModelCallRecord) and isinstance(second, ModelCallRecord)
    assert isinstance(echo, ToolCallRecord)
    assert first.model == "s:m"
    assert first.tool_calls == [
        {"name": "echo", "args": {"text": "hi"}, "arguments": '{"text": "hi"}', "id": echo.call_id}
    ]
    assert (first.usage.prompt_tokens, first.usage.completion_tokens) == (11, 3)
    assert (second.usage.prompt_tokens, second.usage.completion_tokens) == (17, 4)
    assert second.text == "The echo said hi" and second.tool_calls == []
    assert (echo.name, echo.args, echo.result, echo.error) == ("echo", {"text": "hi"}, "hi", False)
    assert all(step.latency_s > 0 for step in result.trajectory)
    assert (result.usage.prompt_tokens, result.usage.completion_tokens) == (28, 7)
    assert result.usage.total_tokens == 35

    # the model's second call saw the tool's answer, paired with its call
    second_call = _non_system(model.seen[1])
    assert isinstance(second_call[-2], AIMessage) and second_call[-2].tool_calls
    assert isinstance(second_call[-1], ToolMessage)
    assert (second_call[-1].content, second_call[-1].tool_call_id) == ("hi", echo.call_id)
    # the profile's system prompt is sent first on every call, not stored in the conversation
    assert all(isinstance(call[0], SystemMessage) for call in model.seen)
    assert not any(isinstance(m, SystemMessage) for m in result.messages)
    assert [type(m) for m in result.messages] == [HumanMessage, AIMessage, ToolMessage, AIMessage]


async def test_concurrent_runs_keep_their_own_trajectories() -> None:
    def answer(messages: list[BaseMessage]) -> AIMessage:
        question = next(m for m in reversed(messages) if isinstance(m, HumanMessage)).text
        return reply(f"answer to {question}")

    agent = _assistant(ScriptedChatModel(script=[answer], cycle=True)).agent(PROFILE)
    results = await asyncio.gather(*(agent.arun(f"q{index}") for index in range(5)))

    assert [result.answer for result in results] == [f"answer to q{index}" for index in range(5)]
    assert all(len(result.trajectory) == 1 for result in results)
    assert [result.trajectory[0].text for result in results] == [r.answer for r in results]  # type: ignore[union-attr]


# -- tool failures go back to the model ---------------------------------------------------------


@tool
def explode(text: str) -> str:
    """Fail on purpose (a workbench tool).

    Args:
        text: Ignored.
    """
    raise RuntimeError(f"kaboom {text}")


@langchain_tool
def plain_explode(text: str) -> str:
    """Fail on purpose (a plain LangChain tool, no error handling of its own)."""
    raise RuntimeError(f"plain kaboom {text}")


@pytest.mark.parametrize(
    ("failing", "expected"),
    [
        (explode, "explode failed: RuntimeError: kaboom x"),
        (plain_explode, "plain_explode failed: RuntimeError: plain kaboom x"),
    ],
    ids=["workbench-tool", "langchain-tool"],
)
async def test_a_tool_that_raises_is_reported_to_the_model(failing: Any, expected: str) -> None:
    model = ScriptedChatModel(
        script=[call_tools(tool_call(failing.name, {"text": "x"})), reply("It failed, sorry.")]
    )
    result = await _assistant(model, tools=[failing]).agent(PROFILE).arun("go")

    assert result.answer == "It failed, sorry."
    assert result.stopped is None
    sent = _tool_messages(model.seen[1])
    assert len(sent) == 1
    assert sent[0].status == "error"
    assert sent[0].content == expected
    step = result.trajectory[1]
    assert isinstance(step, ToolCallRecord) and step.error and step.result == expected


async def test_an_unknown_tool_name_is_an_error_message_and_the_run_continues() -> None:
    model = ScriptedChatModel(
        script=[
            call_tools(tool_call("teleport", {"to": "Mars"})),
            call_tools(tool_call("echo", {"text": "fine"})),
            reply("done"),
        ]
    )
    result = await _assistant(model).agent(PROFILE).arun("go")

    assert result.answer == "done"
    unknown = _tool_messages(model.seen[1])[-1]
    assert unknown.status == "error"
    assert "teleport is not a valid tool" in unknown.text
    assert "echo" in unknown.text  # it says which tools exist
    assert _tool_messages(model.seen[2])[-1].content == "fine"
    assert result.tool_calls == ["teleport", "echo"]


async def test_bad_tool_arguments_reach_the_model_as_invalid_arguments() -> None:
    model = ScriptedChatModel(
        script=[call_tools(tool_call("echo", {"txt": "typo"})), reply("I will fix it.")]
    )
    result = await _assistant(model).agent(PROFILE).arun("echo something")

    assert result.answer == "I will fix it."
    error = _tool_messages(model.seen[1])[-1]
    assert error.status == "error"
    assert error.text.startswith("invalid arguments for echo")
    assert "text" in error.text  # names the missing argument


# -- limits end the run with an answer, never an exception --------------------------------------


async def test_model_call_limit_ends_the_run_with_an_answer() -> None:
    always_calls = ScriptedChatModel(
        script=[call_tools(tool_call("echo", {"text": "again"}))], cycle=True
    )
    result = await _assistant(always_calls, max_model_calls=3).agent(PROFILE).arun("loop")

    assert result.stopped == "model_call_limit"
    assert result.answer  # a message saying which limit was reached
    assert "limit" in result.answer.lower()
    assert len(always_calls.calls) == 3
    assert sum(isinstance(step, ModelCallRecord) for step in result.trajectory) == 3
    assert isinstance(result.messages[-1], AIMessage)
    assert result.messages[-1].text == result.answer


async def test_tool_call_limit_ends_the_run_with_an_answer() -> None:
    always_calls = ScriptedChatModel(
        script=[call_tools(tool_call("echo", {"text": "again"}))], cycle=True
    )
    agent = _assistant(always_calls, max_tool_calls=2, max_model_calls=10).agent(PROFILE)
    result = await agent.arun("loop")

    assert result.stopped == "tool_call_limit"
    assert "limit" in result.answer.lower()
    assert result.tool_calls == ["echo", "echo"]  # the third call was refused, not run
    assert len(always_calls.calls) == 3
    assert isinstance(result.messages[-1], AIMessage)
    assert result.messages[-1].text == result.answer


async def test_limit_message_is_streamed_as_text() -> None:
    always_calls = ScriptedChatModel(
        script=[call_tools(tool_call("echo", {"text": "again"}))], cycle=True
    )
    events = await _collect(_assistant(always_calls, max_model_calls=2), "loop")

    result = events[-1]
    assert isinstance(result, AgentResult)
    assert result.stopped == "model_call_limit"
    text = "".join(event.text for event in events if isinstance(event, TextDelta))
    assert text == result.answer
    assert "limit" in text.lower()


# -- fallback -----------------------------------------------------------------------------------


@pytest.mark.parametrize("streaming", [False, True], ids=["arun", "astream"])
@pytest.mark.parametrize("named", [False, True], ids=["inline-chain", "named-chain"])
async def test_transient_failure_falls_back_to_the_next_model(named: bool, streaming: bool) -> None:
    broken = ScriptedChatModel(fail_at={1: ProviderHTTPError("a", 503, "down")})
    healthy = ScriptedChatModel(script=[reply("answer from b")])
    assistant = scripted_assistant(
        ScriptedProvider("a", broken),
        ScriptedProvider("b", healthy),
        chains={"safe": ["a:m", "b:m"]},
        profiles={PROFILE: {"model": "safe" if named else "a:m -> b:m"}},
    )
    if streaming:
        events = await _collect(assistant, "hi")
        result = events[-1]
        assert isinstance(result, AgentResult)
        assert "".join(e.text for e in events if isinstance(e, TextDelta)) == "answer from b"
    else:
        result = await assistant.agent(PROFILE).arun("hi")

    assert result.answer == "answer from b"
    assert len(broken.calls) == 1 and len(healthy.calls) == 1
    assert healthy.calls[0].streamed is streaming
    # both members were offered the tools (bound before the chain was composed)
    assert broken.offered == healthy.offered == [["echo", "current_time"]]


async def test_non_transient_failure_is_raised_not_fallen_back() -> None:
    broken = ScriptedChatModel(fail_at={1: ProviderHTTPError("a", 400, "bad request")})
    healthy = ScriptedChatModel(script=[reply("should not be used")])
    assistant = scripted_assistant(
        ScriptedProvider("a", broken),
        ScriptedProvider("b", healthy),
        profiles={PROFILE: {"model": "a:m -> b:m"}},
    )
    with pytest.raises(ProviderHTTPError) as raised:
        await assistant.agent(PROFILE).arun("hi")

    assert raised.value.status_code == 400
    assert healthy.calls == []


# -- what the model is offered and sent ---------------------------------------------------------

_TOOL_DESCRIPTIONS = {
    "dice_roll": "Roll dice for board games.",
    "stock_quote": "Latest share price of a ticker symbol.",
    "send_email": "Send an email message to a recipient.",
    "unit_convert": "Convert measurements between units.",
    "calendar_events": "List upcoming calendar events.",
    "weather_forecast": "Forecast of weather conditions in a city.",
    "wiki_lookup": "Look up an encyclopedia article.",
    "file_reader": "Read a local file from disk.",
    "translate_text": "Translate sentences between languages.",
    "news_headlines": "Recent news headlines about a topic.",
}


def _named_tool(name: str, description: str) -> Any:
    def run(query: str) -> str:
        """Answer the query.

        Args:
            query: What to look for.
        """
        return f"{name}: {query}"

    return make_tool(run, name=name, description=description)


async def test_only_the_most_relevant_tools_are_offered() -> None:
    tools = [_named_tool(name, text) for name, text in _TOOL_DESCRIPTIONS.items()]
    model = ScriptedChatModel(script=[reply("Sunny, and 'ensoleillé' in French.")])
    assistant = _assistant(model, tools=tools, max_tools_offered=2)
    result = await assistant.agent(PROFILE).arun(
        "Weather forecast in Paris? Translate it into French."
    )

    assert len(model.bindings) == 1
    offered = model.bindings[0].tools
    assert len(offered) == 2
    # neither is among the first two registered: the choice follows the question's words
    assert set(offered) == {"weather_forecast", "translate_text"}
    assert result.answer.startswith("Sunny")


async def test_trajectory_records_the_tools_actually_offered() -> None:
    tools = [_named_tool(name, text) for name, text in _TOOL_DESCRIPTIONS.items()]
    model = ScriptedChatModel(script=[reply("ok")])
    agent = _assistant(model, tools=tools, max_tools_offered=2).agent(PROFILE)
    result = await agent.arun("Weather forecast in Paris? Translate it into French.")

    step = result.trajectory[0]
    assert isinstance(step, ModelCallRecord)
    assert sorted(step.tools_offered) == sorted(model.bindings[0].tools)


async def test_all_tools_are_offered_within_the_budget() -> None:
    model = ScriptedChatModel(script=[reply("ok")])
    await _assistant(model, tools=builtin_tools(), max_tools_offered=2).agent(PROFILE).arun("hi")
    assert model.offered == [["echo", "current_time"]]


def _long_conversation(turns: int, question: str) -> list[BaseMessage]:
    messages: list[BaseMessage] = []
    for index in range(turns):
        messages.append(HumanMessage(f"question {index}: " + "words " * 30))
        messages.append(AIMessage(f"answer {index}: " + "reply " * 30))
    messages.append(HumanMessage(question))
    return messages


async def test_context_budget_trims_old_turns_and_keeps_the_last_question() -> None:
    conversation = _long_conversation(12, "And the final question?")
    model = ScriptedChatModel(script=[reply("ok")])
    result = await _assistant(model, context_tokens=300).agent(PROFILE).arun(conversation)

    sent = _non_system(model.seen[0])
    assert len(sent) < len(conversation)
    assert isinstance(sent[0], HumanMessage)
    assert sent[-1].text == "And the final question?"
    assert sent == conversation[-len(sent) :]  # the newest messages, in order
    assert count_tokens_approximately(sent) <= 300
    # only the view is trimmed: the conversation returned is whole
    assert len(result.messages) == len(conversation) + 1


async def test_context_budget_keeps_a_last_question_over_budget() -> None:
    huge = "Summarise this: " + "lorem ipsum " * 400
    conversation = [*_long_conversation(3, "old"), AIMessage("old answer"), HumanMessage(huge)]
    model = ScriptedChatModel(script=[reply("ok")])
    await _assistant(model, context_tokens=300).agent(PROFILE).arun(conversation)

    assert [m.text for m in _non_system(model.seen[0])] == [huge]


async def test_context_budget_keeps_the_question_and_tool_call_of_the_current_turn() -> None:
    model = ScriptedChatModel(script=[call_tools(tool_call("echo", {"text": "x" * 4000})), "ok"])
    await _assistant(model, context_tokens=300).agent(PROFILE).arun("Echo a long text")

    sent = _non_system(model.seen[1])
    assert any(isinstance(m, HumanMessage) and m.text == "Echo a long text" for m in sent)
    called: set[str] = set()
    for message in sent:  # every tool result comes after the call it answers
        if isinstance(message, AIMessage):
            called |= {str(call["id"]) for call in message.tool_calls}
        elif isinstance(message, ToolMessage):
            assert message.tool_call_id in called


async def test_profile_temperature_and_max_tokens_reach_the_model() -> None:
    model = ScriptedChatModel(script=[call_tools(tool_call("echo", {"text": "a"})), reply("ok")])
    await _assistant(model, temperature=0.3, max_tokens=77).agent(PROFILE).arun("hi")

    assert len(model.bindings) == 2
    for binding in model.bindings:
        assert binding.kwargs["temperature"] == 0.3 and binding.kwargs["max_tokens"] == 77
    for call in model.calls:
        assert call.kwargs["temperature"] == 0.3 and call.kwargs["max_tokens"] == 77


async def test_profile_settings_reach_a_model_without_tools() -> None:
    model = ScriptedChatModel(script=[reply("ok")])
    await _assistant(model, tools=[], temperature=1.5).agent(PROFILE).arun("hi")

    assert model.bindings == []  # no tools: nothing to bind
    assert model.calls[0].kwargs["temperature"] == 1.5
    assert "tools" not in model.calls[0].kwargs


async def test_run_settings_override_the_profile() -> None:
    model = ScriptedChatModel(script=[reply("ok")])
    agent = _assistant(model, tools=[], temperature=1.5, max_tokens=50).agent(PROFILE)
    await agent.arun("hi", model_settings={"temperature": 0.0, "max_tokens": None})

    assert model.calls[0].kwargs["temperature"] == 0.0  # the run's value wins
    assert model.calls[0].kwargs["max_tokens"] == 50  # unset in the run: the profile's


async def test_unset_profile_settings_are_not_sent() -> None:
    model = ScriptedChatModel(script=[reply("ok")])
    await _assistant(model).agent(PROFILE).arun("hi")

    assert "temperature" not in model.calls[0].kwargs
    assert "max_tokens" not in model.calls[0].kwargs


# -- streaming ----------------------------------------------------------------------------------


async def test_astream_yields_tool_events_text_and_the_result_last() -> None:
    model = ScriptedChatModel(
        script=[call_tools(tool_call("echo", {"text": "hi"})), reply("The echo said hi")]
    )
    events = await _collect(_assistant(model), "Please echo hi")

    result = events[-1]
    assert isinstance(result, AgentResult)
    assert sum(isinstance(event, AgentResult) for event in events) == 1
    kinds = [type(event) for event in events]
    started = kinds.index(ToolStarted)
    finished = kinds.index(ToolFinished)
    assert started < finished
    start_event, finish_event = events[started], events[finished]
    assert isinstance(start_event, ToolStarted) and isinstance(finish_event, ToolFinished)
    assert (start_event.name, start_event.args) == ("echo", {"text": "hi"})
    assert (finish_event.name, finish_event.result, finish_event.error) == ("echo", "hi", False)
    assert finish_event.call_id == start_event.call_id

    deltas = [event.text for event in events if isinstance(event, TextDelta)]
    assert len(deltas) > 1  # token by token, not the whole answer at the end
    assert "".join(deltas) == result.answer == "The echo said hi"
    assert kinds.index(TextDelta) > finished  # the answer comes after the tool ran
    assert all(call.streamed for call in model.calls)
    assert result.tool_calls == ["echo"]


async def test_astream_reports_a_failed_tool() -> None:
    model = ScriptedChatModel(script=[call_tools(tool_call("explode", {"text": "x"})), "sorry"])
    events = await _collect(_assistant(model, tools=[explode]), "go")

    finished = [event for event in events if isinstance(event, ToolFinished)]
    assert len(finished) == 1 and finished[0].error
    assert "kaboom" in finished[0].result


# -- sessions -----------------------------------------------------------------------------------


async def test_a_session_continues_the_conversation() -> None:
    model = ScriptedChatModel(script=[reply("Hello Ada."), reply("Your name is Ada.")])
    agent = _assistant(model).agent(PROFILE)

    await agent.arun("My name is Ada.", session_id="s1")
    second = await agent.arun("What is my name?", session_id="s1")

    assert [(type(m), m.text) for m in _non_system(model.seen[1])] == [
        (HumanMessage, "My name is Ada."),
        (AIMessage, "Hello Ada."),
        (HumanMessage, "What is my name?"),
    ]
    assert second.session_id == "s1"
    assert len(second.messages) == 4


async def test_sessions_are_independent() -> None:
    model = ScriptedChatModel(script=[reply("Hello Ada."), reply("I do not know.")])
    agent = _assistant(model).agent(PROFILE)

    await agent.arun("My name is Ada.", session_id="ada")
    await agent.arun("What is my name?", session_id="bob")

    assert [m.text for m in _non_system(model.seen[1])] == ["What is my name?"]


async def test_a_streamed_turn_is_saved_to_its_session() -> None:
    model = ScriptedChatModel(
        script=[call_tools(tool_call("echo", {"text": "1"})), reply("one"), reply("two")]
    )
    agent = _assistant(model).agent(PROFILE)

    _ = [event async for event in agent.astream("first", session_id="s")]
    await agent.arun("second", session_id="s")

    seen = _non_system(model.seen[2])
    assert [type(m) for m in seen] == [
        HumanMessage,
        AIMessage,
        ToolMessage,
        AIMessage,
        HumanMessage,
    ]
    assert json.loads(json.dumps(seen[1].tool_calls[0]["args"])) == {"text": "1"}  # type: ignore[attr-defined]


async def test_without_a_session_nothing_is_remembered() -> None:
    model = ScriptedChatModel(script=[reply("a"), reply("b")])
    agent = _assistant(model).agent(PROFILE)

    await agent.arun("first")
    await agent.arun("second")

    assert [m.text for m in _non_system(model.seen[1])] == ["second"]
