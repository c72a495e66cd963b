"""The eval harness's vocabulary: cases, what a target produced, and scores.

Every part speaks these types: datasets load into :class:`Case`, targets produce a
:class:`TargetOutput`, scorers turn both into a :class:`Score`, the runner stores a
:class:`CaseResult` per (run, case, target, repeat), and statistics read them back.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any, Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from assistant.types import TrajectoryStep, Usage
from evals.calls.schema import check_expected_calls, normalise_expected_calls, normalise_tools


class ScorerSpec(BaseModel):
    """A scorer by name, with its arguments: enough to rebuild it anywhere."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str = Field(min_length=1, description="Registered scorer name, e.g. `numeric`.")
    args: dict[str, Any] = Field(
        default_factory=dict, description="Keyword arguments of the scorer."
    )


class Message(BaseModel):
    """One message of an OpenAI-style conversation input."""

    model_config = ConfigDict(extra="forbid")

    role: str = Field(pattern="^(system|developer|user|assistant)$")
    content: str


class Case(BaseModel):
    """One line of a dataset."""

    model_config = ConfigDict(extra="forbid")

    id: str = Field(min_length=1, description="Unique within the dataset.")
    input: str | list[Message] = Field(description="A prompt, or an OpenAI-style `messages` list.")
    expected: str | None = Field(
        None, description="The reference answer, for scorers that compare."
    )
    expected_tools: list[str] | None = Field(None, description="Tools the agent should call.")
    tools: list[dict[str, Any]] | None = Field(
        None,
        description="Functions offered to the model: OpenAI tools (`{type: function, function: "
        "{name, description, parameters}}`) or BFCL's bare `{name, description, parameters}`; "
        "normalised to OpenAI tools.",
    )
    expected_calls: list[dict[str, dict[str, list[Any]]]] | None = Field(
        None,
        description="Acceptable calls, BFCL's possible-answer form: `[{function: {param: "
        '[acceptable values]}}]`; `""` among the values lets the parameter be omitted; `[]` '
        "means no call is right.",
    )
    call_order: Literal["any", "exact"] | None = Field(
        None,
        description="How several expected calls match: `any` order (parallel; the default) or "
        "`exact`.",
    )
    contexts: list[str] | None = Field(None, description="Retrieved passages, for RAG metrics.")
    scorers: list[ScorerSpec] | None = Field(
        None, description="Scorers for this case: names, or `{name, args}` objects."
    )
    tags: list[str] = Field(default_factory=list, description="Labels to filter and group by.")
    metadata: dict[str, Any] = Field(default_factory=dict, description="Anything else, kept as is.")

    @field_validator("scorers", mode="before")
    @classmethod
    def _names_are_specs(cls, value: Any) -> Any:
        if isinstance(value, list):
            return [{"name": item} if isinstance(item, str) else item for item in value]
        return value

    @field_validator("tools", mode="before")
    @classmethod
    def _tools_normalised(cls, value: Any) -> Any:
        return None if value is None else normalise_tools(value)

    @field_validator("expected_calls", mode="before")
    @classmethod
    def _expected_calls_checked(cls, value: Any) -> Any:
        return None if value is None else normalise_expected_calls(value)

    @model_validator(mode="after")
    def _calls_fit_tools(self) -> Case:
        if self.expected_calls is not None and self.tools is not None:
            check_expected_calls(self.expected_calls, self.tools)
        return self

    @field_validator("input")
    @classmethod
    def _input_not_empty(cls, value: str | list[Message]) -> str | list[Message]:
        if isinstance(value, str) and not value.strip():
            raise ValueError("input must not be empty")
        if isinstance(value, list) and not value:
            raise ValueError("input messages must not be empty")
        return value

    def messages(self) -> list[dict[str, str]]:
        """The input as OpenAI-style messages."""
        if isinstance(self.input, str):
            return [{"role": "user", "content": self.input}]
        return [message.model_dump() for message in self.input]

    def functions(self) -> list[dict[str, Any]]:
        """The ``function`` parts of the offered tools (``[]`` when the case offers none)."""
        return [tool["function"] for tool in self.tools or []]

    def prompt(self) -> str:
        """The last user message (what a judge or a RAG metric calls the question)."""
        if isinstance(self.input, str):
            return self.input
        users = [m.content for m in self.input if m.role == "user"]
        return users[-1] if users else self.input[-1].content


@dataclass(frozen=True, slots=True)
class TargetOutput:
    """What a target produced for one case (or the error that stopped it)."""

    output: str
    latency_s: float
    ttft_s: float | None = None
    usage: Usage = field(default_factory=Usage)
    cost_usd: float | None = None
    trajectory: list[TrajectoryStep] = field(default_factory=list)
    error: str | None = None
    contexts: list[str] | None = None
    """Passages the target retrieved, best first (RAG metrics prefer them to the case's)."""
    context_sources: list[str] | None = None
    """Where each of ``contexts`` comes from (``source#chunk``), for retrieval metrics."""

    @property
    def tools_called(self) -> list[str]:
        """Names of the tools the target called, in order."""
        return [step.name for step in self.trajectory if step.kind == "tool"]  # type: ignore[union-attr]


@dataclass(frozen=True, slots=True)
class Score:
    """One scorer's verdict on one case. ``value`` is in [0, 1], or ``None`` when it failed."""

    name: str
    value: float | None
    reason: str | None = None
    error: str | None = None
    details: dict[str, Any] = field(default_factory=dict)

    @property
    def passed(self) -> bool | None:
        """``value >= 0.5``; ``None`` when the scorer failed."""
        return None if self.value is None else self.value >= 0.5


class Scorer(Protocol):
    """Turns a case and a target's output into a :class:`Score`."""

    name: str
    spec: ScorerSpec

    async def score(self, case: Case, output: TargetOutput) -> Score:
        """Score one case; failures are returned as ``Score(value=None, error=...)``."""
        ...


@dataclass(frozen=True, slots=True)
class CaseResult:
    """One stored row: a case, run once against one target, and its scores."""

    run_id: str
    case_id: str
    target: str
    repeat: int
    output: TargetOutput
    scores: list[Score]
    tags: list[str] = field(default_factory=list)
