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
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, Protocol, cast

from assistant.errors import AssistantError, ModelNotFoundError
from assistant.types import ModelCallRecord, ModelRef, ToolCallRecord, TrajectoryStep, Usage
from evals.types import Case, TargetOutput

if TYPE_CHECKING:
    from assistant.agent import Agent, Assistant
    from assistant.config import PriceSettings
    from assistant.knowledge import SearchMode


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


def _with_system(messages: list[Any], system_prompt: str | None) -> list[Any]:
    """The case's messages, with ``system_prompt`` in place of any system message."""
    if system_prompt is None:
        return messages
    rest = [m for m in messages if not (isinstance(m, dict) and m.get("role") == "system")]
    return [{"role": "system", "content": system_prompt}, *rest]


@dataclass
class ModelTarget:
    """A raw model (or chain): the case's messages in, the streamed answer out.

    ``params`` are sampling parameters (``temperature``, ``max_tokens``, ``seed``...), and
    ``logprobs`` / ``top_logprobs``: the answer's token logprobs are then recorded on its
    model-call step (the ``confidence`` scorer reads them);
    ``system_prompt`` replaces the case's system message; ``ref`` is the model when ``name``
    is a label (two prompt variants of one model).
    """

    name: str
    assistant: Assistant
    ref: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    system_prompt: str | None = None

    @property
    def model_ref(self) -> str:
        """The model ref or chain this target runs."""
        return self.ref or self.name

    @property
    def group(self) -> str:
        ref = self.model_ref
        return _provider(self.assistant.settings.chains.get(ref, [ref])[0])

    async def run(self, case: Case) -> TargetOutput:
        from langchain_core.messages import AIMessageChunk, convert_to_messages

        from assistant.agent.middleware import tool_call_records
        from assistant.providers import open_stream

        model = self.assistant.chat_model(self.model_ref)
        # the case's functions go the way an API client's `tools` do
        runnable = model.bind_tools(case.tools, tool_choice="auto") if case.tools else model
        messages = convert_to_messages(_with_system(case.messages(), self.system_prompt))
        started = time.perf_counter()
        first: float | None = None
        pieces: list[str] = []
        calls: AIMessageChunk | None = None
        prompt_tokens = completion_tokens = 0
        entries: list[dict[str, Any]] = []
        async for chunk in open_stream(runnable, messages, dict(self.params)):
            found = chunk.response_metadata.get("logprobs")
            if isinstance(found, dict) and isinstance(found.get("content"), list):
                entries.extend(found["content"])
            if chunk.text:
                first = first or time.perf_counter()
                pieces.append(chunk.text)
            if isinstance(chunk, AIMessageChunk) and chunk.tool_call_chunks:
                first = first or time.perf_counter()
                calls = chunk if calls is None else calls + chunk
            usage = getattr(chunk, "usage_metadata", None)
            if usage:
                prompt_tokens += int(usage["input_tokens"])
                completion_tokens += int(usage["output_tokens"])
        latency = time.perf_counter() - started
        usage_total = Usage(prompt_tokens, completion_tokens)
        text = "".join(pieces)
        trajectory: list[TrajectoryStep] = []
        if case.tools or self.params.get("logprobs"):
            records = tool_call_records(calls) if case.tools else []
            trajectory.append(
                ModelCallRecord(
                    model=self.model_ref,
                    latency_s=latency,
                    usage=usage_total,
                    tool_calls=records,
                    text=text,
                    tools_offered=[tool["function"]["name"] for tool in case.tools or []],
                    logprobs=entries if self.params.get("logprobs") else None,
                )
            )
            if records:
                text = _with_calls(text, records)
        return TargetOutput(
            output=text,
            latency_s=latency,
            ttft_s=None if first is None else first - started,
            usage=usage_total,
            cost_usd=cost_of(self.assistant.settings.evals.prices, self.model_ref, usage_total),
            trajectory=trajectory,
        )


def _with_calls(text: str, records: list[dict[str, Any]]) -> str:
    """The answer text, then one ``name(arguments)`` line per call (what reports show)."""
    lines = [f"{record['name']}({record.get('arguments', '')})" for record in records]
    return "\n".join([text, *lines] if text else lines)


@dataclass
class AgentTarget:
    """An agent profile: tools, trajectory and all.

    ``overrides`` change profile fields (``system_prompt``, ``tools``, ``model``...) for this
    target; ``params`` are per-turn model settings (``temperature``, ``max_tokens``, ``seed``);
    ``profile`` is the profile when ``name`` is a label.
    """

    name: str
    assistant: Assistant
    profile: str | None = None
    params: dict[str, Any] = field(default_factory=dict)
    overrides: dict[str, Any] = field(default_factory=dict)

    @property
    def profile_name(self) -> str:
        """The agent profile this target runs."""
        return self.profile or self.name

    @property
    def group(self) -> str:
        model = (
            self.overrides.get("model") or self.assistant.settings.profiles[self.profile_name].model
        )
        return _provider(self.assistant.settings.chains.get(model, [model])[0])

    def agent(self) -> Agent:
        """The agent, with this target's overrides."""
        return self.assistant.agent(self.profile_name, **self.overrides)

    async def run(self, case: Case) -> TargetOutput:
        from langchain_core.messages import convert_to_messages

        from assistant.agent import AgentResult, RunContext
        from assistant.types import TextDelta

        agent = self.agent()
        started = time.perf_counter()
        first: float | None = None
        result: AgentResult | None = None
        # the case's functions are offered beside the profile's tools; a call to one ends the
        # turn and is recorded, not executed
        context = RunContext(client_tools=list(case.tools or []))
        stream = agent.astream(
            convert_to_messages(case.messages()),
            model_settings=dict(self.params) or None,
            context=context,
        )
        async for event in stream:
            if isinstance(event, TextDelta) and first is None and event.text:
                first = time.perf_counter()
            elif isinstance(event, AgentResult):
                result = event
        elapsed = time.perf_counter() - started
        if result is None:  # pragma: no cover - astream always ends with the result
            return TargetOutput(output="", latency_s=elapsed, error="agent ended without a result")
        offered = {tool["function"]["name"] for tool in case.tools or []}
        client_calls = [
            record
            for step in result.trajectory
            if isinstance(step, ModelCallRecord)
            for record in step.tool_calls
            if record.get("name") in offered
        ]
        return TargetOutput(
            output=_with_calls(result.answer, client_calls),
            latency_s=elapsed,
            ttft_s=None if first is None else first - started,
            usage=result.usage,
            cost_usd=_trajectory_cost(self.assistant.settings.evals.prices, result.trajectory),
            trajectory=list(result.trajectory),
            error=f"agent stopped: {result.stopped}" if result.stopped else None,
            **retrieved_contexts(result.trajectory),
        )


def retrieved_contexts(trajectory: list[TrajectoryStep]) -> dict[str, Any]:
    """``contexts`` and ``context_sources`` from the run's ``knowledge_search`` steps (tool
    calls and automatic retrieval alike); empty when it never searched."""
    from assistant.knowledge import TOOL_NAME, parse_hits

    pairs = [
        pair
        for step in trajectory
        if isinstance(step, ToolCallRecord) and step.name == TOOL_NAME and not step.error
        for pair in parse_hits(step.result)
    ]
    if not any(isinstance(s, ToolCallRecord) and s.name == TOOL_NAME for s in trajectory):
        return {}
    unique = dict(reversed(pairs))  # a passage retrieved twice counts once, at its first rank
    ordered = [(source, unique[source]) for source in dict.fromkeys(s for s, _ in pairs)]
    return {
        "contexts": [text for _, text in ordered],
        "context_sources": [source for source, _ in ordered],
    }


@dataclass
class RetrievalTarget:
    """The knowledge base alone: the case's question in, the top chunks out (no model).

    Spec ``kb:MODE`` with MODE ``auto``, ``bm25``, ``dense`` or ``hybrid``; the passages are the
    output text and the target's ``contexts``, for ``recall_at_k``, ``mrr`` and the ragas
    context metrics.
    """

    name: str
    assistant: Assistant
    mode: SearchMode = "auto"
    k: int | None = None
    group: str = "kb"

    async def run(self, case: Case) -> TargetOutput:
        import asyncio

        from assistant.knowledge import format_hits

        knowledge = self.assistant.knowledge
        if knowledge is None:  # pragma: no cover - build_assistant always sets it
            return TargetOutput(output="", latency_s=0.0, error="no knowledge base")
        started = time.perf_counter()
        hits = await asyncio.to_thread(knowledge.search, case.prompt(), self.k, self.mode)
        return TargetOutput(
            output=format_hits(hits),
            latency_s=time.perf_counter() - started,
            contexts=[hit.text for hit in hits],
            context_sources=[hit.citation for hit in hits],
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


def resolve_target(
    spec: str | Callable[..., Any] | Target,
    assistant: Assistant,
    *,
    label: str | None = None,
    params: dict[str, Any] | None = None,
    system_prompt: str | None = None,
    tools: list[str] | None = None,
) -> Target:
    """A target from a profile name, a model ref or chain, ``py:module:function``, ``kb:MODE``
    (the knowledge base's retrieval alone), or a callable.

    For models and profiles, variants are built from the same spec: ``params`` (sampling:
    ``temperature``, ``max_tokens``, ``seed``...), ``system_prompt`` and, for profiles,
    ``tools`` (names; ``[]`` for none). ``label`` names the variant in results (default: the
    spec), so two variants of one model compare side by side.
    """
    variant = bool(params or system_prompt is not None or tools is not None or label)
    if variant and (not isinstance(spec, str) or spec.startswith("py:")):
        raise AssistantError(
            "label, params, system_prompt and tools apply to model refs and agent profiles"
        )
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
    if spec.startswith("kb:"):
        mode = spec[3:]
        if mode not in ("auto", "bm25", "dense", "hybrid"):
            raise AssistantError(f"target '{spec}': the mode must be auto, bm25, dense or hybrid")
        if variant:
            raise AssistantError("label, params, system_prompt and tools do not apply to kb:")
        if assistant.knowledge is None or not assistant.knowledge.availability().available:
            reason = assistant.knowledge.availability().reason if assistant.knowledge else None
            raise AssistantError(f"target '{spec}': {reason or 'no knowledge base'}")
        return RetrievalTarget(spec, assistant, mode=cast("SearchMode", mode))
    if assistant.is_agent(spec):
        overrides: dict[str, Any] = {}
        if system_prompt is not None:
            overrides["system_prompt"] = system_prompt
        if tools is not None:
            overrides["tools"] = list(tools)
        target = AgentTarget(
            label or spec, assistant, profile=spec, params=dict(params or {}), overrides=overrides
        )
        target.agent()  # fail early on a profile that cannot be built
        return target
    if tools is not None:
        raise AssistantError(f"'{spec}' is a model, not an agent profile: it takes no tools")
    assistant.chat_model(spec)  # fail early: unknown model, missing key
    return ModelTarget(
        label or spec, assistant, ref=spec, params=dict(params or {}), system_prompt=system_prompt
    )
