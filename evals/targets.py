"""What an eval runs against: a model ref, an agent profile, or a Python callable.

Every target turns a :class:`~evals.types.Case` into a :class:`~evals.types.TargetOutput`:
the answer, latency, time to first token, tokens, cost (from the price table) and, for agents,
the trajectory. A failure becomes ``TargetOutput.error`` (the run goes on); transient provider
failures are raised as such so the runner can retry them.
"""

from __future__ import annotations

import importlib
import inspect
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, Protocol

from assistant.errors import AssistantError, ModelNotFoundError
from assistant.types import ModelCallRecord, ModelRef, TrajectoryStep, Usage
from evals.types import Case, TargetOutput

if TYPE_CHECKING:
    from assistant.agent import Assistant
    from assistant.config import PriceSettings


class Target(Protocol):
    """Something a dataset can be run against."""

    @property
    def name(self) -> str:
        """How results name it (a model ref, a profile name, ``py:module:function``)."""
        ...

    @property
    def group(self) -> str:
        """Its concurrency group: the provider it loads."""
        ...

    async def run(self, case: Case) -> TargetOutput:
        """Answer one case."""
        ...


def cost_of(prices: dict[str, PriceSettings], ref: str, usage: Usage) -> float | None:
    """Dollars for ``usage`` on model ``ref``; ``None`` when the price table does not know it."""
    price = prices.get(ref)
    if price is None:
        return 0.0 if ref.startswith("local:") else None
    return (
        usage.prompt_tokens * price.input_per_million
        + usage.completion_tokens * price.output_per_million
    ) / 1e6


def _provider(ref: str) -> str:
    try:
        return ModelRef.parse(ref.split("->")[0]).provider
    except ModelNotFoundError:
        return ref


@dataclass
class ModelTarget:
    """A raw model (or chain): the case's messages in, the streamed answer out."""

    name: str
    assistant: Assistant

    @property
    def group(self) -> str:
        return _provider(self.assistant.settings.chains.get(self.name, [self.name])[0])

    async def run(self, case: Case) -> TargetOutput:
        from langchain_core.messages import convert_to_messages

        from assistant.providers import open_stream

        model = self.assistant.chat_model(self.name)
        started = time.perf_counter()
        first: float | None = None
        pieces: list[str] = []
        prompt_tokens = completion_tokens = 0
        async for chunk in open_stream(model, convert_to_messages(case.messages()), {}):
            if chunk.text:
                first = first or time.perf_counter()
                pieces.append(chunk.text)
            usage = getattr(chunk, "usage_metadata", None)
            if usage:
                prompt_tokens += int(usage["input_tokens"])
                completion_tokens += int(usage["output_tokens"])
        usage_total = Usage(prompt_tokens, completion_tokens)
        return TargetOutput(
            output="".join(pieces),
            latency_s=time.perf_counter() - started,
            ttft_s=None if first is None else first - started,
            usage=usage_total,
            cost_usd=cost_of(self.assistant.settings.evals.prices, self.name, usage_total),
        )


@dataclass
class AgentTarget:
    """An agent profile: tools, trajectory and all."""

    name: str
    assistant: Assistant

    @property
    def group(self) -> str:
        profile = self.assistant.settings.profiles[self.name]
        return _provider(self.assistant.settings.chains.get(profile.model, [profile.model])[0])

    async def run(self, case: Case) -> TargetOutput:
        from langchain_core.messages import convert_to_messages

        from assistant.agent import AgentResult
        from assistant.types import TextDelta

        agent = self.assistant.agent(self.name)
        started = time.perf_counter()
        first: float | None = None
        result: AgentResult | None = None
        async for event in agent.astream(convert_to_messages(case.messages())):
            if isinstance(event, TextDelta) and first is None and event.text:
                first = time.perf_counter()
            elif isinstance(event, AgentResult):
                result = event
        elapsed = time.perf_counter() - started
        if result is None:  # pragma: no cover - astream always ends with the result
            return TargetOutput(output="", latency_s=elapsed, error="agent ended without a result")
        return TargetOutput(
            output=result.answer,
            latency_s=elapsed,
            ttft_s=None if first is None else first - started,
            usage=result.usage,
            cost_usd=_trajectory_cost(self.assistant.settings.evals.prices, result.trajectory),
            trajectory=list(result.trajectory),
            error=f"agent stopped: {result.stopped}" if result.stopped else None,
        )


def _trajectory_cost(
    prices: dict[str, PriceSettings], trajectory: list[TrajectoryStep]
) -> float | None:
    total = 0.0
    for step in trajectory:
        if isinstance(step, ModelCallRecord):
            cost = cost_of(prices, step.model, step.usage)
            if cost is None:
                return None
            total += cost
    return total


@dataclass
class CallableTarget:
    """A Python function of a case: returns the answer text, or a whole TargetOutput."""

    name: str
    function: Callable[[Case], str | TargetOutput | Awaitable[str | TargetOutput]]
    group: str = "python"

    async def run(self, case: Case) -> TargetOutput:
        started = time.perf_counter()
        value = self.function(case)
        if inspect.isawaitable(value):
            value = await value
        if isinstance(value, TargetOutput):
            return value
        return TargetOutput(output=str(value), latency_s=time.perf_counter() - started)


def resolve_target(spec: str | Callable[..., Any] | Target, assistant: Assistant) -> Target:
    """A target from a profile name, a model ref or chain, ``py:module:function``, or a callable."""
    if not isinstance(spec, str):
        if hasattr(spec, "run") and hasattr(spec, "name"):
            return spec  # type: ignore[return-value]
        return CallableTarget(getattr(spec, "__name__", "callable"), spec)
    if spec.startswith("py:"):
        module_name, _, attribute = spec[3:].partition(":")
        try:
            function = getattr(importlib.import_module(module_name), attribute)
        except (ImportError, AttributeError, ValueError) as exc:
            raise AssistantError(f"target '{spec}': cannot import it: {exc}") from None
        return CallableTarget(spec, function)
    if assistant.is_agent(spec):
        assistant.agent(spec)  # fail early on a profile that cannot be built
        return AgentTarget(spec, assistant)
    assistant.chat_model(spec)  # fail early: unknown model, missing key
    return ModelTarget(spec, assistant)
