"""A scripted chat model and provider: deterministic agents without a real model.

:class:`ScriptedChatModel` answers each call with the next item of its script (text, tool
calls, an exception, or a function of the messages), records every call's messages and
keyword arguments and every ``bind_tools`` (tool names offered, ``tool_choice`` and the
settings the agent's middleware added, such as ``temperature``), and streams like a real
provider: text token by token, tool calls as ``tool_call_chunks``, usage on the last chunk.
It can be told to fail at call *N* (``fail_at={N: error}``), e.g. with
``ProviderHTTPError("a", 503, "down")`` to exercise fallback chains.

:class:`ScriptedProvider` registers scripted models in a
:class:`~assistant.providers.ProviderRegistry` under a provider name, so they are reached
through the same resilience and fallback layers as real providers, and
:func:`scripted_assistant` builds an :class:`~assistant.agent.Assistant` over them::

    model = ScriptedChatModel(script=[call_tools(tool_call("echo", {"text": "hi"})), "done"])
    assistant = scripted_assistant(ScriptedProvider("s", model), profiles={"t": {"model": "s:m"}})
    result = await assistant.agent("t").arun("say hi")

Unlike LangChain's ``GenericFakeChatModel`` it supports ``bind_tools`` and keeps tool calls
when streaming (which ``create_agent`` needs under ``stream_mode="messages"``).
"""

from __future__ import annotations

import json
import re
import uuid
from collections.abc import AsyncIterator, Callable, Iterable, Iterator, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.tools import BaseTool
from pydantic import Field

from assistant.agent import Assistant, build_assistant
from assistant.agent.sessions import MemorySessionStore, SessionStore
from assistant.config import ProfileSettings, ResilienceSettings, Settings
from assistant.providers import Provider, ProviderRegistry
from assistant.providers.base import ALL_PARAMS
from assistant.tools import ToolRegistry
from assistant.tools import clock as clock_tool
from assistant.tools import echo as echo_tool
from assistant.types import Availability

ScriptItem = AIMessage | str | BaseException | Callable[[list[BaseMessage]], "AIMessage | str"]
"""One scripted answer: a message, plain text, an exception to raise, or a function of the
messages the model was called with."""

_TOKEN_BOUNDARY = re.compile(r"(?<=\s)(?=\S)")


class ScriptExhausted(AssertionError):
    """The model was called more times than its script has answers (a test bug, never retried)."""


def tool_call(
    name: str, args: Mapping[str, Any] | None = None, id: str | None = None
) -> dict[str, Any]:
    """A tool call for :func:`call_tools`; an id is generated per call when not given."""
    return {"name": name, "args": dict(args or {}), "id": id, "type": "tool_call"}


def usage(input_tokens: int, output_tokens: int) -> UsageMetadata:
    """LangChain usage metadata."""
    return UsageMetadata(
        input_tokens=input_tokens,
        output_tokens=output_tokens,
        total_tokens=input_tokens + output_tokens,
    )


def reply(text: str, *, input_tokens: int = 10, output_tokens: int = 5) -> AIMessage:
    """A text answer with usage."""
    return AIMessage(content=text, usage_metadata=usage(input_tokens, output_tokens))


def call_tools(
    *calls: dict[str, Any], text: str = "", input_tokens: int = 10, output_tokens: int = 5
) -> AIMessage:
    """An answer asking for ``calls`` (see :func:`tool_call`), with usage."""
    return AIMessage(
        content=text, tool_calls=list(calls), usage_metadata=usage(input_tokens, output_tokens)
    )


def tokens_of(text: str) -> list[str]:
    """``text`` cut at word starts; the pieces join back to ``text`` exactly."""
    return [piece for piece in _TOKEN_BOUNDARY.split(text) if piece]


@dataclass
class ModelCall:
    """One call the model received."""

    messages: list[BaseMessage]
    kwargs: dict[str, Any]
    """Call keyword arguments, including what ``bind``/``bind_tools`` bound."""
    streamed: bool


@dataclass
class Binding:
    """One ``bind_tools`` call."""

    tools: list[str]
    tool_choice: Any
    kwargs: dict[str, Any] = field(default_factory=dict)


def _tool_name(tool: Any) -> str:
    if isinstance(tool, BaseTool):
        return tool.name
    if isinstance(tool, dict):
        function = tool.get("function")
        return str(function.get("name") if isinstance(function, dict) else tool.get("name"))
    return str(getattr(tool, "name", None) or getattr(tool, "__name__", tool))


class ScriptedChatModel(BaseChatModel):
    """Answers from ``script`` in order, recording every call (see the module docstring)."""

    script: list[Any] = Field(default_factory=list)
    """:data:`ScriptItem` values, one per call."""
    cycle: bool = False
    """Start the script again when it runs out (e.g. a model that always calls a tool)."""
    fail_at: dict[int, BaseException] = Field(default_factory=dict)
    """Raise this exception at call N (1-based, counting failed calls); no script item is used."""
    default_usage: tuple[int, int] = (10, 5)
    """Usage (input, output tokens) of scripted messages that carry none."""
    calls: list[ModelCall] = Field(default_factory=list)
    bindings: list[Binding] = Field(default_factory=list)
    served: int = 0
    """Script items used so far."""

    @property
    def _llm_type(self) -> str:
        return "scripted"

    # -- what tests read --------------------------------------------------------------------

    @property
    def seen(self) -> list[list[BaseMessage]]:
        """The messages of every call, in order."""
        return [call.messages for call in self.calls]

    @property
    def offered(self) -> list[list[str]]:
        """The tool names of every ``bind_tools``, in order."""
        return [binding.tools for binding in self.bindings]

    # -- tools ------------------------------------------------------------------------------

    def bind_tools(
        self,
        tools: Sequence[Any],
        *,
        tool_choice: Any = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Record the offer; the tool names (and settings) reach each call's kwargs."""
        names = [_tool_name(tool) for tool in tools]
        self.bindings.append(Binding(names, tool_choice, dict(kwargs)))
        return self.bind(tools=names, tool_choice=tool_choice, **kwargs)

    # -- answering --------------------------------------------------------------------------

    def _next(
        self, messages: list[BaseMessage], kwargs: dict[str, Any], streamed: bool
    ) -> AIMessage:
        self.calls.append(ModelCall(list(messages), dict(kwargs), streamed))
        number = len(self.calls)
        if number in self.fail_at:
            raise self.fail_at[number]
        if self.served >= len(self.script) and not (self.cycle and self.script):
            raise ScriptExhausted(
                f"scripted model called {number} times; its script has {len(self.script)} answers"
            )
        item = self.script[self.served % len(self.script)]
        self.served += 1
        if callable(item) and not isinstance(item, BaseException):
            item = item(list(messages))
        if isinstance(item, BaseException):
            raise item
        message = AIMessage(content=item) if isinstance(item, str) else item
        return self._fresh(message, number)

    def _fresh(self, message: AIMessage, number: int) -> AIMessage:
        """A copy with its own message id and tool call ids (a script may repeat a message)."""
        calls = [
            {**call, "id": call.get("id") or f"call_{number}_{index}"}
            for index, call in enumerate(message.tool_calls)
        ]
        return AIMessage(
            content=message.content,
            tool_calls=calls,
            id=f"scripted-{number}-{uuid.uuid4().hex[:8]}",
            usage_metadata=message.usage_metadata or usage(*self.default_usage),
            response_metadata={"finish_reason": "tool_calls" if calls else "stop"},
        )

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return ChatResult(generations=[ChatGeneration(message=self._next(messages, kwargs, False))])

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        return self._generate(messages, stop, None, **kwargs)

    def _chunks(self, message: AIMessage) -> Iterator[ChatGenerationChunk]:
        for piece in tokens_of(message.text):
            yield ChatGenerationChunk(message=AIMessageChunk(content=piece, id=message.id))
        if message.tool_calls:
            yield ChatGenerationChunk(
                message=AIMessageChunk(
                    content="",
                    id=message.id,
                    tool_call_chunks=[
                        {
                            "name": call["name"],
                            "args": _json(call["args"]),
                            "id": call["id"],
                            "index": index,
                            "type": "tool_call_chunk",
                        }
                        for index, call in enumerate(message.tool_calls)
                    ],
                )
            )
        yield ChatGenerationChunk(
            message=AIMessageChunk(
                content="",
                id=message.id,
                usage_metadata=message.usage_metadata,
                response_metadata=message.response_metadata,
            )
        )

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        yield from self._chunks(self._next(messages, kwargs, True))

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        for chunk in self._chunks(self._next(messages, kwargs, True)):
            yield chunk


def _json(value: Any) -> str:
    return json.dumps(value, ensure_ascii=False)


class ScriptedProvider(Provider):
    """A provider serving scripted models: ``ScriptedProvider("a", model)`` serves ``a:m``."""

    def __init__(
        self,
        name: str,
        models: ScriptedChatModel | Mapping[str, ScriptedChatModel],
        *,
        resilience: ResilienceSettings | None = None,
        available: bool = True,
        supported_params: frozenset[str] = ALL_PARAMS,
    ) -> None:
        self.name = name
        self.models = dict(models) if isinstance(models, Mapping) else {"m": models}
        # no retries and no backoff: a scripted failure reaches the fallback at once
        self.resilience = resilience or ResilienceSettings(max_retries=0, backoff_initial=0)
        self.available = available
        self.supported_params = supported_params

    def availability(self) -> Availability:
        return Availability(True) if self.available else Availability(False, "disabled in test")

    def list_models(self) -> list[str]:
        return list(self.models)

    def has_model(self, model: str) -> bool:
        return model in self.models

    def chat_model(self, model: str) -> BaseChatModel:
        return self.models[model]


def builtin_tools(settings: Settings | None = None) -> ToolRegistry:
    """The ``echo`` and ``current_time`` built-ins (deterministic enough for agent tests)."""
    settings = settings or Settings()
    return ToolRegistry([*echo_tool.create_tools(settings), *clock_tool.create_tools(settings)])


def scripted_assistant(
    *providers: Provider,
    tools: ToolRegistry | Iterable[BaseTool] | None = None,
    profiles: Mapping[str, ProfileSettings | Mapping[str, Any]] | None = None,
    chains: Mapping[str, list[str]] | None = None,
    sessions: SessionStore | None = None,
    **settings_overrides: Any,
) -> Assistant:
    """An :class:`Assistant` over ``providers`` (no entry points), ``tools`` (default:
    ``echo`` and ``current_time``) and ``Settings(profiles=..., chains=..., **overrides)``,
    wired by ``build_assistant`` (so with the cache and metrics the settings describe)."""
    overrides: dict[str, Any] = {"chains": dict(chains or {}), **settings_overrides}
    if profiles is not None:
        overrides["profiles"] = dict(profiles)
    settings = Settings(**overrides)
    registry = ProviderRegistry(providers)
    if tools is None:
        tool_registry = builtin_tools(settings)
    elif isinstance(tools, ToolRegistry):
        tool_registry = tools
    else:
        tool_registry = ToolRegistry(tools)
    return build_assistant(
        settings,
        registry=registry,
        tools=tool_registry,
        sessions=sessions if sessions is not None else MemorySessionStore(),
    )


__all__ = [
    "Binding",
    "ModelCall",
    "ScriptExhausted",
    "ScriptItem",
    "ScriptedChatModel",
    "ScriptedProvider",
    "builtin_tools",
    "call_tools",
    "reply",
    "scripted_assistant",
    "tokens_of",
    "tool_call",
    "usage",
]
