"""Fallback chains: try models in order, moving on only on transient failures.

A chain (``openrouter:x -> local:smollm2``) is a chat model of its own. It falls back on
transient provider errors (timeouts, 429, 5xx, connection errors, open breakers), never on
invalid requests or bugs; a stream falls back only before its first output. When every model
fails, one :class:`AllProvidersFailed` carries each failure. Tools are bound to each member
before composing (each provider has its own tool format).
"""

from __future__ import annotations

from collections.abc import AsyncIterator, Iterator, Sequence
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from pydantic import ConfigDict

from assistant.errors import AllProvidersFailed, ProviderError
from assistant.observe import NULL_OBSERVER, Observer
from assistant.providers.base import ToolChoice, ToolLike
from assistant.providers.resilient import aprime, as_chunk, open_stream, prime

Member = Runnable[LanguageModelInput, BaseMessage]


def _is_fallback_worthy(exc: BaseException) -> bool:
    return isinstance(exc, ProviderError) and exc.transient


class FallbackChatModel(BaseChatModel):
    """Chat model that tries ``members`` in order (each already resilient)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    chain: str
    """The chain's name, used in errors."""
    members: list[Member]
    labels: list[str]
    """The ``provider:model`` ref of each member."""
    observer: Observer = NULL_OBSERVER
    """Told each time the chain gives up on a member."""

    @property
    def _llm_type(self) -> str:
        return "assistant-fallback"

    def __repr_args__(self) -> Any:
        # short on purpose: LangChain serialises the repr for callbacks on every call
        return [("chain", self.chain), ("labels", self.labels)]

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"chain": self.chain, "members": self.labels}

    def bind_tools(
        self,
        tools: Sequence[ToolLike],
        *,
        tool_choice: ToolChoice = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind ``tools`` to every member, each in its own provider's format."""
        bound: list[Member] = []
        for member in self.members:
            bind = getattr(member, "bind_tools", None)
            if bind is None:
                raise NotImplementedError(f"chain member {member} does not support tools")
            bound.append(bind(tools, tool_choice=tool_choice, **kwargs))
        return self.model_copy(update={"members": bound})

    def _kwargs(self, stop: list[str] | None, kwargs: dict[str, Any]) -> dict[str, Any]:
        return {**kwargs, "stop": stop} if stop else dict(kwargs)

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        failures: list[ProviderError] = []
        for member, label in zip(self.members, self.labels, strict=True):
            try:
                message = await member.ainvoke(messages, **self._kwargs(stop, kwargs))
            except Exception as exc:
                if not _is_fallback_worthy(exc):
                    raise
                assert isinstance(exc, ProviderError)  # noqa: S101 - checked above
                failures.append(exc)
                self.observer.fell_back(self.chain, label)
                continue
            return ChatResult(generations=[ChatGeneration(message=message)])
        raise AllProvidersFailed(self.chain, failures)

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        failures: list[ProviderError] = []
        for member, label in zip(self.members, self.labels, strict=True):
            stream = open_stream(member, messages, self._kwargs(stop, kwargs))
            try:
                head = await aprime(stream)
            except Exception as exc:
                if not _is_fallback_worthy(exc):
                    raise
                assert isinstance(exc, ProviderError)  # noqa: S101 - checked above
                failures.append(exc)
                self.observer.fell_back(self.chain, label)
                continue
            for message in head:
                yield as_chunk(message)
            async for message in stream:
                yield as_chunk(message)
            return
        raise AllProvidersFailed(self.chain, failures)

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        failures: list[ProviderError] = []
        for member, label in zip(self.members, self.labels, strict=True):
            try:
                message = member.invoke(messages, **self._kwargs(stop, kwargs))
            except Exception as exc:
                if not _is_fallback_worthy(exc):
                    raise
                assert isinstance(exc, ProviderError)  # noqa: S101 - checked above
                failures.append(exc)
                self.observer.fell_back(self.chain, label)
                continue
            return ChatResult(generations=[ChatGeneration(message=message)])
        raise AllProvidersFailed(self.chain, failures)

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        failures: list[ProviderError] = []
        for member, label in zip(self.members, self.labels, strict=True):
            stream = iter(member.stream(messages, **self._kwargs(stop, kwargs)))
            try:
                head = prime(stream)
            except Exception as exc:
                if not _is_fallback_worthy(exc):
                    raise
                assert isinstance(exc, ProviderError)  # noqa: S101 - checked above
                failures.append(exc)
                self.observer.fell_back(self.chain, label)
                continue
            yield from (as_chunk(message) for message in head)
            yield from (as_chunk(message) for message in stream)
            return
        raise AllProvidersFailed(self.chain, failures)
