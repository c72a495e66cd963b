"""The knowledge base in the agent loop: the ``knowledge_search`` tool called by a scripted
model that then cites the source, automatic retrieval putting sources into the model's input,
and the ``retrieval`` profile option."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest
from langchain_core.messages import BaseMessage, SystemMessage, ToolMessage

from assistant.agent import Assistant
from assistant.knowledge import KnowledgeBase, knowledge_search_tool
from assistant.tools import ToolRegistry
from assistant.types import ToolCallRecord
from tests.fakes.scripted import (
    ScriptedChatModel,
    ScriptedProvider,
    builtin_tools,
    call_tools,
    scripted_assistant,
    tool_call,
)
from tests.kb_support import ingest, knowledge_base, write

DOCS = {
    "handbook/leave.md": "# Leave\n\nEmployees get 27 days of paid leave a year, plus public "
    "holidays. Unused days carry over until March.",
    "handbook/laptops.md": "# Laptops\n\nLaptops are replaced every three years by the IT desk.",
}


def kb_assistant(tmp_path: Path, model: ScriptedChatModel, **profile: Any) -> Assistant:
    kb = knowledge_base(tmp_path)
    ingest(kb, write(tmp_path / "docs", DOCS))
    tools: ToolRegistry = builtin_tools()
    tools.add(knowledge_search_tool(kb))
    assistant = scripted_assistant(
        ScriptedProvider("s", model), tools=tools, profiles={"helper": {"model": "s:m", **profile}}
    )
    assistant.knowledge = kb
    return assistant


def _system(messages: list[BaseMessage]) -> str:
    return next(m.text for m in messages if isinstance(m, SystemMessage))


async def test_the_model_calls_knowledge_search_then_cites_the_source(tmp_path: Path) -> None:
    def cite(messages: list[BaseMessage]) -> str:
        result = next(m for m in reversed(messages) if isinstance(m, ToolMessage))
        first = result.text.splitlines()[0]  # "[1] docs/...#0 (Leave)"
        return f"You get 27 days of paid leave a year {first.split(' (')[0]}."

    model = ScriptedChatModel(
        script=[call_tools(tool_call("knowledge_search", {"query": "paid leave days"})), cite]
    )
    assistant = kb_assistant(tmp_path, model)
    result = await assistant.agent("helper").arun("How many days of leave do I get?")

    assert "knowledge_search" in model.offered[0]
    assert result.tool_calls == ["knowledge_search"]
    tool_step = next(s for s in result.trajectory if isinstance(s, ToolCallRecord))
    assert tool_step.result.startswith("[1] ") and "leave.md#0" in tool_step.result
    assert "27 days of paid leave" in tool_step.result
    assert result.answer.startswith("You get 27 days") and "handbook/leave.md#0" in result.answer


async def test_auto_retrieval_puts_sources_into_the_model_input(tmp_path: Path) -> None:
    model = ScriptedChatModel(script=["27 days [1]."])
    assistant = kb_assistant(tmp_path, model, retrieval="auto", system_prompt="Be brief.")
    result = await assistant.agent("helper").arun("How many days of paid leave do we get?")

    system = _system(model.seen[0])
    assert system.startswith("Be brief.")
    assert "cite each passage" in system
    assert "[1] " in system and "handbook/leave.md#0 (Leave)" in system
    assert "27 days of paid leave" in system
    assert system.index("leave.md") < system.find("laptops.md") or "laptops.md" not in system
    steps = [s for s in result.trajectory if isinstance(s, ToolCallRecord)]
    assert [(s.name, s.args["automatic"]) for s in steps] == [("knowledge_search", True)]
    assert result.answer == "27 days [1]."


async def test_auto_retrieval_searches_once_per_question_across_model_calls(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    model = ScriptedChatModel(script=[call_tools(tool_call("echo", {"text": "x"})), "done"])
    assistant = kb_assistant(tmp_path, model, retrieval="auto")
    assert assistant.knowledge is not None
    searches: list[str] = []
    search = assistant.knowledge.search

    def counted(query: str, *args: Any, **kwargs: Any) -> Any:
        searches.append(query)
        return search(query, *args, **kwargs)

    monkeypatch.setattr(assistant.knowledge, "search", counted)
    result = await assistant.agent("helper").arun("When are laptops replaced?")
    assert all("laptops.md#0" in _system(messages) for messages in model.seen)  # both calls
    automatic = [s for s in result.trajectory if s.kind == "tool" and s.name == "knowledge_search"]
    assert len(automatic) == 1
    assert searches == ["When are laptops replaced?"]  # the second call reused the passages


async def test_auto_retrieval_without_a_store_still_answers(tmp_path: Path) -> None:
    model = ScriptedChatModel(script=["I do not know."])
    missing = KnowledgeBase(knowledge_base(tmp_path).settings, path=tmp_path / "none.duckdb")
    assistant = scripted_assistant(
        ScriptedProvider("s", model), profiles={"helper": {"model": "s:m", "retrieval": "auto"}}
    )
    assistant.knowledge = missing
    result = await assistant.agent("helper").arun("Anything?")
    assert result.answer == "I do not know."
    step = next(s for s in result.trajectory if isinstance(s, ToolCallRecord))
    assert step.error and "assistant kb ingest" in step.result
    assert "Knowledge base passages" not in (
        _system(model.seen[0]) if any(isinstance(m, SystemMessage) for m in model.seen[0]) else ""
    )


async def test_retrieval_off_removes_the_tool(tmp_path: Path) -> None:
    model = ScriptedChatModel(script=["ok"])
    assistant = kb_assistant(tmp_path, model, retrieval="off")
    await assistant.agent("helper").arun("hi")
    assert "knowledge_search" not in model.offered[0]


async def test_the_tool_is_unavailable_until_something_is_ingested(tmp_path: Path) -> None:
    tool = knowledge_search_tool(knowledge_base(tmp_path))
    availability = tool.availability()
    assert not availability.available and "assistant kb ingest" in (availability.reason or "")
    answer = await tool.ainvoke({"query": "x"})
    assert "unavailable" in str(answer)


def test_build_assistant_registers_knowledge_search(tmp_path: Path) -> None:
    from assistant.agent import build_assistant
    from assistant.config import Settings

    settings = Settings(kb={"path": tmp_path / "kb.duckdb"})
    assistant = build_assistant(settings)
    try:
        assert "knowledge_search" in assistant.tools
        assert assistant.knowledge is not None and assistant.knowledge.path == settings.kb.path
    finally:
        assistant.close()
