"""The agent's middleware: trajectory recording, tool selection, context trimming, settings.

LangChain's own middleware covers call limits (``ModelCallLimitMiddleware``,
``ToolCallLimitMiddleware``) and tool errors (``ToolErrorMiddleware``); these are the pieces
it lacks or gets wrong for this workbench:

- :class:`TrajectoryMiddleware` records every model and tool call (latency, tokens, arguments,
  results) into the run's :class:`RunContext`, so notebooks and evals can show and score it.
- :class:`RelevantToolsMiddleware` offers the model only the tools relevant to the latest user
  message when there are more than a budget: a cheap lexical ranking, not an extra model call
  (``LLMToolSelectorMiddleware`` would double the calls, and a small model picks badly).
- :class:`ContextBudgetMiddleware` trims what the model sees to a token budget, keeping the
  newest turns whole (tool calls stay paired with their results); stored history is untouched.
- :class:`ModelSettingsMiddleware` applies a profile's temperature and answer length.

Fallback is not here: a profile's model may be a chain, and the provider layer falls back on
transient failures only, which LangChain's ``ModelFallbackMiddleware`` (any exception) does not.
"""

from __future__ import annotations

import dataclasses
import json
import re
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass, field
from typing import Any, cast

from langchain.agents.middleware import AgentMiddleware, ModelRequest, ModelResponse
from langchain.agents.middleware.types import ToolCallRequest
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    AnyMessage,
    BaseMessage,
    HumanMessage,
    ToolMessage,
    trim_messages,
)
from langchain_core.messages.utils import count_tokens_approximately
from langgraph.types import Command

from assistant.observe import NULL_OBSERVER, Observer
from assistant.types import ModelCallRecord, ToolCallRecord, TrajectoryStep, Usage

_WORD = re.compile(r"[a-z0-9]+")


@dataclass(frozen=True, slots=True)
class CachePolicy:
    """How one run uses the cache: whose entries (``tenant``), and whether to read and write."""

    tenant: str = "-"
    read: bool = True
    write: bool = True


@dataclass
class RunContext:
    """Per-run data (passed as the agent's ``context``): settings in, trajectory out."""

    trajectory: list[TrajectoryStep] = field(default_factory=list)
    model_settings: dict[str, Any] = field(default_factory=dict)
    """This run's sampling settings (e.g. a request's temperature), over the profile's."""
    cache_policy: CachePolicy = field(default_factory=CachePolicy)
    """Whose cache entries this run uses, and whether it may read and write them."""
    cache_hits: int = 0
    """Model calls of the run answered from the cache."""
    cache_misses: int = 0
    """Cacheable model calls of the run that went to the model."""
    client_tools: list[dict[str, Any]] = field(default_factory=list)
    """Functions the caller offers for this run only (OpenAI tools): offered to the model
    beside the profile's tools; a call to one ends the turn unexecuted (``client_tools.py``)."""

    @property
    def cache_result(self) -> str:
        """``hit`` when every cacheable call hit, ``miss`` when one missed, else ``bypass``."""
        if self.cache_misses:
            return "miss"
        return "hit" if self.cache_hits else "bypass"


def _context(request: ModelRequest[Any] | ToolCallRequest) -> RunContext | None:
    context = getattr(request.runtime, "context", None)
    return context if isinstance(context, RunContext) else None


def _last_ai(response: Any) -> AIMessage | None:
    messages = response.result if isinstance(response, ModelResponse) else [response]
    return next((m for m in reversed(messages) if isinstance(m, AIMessage)), None)


def model_name(request: ModelRequest[Any]) -> str:
    """The ``provider:model`` ref (or chain name) a model request goes to."""
    model = request.model
    provider, name = getattr(model, "provider", None), getattr(model, "model_name", None)
    if provider and name:
        return f"{provider}:{name}"
    return str(getattr(model, "chain", None) or name or getattr(model, "_llm_type", "model"))


def tool_call_records(message: AIMessage | None) -> list[dict[str, Any]]:
    """The calls a model message asks for, as trajectory records.

    Each is ``{"name", "args", "arguments", "id"}``: ``arguments`` is the JSON text the model
    wrote. Calls whose arguments are not a JSON object are kept too, with ``args`` ``None`` and
    an ``error``, so a broken call is graded, not lost. For a streamed message the raw argument
    text of its chunks is decoded strictly (LangChain's own parsing of chunks repairs cut-off
    JSON, which would hide the fault).
    """
    if message is None:
        return []
    if isinstance(message, AIMessageChunk) and message.tool_call_chunks:
        return [
            _record(str(chunk.get("name") or ""), chunk.get("args") or "", chunk.get("id"))
            for chunk in message.tool_call_chunks
        ]
    records: list[dict[str, Any]] = [
        {
            "name": call["name"],
            "args": call["args"],
            "arguments": json.dumps(call["args"], ensure_ascii=False),
            "id": call.get("id"),
        }
        for call in message.tool_calls
    ]
    for invalid in message.invalid_tool_calls:
        records.append(
            {
                "name": invalid.get("name") or "",
                "args": None,
                "arguments": invalid.get("args") or "",
                "id": invalid.get("id"),
                "error": invalid.get("error") or "arguments are not a JSON object",
            }
        )
    return records


def with_raw_arguments(
    trajectory: list[TrajectoryStep], raw: dict[str, str]
) -> list[TrajectoryStep]:
    """The trajectory with each call's arguments decoded strictly from the text the model
    streamed (``raw``: call id -> argument text), where LangChain's merge repaired it."""
    if not raw:
        return trajectory
    patched: list[TrajectoryStep] = []
    for step in trajectory:
        if isinstance(step, ModelCallRecord) and any(c.get("id") in raw for c in step.tool_calls):
            calls = [
                _record(str(c.get("name") or ""), raw[c["id"]], c["id"])
                if c.get("id") in raw
                else c
                for c in step.tool_calls
            ]
            step = dataclasses.replace(step, tool_calls=calls)
        patched.append(step)
    return patched


def _record(name: str, arguments: str, call_id: str | None) -> dict[str, Any]:
    """One call from its raw argument text, decoded as strictly as ``json.loads``."""
    record: dict[str, Any] = {"name": name, "args": None, "arguments": arguments, "id": call_id}
    try:  # strict, as BFCL decodes: empty text is not JSON either
        args = json.loads(arguments)
    except (ValueError, RecursionError) as exc:  # JSONDecodeError, or an int too long
        record["error"] = f"arguments are not valid JSON ({exc})"
        return record
    if isinstance(args, dict):
        record["args"] = args
    else:
        record["error"] = "arguments are not a JSON object"
    return record


def _tool_name(tool: Any) -> str:
    """A tool's name: a LangChain tool's, or an OpenAI tool dict's (``{"function": {name}}``)."""
    if isinstance(tool, dict):
        function = tool.get("function")
        return str((function if isinstance(function, dict) else tool).get("name", ""))
    return str(getattr(tool, "name", ""))


def _tool_names(request: ModelRequest[Any]) -> list[str]:
    return [_tool_name(tool) for tool in request.tools]


class TrajectoryMiddleware(AgentMiddleware[Any, Any]):
    """Records each model call and tool call of a run, in order, into its :class:`RunContext`,
    and tells ``observer`` about each tool call."""

    def __init__(self, observer: Observer = NULL_OBSERVER) -> None:
        super().__init__()
        self.observer = observer

    def _tool_done(
        self, request: ToolCallRequest, started: float, result: Any, error: BaseException | None
    ) -> None:
        record = self._tool_record(request, started, result, error)
        self.observer.tool_called(record.name, "error" if record.error else "ok", record.latency_s)
        if (context := _context(request)) is not None:
            context.trajectory.append(record)

    def _model_record(
        self, request: ModelRequest[Any], started: float, response: Any, error: BaseException | None
    ) -> ModelCallRecord:
        message = _last_ai(response) if response is not None else None
        usage = message.usage_metadata if message is not None else None
        return ModelCallRecord(
            model=model_name(request),
            latency_s=time.perf_counter() - started,
            usage=Usage(
                prompt_tokens=int(usage["input_tokens"]) if usage else 0,
                completion_tokens=int(usage["output_tokens"]) if usage else 0,
            ),
            tool_calls=tool_call_records(message),
            text=message.text if message is not None else "",
            tools_offered=_tool_names(request),
            error=f"{type(error).__name__}: {error}" if error is not None else None,
            cached=message is not None and message.response_metadata.get("cache") == "hit",
        )

    @staticmethod
    def _tool_record(
        request: ToolCallRequest, started: float, result: Any, error: BaseException | None
    ) -> ToolCallRecord:
        call = request.tool_call
        if isinstance(result, ToolMessage):
            text, failed = str(result.text), result.status == "error"
        else:
            text, failed = (
                (f"{type(error).__name__}: {error}" if error else repr(result)),
                error is not None,
            )
        return ToolCallRecord(
            name=call["name"],
            args=dict(call.get("args") or {}),
            call_id=str(call.get("id") or ""),
            result=text,
            latency_s=time.perf_counter() - started,
            error=failed,
        )

    def wrap_model_call(
        self, request: ModelRequest[Any], handler: Callable[[ModelRequest[Any]], ModelResponse[Any]]
    ) -> Any:
        started, response, error = time.perf_counter(), None, None
        try:
            response = handler(request)
            return response
        except Exception as exc:
            error = exc
            raise
        finally:
            if (context := _context(request)) is not None:
                context.trajectory.append(self._model_record(request, started, response, error))

    async def awrap_model_call(
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], Awaitable[ModelResponse[Any]]],
    ) -> Any:
        started, response, error = time.perf_counter(), None, None
        try:
            response = await handler(request)
            return response
        except Exception as exc:
            error = exc
            raise
        finally:
            if (context := _context(request)) is not None:
                context.trajectory.append(self._model_record(request, started, response, error))

    def wrap_tool_call(
        self,
        request: ToolCallRequest,
        handler: Callable[[ToolCallRequest], ToolMessage | Command[Any]],
    ) -> ToolMessage | Command[Any]:
        started, result, error = time.perf_counter(), None, None
        try:
            result = handler(request)
            return result
        except Exception as exc:
            error = exc
            raise
        finally:
            self._tool_done(request, started, result, error)

    async def awrap_tool_call(
        self,
        request: ToolCallRequest,
        handler: Callable[[ToolCallRequest], Awaitable[ToolMessage | Command[Any]]],
    ) -> ToolMessage | Command[Any]:
        started, result, error = time.perf_counter(), None, None
        try:
            result = await handler(request)
            return result
        except Exception as exc:
            error = exc
            raise
        finally:
            self._tool_done(request, started, result, error)


def _words(text: str) -> set[str]:
    return {word for word in _WORD.findall(text.lower()) if len(word) > 2}


def rank_tools(query: str, tools: list[Any], limit: int) -> list[Any]:
    """The ``limit`` tools whose name and description share the most words with ``query``
    (registry order breaks ties); all of them when there are no more than ``limit``."""
    if len(tools) <= limit:
        return list(tools)
    wanted = _words(query)

    def score(tool: Any) -> int:
        name = str(getattr(tool, "name", "") or "")
        text = f"{name.replace('_', ' ')} {getattr(tool, 'description', '')}"
        return len(wanted & _words(text)) + (3 if name.lower() in query.lower() else 0)

    ranked = sorted(enumerate(tools), key=lambda pair: (-score(pair[1]), pair[0]))
    return [tool for _, tool in ranked[:limit]]


class RelevantToolsMiddleware(AgentMiddleware[Any, Any]):
    """Offers the model only the ``limit`` tools most relevant to the latest user message."""

    def __init__(self, limit: int) -> None:
        super().__init__()
        self.limit = limit

    def _narrow(self, request: ModelRequest[Any]) -> ModelRequest[Any]:
        if len(request.tools) <= self.limit:
            return request
        last = next((m for m in reversed(request.messages) if isinstance(m, HumanMessage)), None)
        return request.override(
            tools=rank_tools(last.text if last else "", list(request.tools), self.limit)
        )

    def wrap_model_call(
        self, request: ModelRequest[Any], handler: Callable[[ModelRequest[Any]], Any]
    ) -> Any:
        return handler(self._narrow(request))

    async def awrap_model_call(
        self, request: ModelRequest[Any], handler: Callable[[ModelRequest[Any]], Awaitable[Any]]
    ) -> Any:
        return await handler(self._narrow(request))


MIN_TOOL_RESULT_CHARS = 200
"""Shortest a tool result is cut to when the current turn alone is over the budget."""


def _current_turn(messages: list[BaseMessage], max_tokens: int) -> list[BaseMessage]:
    """The turn from the last user message on, with long tool results shortened to fit."""
    start = max((i for i, m in enumerate(messages) if isinstance(m, HumanMessage)), default=0)
    turn = list(messages[start:])
    tool_indexes = [i for i, m in enumerate(turn) if isinstance(m, ToolMessage)]
    if not tool_indexes:
        return turn
    overflow = count_tokens_approximately(turn) - max_tokens
    budget_chars = max(MIN_TOOL_RESULT_CHARS, (max_tokens * 4) // (2 * len(tool_indexes)))
    for index in tool_indexes:
        message = turn[index]
        text = str(message.text)
        if overflow > 0 and len(text) > budget_chars:
            shortened = text[:budget_chars] + f"… [{len(text) - budget_chars} characters cut]"
            turn[index] = message.model_copy(update={"content": shortened})
            overflow -= (len(text) - len(shortened)) // 4
    return turn


def trim_to_budget(messages: list[BaseMessage], max_tokens: int) -> list[BaseMessage]:
    """The newest messages that fit ``max_tokens`` (approximate count), starting at a user turn.

    When even the current turn does not fit, it is kept whole from its user message on (the
    question and its tool calls stay paired with their results), with long tool results cut.
    """
    trimmed = trim_messages(
        messages,
        max_tokens=max_tokens,
        token_counter=count_tokens_approximately,
        strategy="last",
        start_on="human",
        end_on=("human", "tool"),
        include_system=True,
        allow_partial=False,
    )
    if not trimmed or not any(isinstance(m, HumanMessage) for m in trimmed):
        return _current_turn(messages, max_tokens)
    return list(trimmed)


class ContextBudgetMiddleware(AgentMiddleware[Any, Any]):
    """Trims what the model sees to a token budget; the stored conversation stays whole."""

    def __init__(self, max_tokens: int) -> None:
        super().__init__()
        self.max_tokens = max_tokens

    def _trim(self, request: ModelRequest[Any]) -> ModelRequest[Any]:
        if count_tokens_approximately(request.messages) <= self.max_tokens:
            return request
        trimmed = trim_to_budget(list(request.messages), self.max_tokens)
        return request.override(messages=cast("list[AnyMessage]", trimmed))

    def wrap_model_call(
        self, request: ModelRequest[Any], handler: Callable[[ModelRequest[Any]], Any]
    ) -> Any:
        return handler(self._trim(request))

    async def awrap_model_call(
        self, request: ModelRequest[Any], handler: Callable[[ModelRequest[Any]], Awaitable[Any]]
    ) -> Any:
        return await handler(self._trim(request))


class ModelSettingsMiddleware(AgentMiddleware[Any, Any]):
    """Applies sampling settings to every model call: the profile's, then the run's own."""

    def __init__(self, settings: dict[str, Any]) -> None:
        super().__init__()
        self.settings = {key: value for key, value in settings.items() if value is not None}

    def _apply(self, request: ModelRequest[Any]) -> ModelRequest[Any]:
        context = _context(request)
        overrides = context.model_settings if context is not None else {}
        settings = {**self.settings, **{k: v for k, v in overrides.items() if v is not None}}
        if not settings:
            return request
        return request.override(model_settings={**request.model_settings, **settings})

    def wrap_model_call(
        self, request: ModelRequest[Any], handler: Callable[[ModelRequest[Any]], Any]
    ) -> Any:
        return handler(self._apply(request))

    async def awrap_model_call(
        self, request: ModelRequest[Any], handler: Callable[[ModelRequest[Any]], Awaitable[Any]]
    ) -> Any:
        return await handler(self._apply(request))
