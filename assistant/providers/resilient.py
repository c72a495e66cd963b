"""Retries, circuit breaking and error translation around one provider's chat model.

:class:`ResilientChatModel` is itself a LangChain chat model, so agents, notebooks and the
server use it like any other. It retries transient failures only (429 honouring
``Retry-After``, 5xx, timeouts, connection errors) with exponential backoff and jitter, and a
stream only before its first output (text or a tool call; an empty role chunk does not
count): once output has reached the caller, a failure is raised (translated), not replayed.
The SDK's own retries are switched off by the providers so attempts do not multiply.
"""

from __future__ import annotations

import asyncio
from collections.abc import AsyncIterator, Callable, Iterator, Sequence
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable, RunnableBinding
from pydantic import ConfigDict
from tenacity import (
    AsyncRetrying,
    RetryCallState,
    Retrying,
    retry_if_exception,
    stop_after_attempt,
    wait_exponential_jitter,
)

from assistant.config import ResilienceSettings
from assistant.errors import AllProvidersFailed, CircuitOpenError, ProviderError, ProviderHTTPError
from assistant.observe import NULL_OBSERVER, Observer
from assistant.providers.base import ToolChoice, ToolLike
from assistant.providers.breaker import CircuitBreaker
from assistant.providers.metering import CallMeter

ErrorMapper = Callable[[BaseException], ProviderError | None]


def as_chunk(message: BaseMessage) -> ChatGenerationChunk:
    if not isinstance(message, AIMessageChunk):
        message = AIMessageChunk(
            content=message.content,
            id=message.id,
            response_metadata=getattr(message, "response_metadata", {}),
            usage_metadata=getattr(message, "usage_metadata", None),
        )
    return ChatGenerationChunk(message=message)


def _direct_model(runnable: Runnable[Any, Any]) -> tuple[BaseChatModel | None, dict[str, Any]]:
    """The chat model under ``runnable`` (and its bound kwargs), if it can be called directly."""
    bound, extra = (
        (runnable.bound, dict(runnable.kwargs))
        if isinstance(runnable, RunnableBinding)
        else (runnable, {})
    )
    if isinstance(bound, BaseChatModel) and not bound.rate_limiter:
        return bound, extra
    return None, {}


def open_stream(
    runnable: Runnable[Any, Any], messages: list[BaseMessage], kwargs: dict[str, Any]
) -> AsyncIterator[BaseMessage]:
    """Stream ``runnable``'s answer as messages.

    A wrapped chat model is driven through its ``_astream`` directly: the wrapper already runs
    LangChain's callbacks once, and a second layer per token costs measurable throughput.
    """
    model, extra = _direct_model(runnable)
    if model is None or type(model)._astream is BaseChatModel._astream:
        return aiter(runnable.astream(messages, **kwargs))

    async def messages_of() -> AsyncIterator[BaseMessage]:
        chunks = model._astream(messages, **{**extra, **kwargs})
        try:
            async for chunk in chunks:
                yield _with_generation_info(chunk)
        finally:
            closer = getattr(chunks, "aclose", None)
            if closer is not None:
                await closer()

    return messages_of()


async def generate(
    runnable: Runnable[Any, Any], messages: list[BaseMessage], kwargs: dict[str, Any]
) -> BaseMessage:
    """``runnable``'s whole answer, calling a wrapped chat model's ``_agenerate`` directly."""
    model, extra = _direct_model(runnable)
    if model is None:
        message: BaseMessage = await runnable.ainvoke(messages, **kwargs)
        return message
    result = await model._agenerate(messages, **{**extra, **kwargs})
    return _with_generation_info(result.generations[0])


def _with_generation_info(generation: ChatGeneration) -> BaseMessage:
    """The message, with generation info (e.g. ``finish_reason``) in its response metadata,
    as LangChain's public methods would put it."""
    message = generation.message
    if generation.generation_info:
        message.response_metadata = {**generation.generation_info, **message.response_metadata}
    return message


def carries_output(message: BaseMessage) -> bool:
    """Whether a streamed message holds text or a tool call (not just a role or metadata)."""
    return bool(message.content) or bool(getattr(message, "tool_call_chunks", None))


async def aprime(stream: AsyncIterator[BaseMessage]) -> list[BaseMessage]:
    """Read ``stream`` up to its first chunk with output (or its end), and return what was read.

    A stream has started only once output exists: a failure before that (even after an
    empty role chunk) may still be retried or fall back, since nothing reached the caller.
    """
    head: list[BaseMessage] = []
    async for message in stream:
        head.append(message)
        if carries_output(message):
            break
    return head


def prime(stream: Iterator[BaseMessage]) -> list[BaseMessage]:
    """Blocking :func:`aprime`."""
    head: list[BaseMessage] = []
    for message in stream:
        head.append(message)
        if carries_output(message):
            break
    return head


class ResilientChatModel(BaseChatModel):
    """A provider's chat model with retries, a circuit breaker and translated errors."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    inner: Runnable[LanguageModelInput, BaseMessage]
    """The provider's chat model (possibly with tools bound)."""
    provider: str
    model_name: str
    resilience: ResilienceSettings
    breaker: CircuitBreaker
    map_error: ErrorMapper
    drop_params: frozenset[str] = frozenset()
    """Call parameters the provider does not accept (dropped rather than sent)."""
    observer: Observer = NULL_OBSERVER
    """Told about every call (latency, first token, tokens, outcome)."""

    def _meter(self) -> CallMeter:
        return CallMeter(self.observer, self.provider, self.model_name)

    @property
    def _llm_type(self) -> str:
        return "assistant-resilient"

    def __repr_args__(self) -> Any:
        # LangChain serialises a model's repr for its callbacks on every call; the default one
        # (inner model, settings, breaker...) runs to tens of KB and cost ~2 ms per agent step.
        return [("provider", self.provider), ("model_name", self.model_name)]

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"provider": self.provider, "model": self.model_name}

    def bind_tools(
        self,
        tools: Sequence[ToolLike],
        *,
        tool_choice: ToolChoice = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Bind tools to the provider's model (in its own format), keeping the resilience."""
        bind = getattr(self.inner, "bind_tools", None)
        if bind is None:
            raise NotImplementedError(f"{self.provider}:{self.model_name} does not support tools")
        return self.model_copy(update={"inner": bind(tools, tool_choice=tool_choice, **kwargs)})

    # -- policy -------------------------------------------------------------------------

    def _should_retry(self, exc: BaseException) -> bool:
        if not isinstance(exc, ProviderError) or not exc.transient:
            return False
        if isinstance(exc, CircuitOpenError | AllProvidersFailed):
            return False
        if isinstance(exc, ProviderHTTPError) and exc.retry_after is not None:
            return exc.retry_after <= self.resilience.retry_after_max
        return True

    def _wait(self, state: RetryCallState) -> float:
        exc = state.outcome.exception() if state.outcome else None
        if isinstance(exc, ProviderHTTPError) and exc.retry_after is not None:
            return exc.retry_after
        backoff = wait_exponential_jitter(
            multiplier=self.resilience.backoff_initial,
            max=self.resilience.backoff_max,
            jitter=self.resilience.backoff_initial,
        )
        return float(backoff(state))

    def _retry_options(self) -> dict[str, Any]:
        return {
            "stop": stop_after_attempt(self.resilience.max_retries + 1),
            "wait": self._wait,
            "retry": retry_if_exception(self._should_retry),
            "reraise": True,
        }

    def _translate(self, exc: BaseException) -> BaseException:
        """Record the failure on the breaker and return the error to raise."""
        mapped = self.map_error(exc)
        if mapped is not None and mapped.transient:
            self.breaker.record_failure()
        else:
            self.breaker.release()
        return mapped if mapped is not None else exc

    def _kwargs(self, stop: list[str] | None, kwargs: dict[str, Any]) -> dict[str, Any]:
        cleaned = {k: v for k, v in kwargs.items() if k not in self.drop_params and v is not None}
        if stop:
            cleaned["stop"] = stop
        return cleaned

    # -- async ----------------------------------------------------------------------------

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        call_kwargs = self._kwargs(stop, kwargs)
        message: BaseMessage | None = None
        with self._meter() as meter:
            async for attempt in AsyncRetrying(**self._retry_options()):
                with attempt:
                    self.breaker.before_call()
                    try:
                        message = await generate(self.inner, messages, call_kwargs)
                    except asyncio.CancelledError:
                        self.breaker.release()
                        raise
                    except Exception as exc:
                        raise self._translate(exc) from exc
                    self.breaker.record_success()
            assert message is not None  # noqa: S101 - tenacity reraises on the last failure
            meter.saw(message, streamed=False)
        return ChatResult(generations=[ChatGeneration(message=message)])

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        call_kwargs = self._kwargs(stop, kwargs)
        stream: AsyncIterator[BaseMessage] | None = None
        head: list[BaseMessage] = []
        with self._meter() as meter:
            async for attempt in AsyncRetrying(**self._retry_options()):
                with attempt:
                    self.breaker.before_call()
                    stream = open_stream(self.inner, messages, call_kwargs)
                    try:
                        head = await aprime(stream)
                    except asyncio.CancelledError:
                        self.breaker.release()
                        raise
                    except Exception as exc:
                        raise self._translate(exc) from exc
                    self.breaker.record_success()
            assert stream is not None  # noqa: S101 - tenacity reraises on the last failure
            try:
                for message in head:
                    meter.saw(message, streamed=True)
                    yield as_chunk(message)
                async for message in stream:
                    meter.saw(message, streamed=True)
                    yield as_chunk(message)
            except Exception as exc:
                mapped = self.map_error(exc)
                if mapped is None or mapped is exc:
                    raise
                raise mapped from exc
            finally:
                closer = getattr(stream, "aclose", None)
                if closer is not None:
                    await closer()

    # -- sync -----------------------------------------------------------------------------

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        call_kwargs = self._kwargs(stop, kwargs)
        message: BaseMessage | None = None
        with self._meter() as meter:
            for attempt in Retrying(**self._retry_options()):
                with attempt:
                    self.breaker.before_call()
                    try:
                        message = self.inner.invoke(messages, **call_kwargs)
                    except Exception as exc:
                        raise self._translate(exc) from exc
                    self.breaker.record_success()
            assert message is not None  # noqa: S101 - tenacity reraises on the last failure
            meter.saw(message, streamed=False)
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        call_kwargs = self._kwargs(stop, kwargs)
        stream: Iterator[BaseMessage] | None = None
        head: list[BaseMessage] = []
        with self._meter() as meter:
            for attempt in Retrying(**self._retry_options()):
                with attempt:
                    self.breaker.before_call()
                    stream = iter(self.inner.stream(messages, **call_kwargs))
                    try:
                        head = prime(stream)
                    except Exception as exc:
                        raise self._translate(exc) from exc
                    self.breaker.record_success()
            assert stream is not None  # noqa: S101 - tenacity reraises on the last failure
            try:
                for message in head:
                    meter.saw(message, streamed=True)
                    yield as_chunk(message)
                for message in stream:
                    meter.saw(message, streamed=True)
                    yield as_chunk(message)
            except Exception as exc:
                mapped = self.map_error(exc)
                if mapped is None or mapped is exc:
                    raise
                raise mapped from exc
