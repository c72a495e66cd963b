"""Measures one provider model call (latency, first token, tokens, outcome) for the observer.

The resilient model meters every call itself, rather than through a LangChain callback:
fallback chains drive their members' ``_astream``/``_agenerate`` directly (a second callback
layer per token costs throughput), so callbacks on a member would miss calls made in a chain.
"""

from __future__ import annotations

import asyncio
import time
from types import TracebackType

from langchain_core.messages import BaseMessage

from assistant.observe import ModelCall, Observer


def outcome_of(exc: BaseException) -> str:
    """A bounded outcome label for a failure: ``cancelled`` or the error's class name."""
    if isinstance(exc, asyncio.CancelledError | GeneratorExit):
        return "cancelled"
    return type(exc).__name__


class CallMeter:
    """Times one call and counts its tokens; reports it once, when its ``with`` block ends
    (with the exception's outcome if one ends it: an error, a cancellation, a closed stream)."""

    __slots__ = ("_first", "_observer", "_started", "completion", "model",
                 "outcome", "prompt", "provider")  # fmt: skip

    def __init__(self, observer: Observer, provider: str, model: str) -> None:
        self._observer = observer
        self.provider = provider
        self.model = model
        self._started = time.perf_counter()
        self._first: float | None = None
        self.outcome = "ok"
        self.prompt = 0
        self.completion = 0

    def saw(self, message: BaseMessage, *, streamed: bool) -> None:
        """Count a message (a stream's chunk, or the whole answer)."""
        if (
            streamed
            and self._first is None
            and (message.content or getattr(message, "tool_call_chunks", None))
        ):
            self._first = time.perf_counter() - self._started
        usage = getattr(message, "usage_metadata", None)
        if usage:
            self.prompt += int(usage.get("input_tokens", 0))
            self.completion += int(usage.get("output_tokens", 0))

    def __enter__(self) -> CallMeter:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        exc: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        if exc is not None:
            self.outcome = outcome_of(exc)
        self._observer.model_called(
            ModelCall(
                provider=self.provider,
                model=self.model,
                outcome=self.outcome,
                seconds=time.perf_counter() - self._started,
                first_token_s=self._first,
                prompt_tokens=self.prompt,
                completion_tokens=self.completion,
            )
        )
