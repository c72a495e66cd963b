"""An agent profile at work: LangChain's ``create_agent`` with the workbench's middleware.

:class:`Agent` runs one profile. A run always ends with an answer: the model's, or, when a
limit stops the loop (model calls, tool calls), a message saying which limit was reached.
Provider failures after retries and fallbacks are raised as the provider error (the API maps
them to 502/503/504), never as a bare exception. Every run returns its trajectory: each model
call and tool call with arguments, results, latency and tokens.
"""

from __future__ import annotations

import logging
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain.agents import create_agent
from langchain.agents.middleware import (
    ModelCallLimitMiddleware,
    ToolCallLimitMiddleware,
    ToolErrorMiddleware,
)
from langchain.agents.middleware.types import ToolCallRequest
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    ToolMessage,
)
from langchain_core.tools import BaseTool
from langgraph.errors import GraphRecursionError

from assistant.agent.caching import ModelCacheMiddleware
from assistant.agent.client_tools import ClientToolsMiddleware, client_tool_names
from assistant.agent.middleware import (
    CachePolicy,
    ContextBudgetMiddleware,
    ModelSettingsMiddleware,
    RelevantToolsMiddleware,
    RunContext,
    TrajectoryMiddleware,
    with_raw_arguments,
)
from assistant.agent.sessions import SessionStore
from assistant.cache import ResponseCache
from assistant.config import ProfileSettings
from assistant.observe import NULL_OBSERVER, Observer
from assistant.types import (
    ModelCallRecord,
    TextDelta,
    ToolCallRecord,
    ToolFinished,
    ToolStarted,
    TrajectoryStep,
    Usage,
)

logger = logging.getLogger(__name__)


@dataclass
class AgentResult:
    """What one agent turn produced."""

    answer: str
    messages: list[BaseMessage]
    """The whole conversation after the turn (the system prompt is not part of it)."""
    trajectory: list[TrajectoryStep] = field(default_factory=list)
    stopped: str | None = None
    """Why the loop stopped early (a limit), or ``None`` when the model answered."""
    session_id: str | None = None
    cache: str = "bypass"
    """``hit`` when every model call was answered from the cache, ``miss`` when one was not,
    ``bypass`` when none could be."""

    @property
    def usage(self) -> Usage:
        """Tokens of every model call of the turn."""
        calls = [step for step in self.trajectory if isinstance(step, ModelCallRecord)]
        return Usage(
            prompt_tokens=sum(call.usage.prompt_tokens for call in calls),
            completion_tokens=sum(call.usage.completion_tokens for call in calls),
        )

    @property
    def tool_calls(self) -> list[str]:
        """Names of the tools that ran, in order."""
        return [step.name for step in self.trajectory if isinstance(step, ToolCallRecord)]


AgentEvent = ToolStarted | ToolFinished | TextDelta | AgentResult
"""What :meth:`Agent.astream` yields; the last event is the :class:`AgentResult`."""

_LIMIT_MARKERS = {
    "Model call limits exceeded": "model_call_limit",
    "Tool call limit": "tool_call_limit",
}


def _tool_error_text(error: Exception, request: ToolCallRequest) -> str:
    return f"{request.tool_call['name']} failed: {type(error).__name__}: {error}"


def _context(
    model_settings: dict[str, Any] | None, policy: CachePolicy | None, given: RunContext | None
) -> RunContext:
    context = given if given is not None else RunContext()
    if model_settings:
        context.model_settings = {**context.model_settings, **model_settings}
    if policy is not None:
        context.cache_policy = policy
    return context


def _as_messages(conversation: str | Sequence[BaseMessage]) -> list[BaseMessage]:
    return [HumanMessage(conversation)] if isinstance(conversation, str) else list(conversation)


class Agent:
    """One agent profile, compiled once and run many times (concurrent runs are independent)."""

    def __init__(
        self,
        name: str,
        profile: ProfileSettings,
        model: BaseChatModel,
        tools: list[BaseTool],
        sessions: SessionStore | None = None,
        middleware: Sequence[Any] = (),
        *,
        cache: ResponseCache | None = None,
        observer: Observer = NULL_OBSERVER,
    ) -> None:
        """``middleware`` runs outermost, before the workbench's own (e.g. retrieval)."""
        self.name = name
        self.profile = profile
        self.tools = tools
        self.sessions = sessions
        # Order matters: tool selection runs outside the recorder, so the trajectory shows the
        # tools actually offered; tool errors are handled inside it, so it records them; the
        # cache is innermost, so its key covers exactly what the model would see.
        stack: list[Any] = [
            *middleware,
            RelevantToolsMiddleware(profile.max_tools_offered),
            ClientToolsMiddleware(),
            TrajectoryMiddleware(observer),
            ModelCallLimitMiddleware(run_limit=profile.max_model_calls, exit_behavior="end"),
            ToolCallLimitMiddleware(run_limit=profile.max_tool_calls, exit_behavior="end"),
            ToolErrorMiddleware(_tool_error_text),
            ContextBudgetMiddleware(profile.context_tokens),
            ModelSettingsMiddleware(
                {"temperature": profile.temperature, "max_tokens": profile.max_tokens}
            ),
        ]
        if cache is not None and profile.cache:
            stack.append(ModelCacheMiddleware(cache, name, profile))
        # typed loosely: langgraph's overloads do not accept a custom context object
        self.graph: Any = create_agent(
            model,
            tools,
            system_prompt=profile.system_prompt,
            middleware=stack,
            context_schema=RunContext,
            name=name,
        )
        # A backstop only: the call limits end the loop well before this many graph steps.
        self.recursion_limit = 8 * (profile.max_model_calls + profile.max_tool_calls) + 20

    async def _history(self, session_id: str | None, new: list[BaseMessage]) -> list[BaseMessage]:
        if session_id is None or self.sessions is None:
            return new
        return [*await self.sessions.load(session_id), *new]

    async def _finish(
        self, messages: list[BaseMessage], context: RunContext, session_id: str | None
    ) -> AgentResult:
        final = next((m for m in reversed(messages) if isinstance(m, AIMessage)), None)
        answer = final.text if final is not None else ""
        stopped = next(
            (kind for marker, kind in _LIMIT_MARKERS.items() if answer.startswith(marker)), None
        )
        if session_id is not None and self.sessions is not None:
            await self.sessions.save(session_id, messages, self.profile.session_ttl)
        return AgentResult(
            answer=answer,
            messages=messages,
            trajectory=list(context.trajectory),
            stopped=stopped,
            session_id=session_id,
            cache=context.cache_result,
        )

    def _config(self) -> dict[str, Any]:
        return {"recursion_limit": self.recursion_limit}

    async def arun(
        self,
        conversation: str | Sequence[BaseMessage],
        *,
        session_id: str | None = None,
        model_settings: dict[str, Any] | None = None,
        cache_policy: CachePolicy | None = None,
        context: RunContext | None = None,
    ) -> AgentResult:
        """Run one turn: the answer, the conversation and the trajectory.

        ``model_settings`` (e.g. ``{"temperature": 0}``) override the profile's for this turn;
        ``cache_policy`` says whose cache entries it uses and whether it reads and writes them;
        ``context`` is the run's own context, to watch while it runs (trajectory, cache counts).
        """
        messages = await self._history(session_id, _as_messages(conversation))
        context = _context(model_settings, cache_policy, context)
        try:
            state = await self.graph.ainvoke(
                {"messages": messages}, config=self._config(), context=context
            )
        except GraphRecursionError:
            return self._stopped(messages, context, session_id)
        return await self._finish(list(state["messages"]), context, session_id)

    def _stopped(
        self, messages: list[BaseMessage], context: RunContext, session_id: str | None
    ) -> AgentResult:
        answer = "The agent stopped: it took too many steps without reaching an answer."
        return AgentResult(
            answer=answer,
            messages=[*messages, AIMessage(answer)],
            trajectory=list(context.trajectory),
            stopped="recursion_limit",
            session_id=session_id,
            cache=context.cache_result,
        )

    async def astream(
        self,
        conversation: str | Sequence[BaseMessage],
        *,
        session_id: str | None = None,
        model_settings: dict[str, Any] | None = None,
        cache_policy: CachePolicy | None = None,
        context: RunContext | None = None,
    ) -> AsyncIterator[AgentEvent]:
        """Run one turn, yielding tool activity and answer text as they happen, then the result.

        The arguments are :meth:`arun`'s.
        """
        messages = await self._history(session_id, _as_messages(conversation))
        context = _context(model_settings, cache_policy, context)
        state_messages: list[BaseMessage] = messages
        streamed: set[str] = set()
        raw_arguments = _RawArguments()
        try:
            async for mode, data in self.graph.astream(
                {"messages": messages},
                config=self._config(),
                context=context,
                stream_mode=["updates", "messages", "values"],
            ):
                if mode == "messages":
                    chunk, meta = data
                    if meta.get("langgraph_node") == "model" and isinstance(chunk, AIMessageChunk):
                        if chunk.id:
                            streamed.add(chunk.id)
                        raw_arguments.add(chunk)
                        if chunk.text:
                            yield TextDelta(chunk.text)
                elif mode == "updates":
                    for event in _tool_events(data, client_tool_names(context)):
                        yield event
                elif mode == "values":
                    state_messages = list(data["messages"])
        except GraphRecursionError:
            result = self._stopped(messages, context, session_id)
            yield TextDelta(result.answer)
            yield result
            return
        result = await self._finish(state_messages, context, session_id)
        result.trajectory = with_raw_arguments(result.trajectory, raw_arguments.by_call_id())
        final = next((m for m in reversed(state_messages) if isinstance(m, AIMessage)), None)
        if final is not None and final.id not in streamed and final.text:
            yield TextDelta(final.text)  # e.g. a limit message, which no model streamed
        yield result


class _RawArguments:
    """The argument text of each tool call as the model streamed it, by call id.

    LangChain builds the model's message from the chunks with a lenient parser that completes
    cut-off JSON; the trajectory is corrected from this (see ``with_raw_arguments``)."""

    def __init__(self) -> None:
        self._calls: dict[tuple[str, str], dict[str, str]] = {}

    def add(self, chunk: AIMessageChunk) -> None:
        for piece in chunk.tool_call_chunks:
            index = piece.get("index")
            key = (chunk.id or "", str(index) if index is not None else f"id:{piece.get('id')}")
            entry = self._calls.setdefault(key, {"id": "", "args": ""})
            entry["id"] = entry["id"] or str(piece.get("id") or "")
            entry["args"] += piece.get("args") or ""

    def by_call_id(self) -> dict[str, str]:
        return {entry["id"]: entry["args"] for entry in self._calls.values() if entry["id"]}


def _tool_events(
    update: dict[str, Any], client_tools: set[str]
) -> list[ToolStarted | ToolFinished]:
    events: list[ToolStarted | ToolFinished] = []
    for node_update in update.values():
        for message in (
            (node_update or {}).get("messages", []) if isinstance(node_update, dict) else []
        ):
            if isinstance(message, AIMessage):
                events.extend(
                    ToolStarted(
                        name=call["name"],
                        args=dict(call["args"]),
                        call_id=str(call.get("id") or ""),
                        client=call["name"] in client_tools,
                    )
                    for call in message.tool_calls
                )
            elif isinstance(message, ToolMessage):
                events.append(
                    ToolFinished(
                        name=str(message.name or ""),
                        call_id=message.tool_call_id,
                        result=str(message.text),
                        error=message.status == "error",
                    )
                )
    return events
