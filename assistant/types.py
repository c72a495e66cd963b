"""The vocabulary every layer speaks: model references, sampling parameters, usage, model info."""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from assistant.errors import ModelNotFoundError


@dataclass(frozen=True, slots=True)
class ModelRef:
    """A model reference ``provider:model``, e.g. ``local:smollm2`` or ``ollama:llama3.2:3b``.

    Only the first colon separates provider from model, so model names may contain colons.
    """

    provider: str
    model: str

    @classmethod
    def parse(cls, ref: str) -> ModelRef:
        """Parse ``provider:model``; raise :class:`ModelNotFoundError` when malformed."""
        provider, sep, model = ref.strip().partition(":")
        if not sep or not provider or not model:
            raise ModelNotFoundError(ref, "expected 'provider:model', e.g. 'local:smollm2'")
        return cls(provider=provider, model=model)

    def __str__(self) -> str:
        return f"{self.provider}:{self.model}"


@dataclass(frozen=True, slots=True)
class SamplingParams:
    """Sampling parameters of one request; ``None`` means the model's default."""

    temperature: float | None = None
    top_p: float | None = None
    max_tokens: int | None = None
    stop: tuple[str, ...] | None = None
    seed: int | None = None
    presence_penalty: float | None = None
    frequency_penalty: float | None = None

    def as_kwargs(self, supported: frozenset[str] | None = None) -> dict[str, Any]:
        """The set parameters as keyword arguments, limited to ``supported`` names if given."""
        values: dict[str, Any] = {
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_tokens": self.max_tokens,
            "stop": list(self.stop) if self.stop else None,
            "seed": self.seed,
            "presence_penalty": self.presence_penalty,
            "frequency_penalty": self.frequency_penalty,
        }
        return {
            key: value
            for key, value in values.items()
            if value is not None and (supported is None or key in supported)
        }


@dataclass(frozen=True, slots=True)
class Usage:
    """Token counts of one model call."""

    prompt_tokens: int = 0
    completion_tokens: int = 0

    @property
    def total_tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens


@dataclass(frozen=True, slots=True)
class Availability:
    """Whether a provider or tool can be used now, and if not, which setting to change."""

    available: bool
    reason: str | None = None


@dataclass(frozen=True, slots=True)
class ModelInfo:
    """One servable model as listed by ``assistant models`` and ``GET /v1/models``."""

    id: str
    """What clients pass as ``model``: a ``provider:model`` ref or a chain name."""
    provider: str
    available: bool
    reason: str | None = None
    """Why the model is unavailable, naming the setting to change."""
    kind: str = "model"
    """``model`` for a provider model, ``chain`` for a fallback chain."""
    details: dict[str, Any] = field(default_factory=dict)


@dataclass(frozen=True, slots=True)
class ModelCallRecord:
    """One model call of an agent run."""

    model: str
    latency_s: float
    usage: Usage
    tool_calls: list[dict[str, Any]] = field(default_factory=list)
    """The calls the model asked for: ``{"name", "args", "arguments", "id"}``; ``arguments`` is
    the JSON text as the model wrote it. A call whose arguments are not a JSON object has
    ``args`` ``None`` and an ``error``."""
    text: str = ""
    tools_offered: list[str] = field(default_factory=list)
    error: str | None = None
    cached: bool = False
    """Answered from the response cache, without calling the model."""
    logprobs: list[dict[str, Any]] | None = None
    """OpenAI's per-token entries of the answer (``token``, ``logprob``, ``bytes``,
    ``top_logprobs``), when the call asked for ``logprobs``."""
    kind: str = "model"


@dataclass(frozen=True, slots=True)
class ToolCallRecord:
    """One tool call of an agent run."""

    name: str
    args: dict[str, Any]
    call_id: str
    result: str
    latency_s: float
    error: bool = False
    kind: str = "tool"


TrajectoryStep = ModelCallRecord | ToolCallRecord
"""A step of an agent run, in the order it happened."""


@dataclass(frozen=True, slots=True)
class ToolStarted:
    """Stream event: the agent is about to run a tool (``client``: one of the caller's own
    functions, which ends the turn unexecuted)."""

    name: str
    args: dict[str, Any]
    call_id: str
    client: bool = False


@dataclass(frozen=True, slots=True)
class ToolFinished:
    """Stream event: a tool answered (``error`` when it failed)."""

    name: str
    call_id: str
    result: str
    error: bool


@dataclass(frozen=True, slots=True)
class TextDelta:
    """Stream event: a piece of the answer."""

    text: str
