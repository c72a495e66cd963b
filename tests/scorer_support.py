"""Shared helpers of the scorer tests: cases, outputs, scoring, and the checks on a score."""

from __future__ import annotations

import json
import math
from collections.abc import Iterator
from typing import Any

import pytest
from langchain_core.language_models import BaseChatModel

from assistant.types import ModelCallRecord, ToolCallRecord, Usage
from evals.scorers import (
    build_scorer,
)
from evals.scorers import registry as registry_module
from evals.types import Case, Score, TargetOutput

BUILTINS = {
    "exact",
    "contains",
    "regex",
    "numeric",
    "json_valid",
    "json_schema",
    "tool_called",
    "llm_judge",
    "faithfulness",
    "answer_relevancy",
    "context_precision",
    "context_recall",
}

# One valid spec per built-in (the ones with required arguments get them).
MINIMAL_SPECS: dict[str, dict[str, Any]] = {
    "exact": {},
    "contains": {},
    "regex": {"pattern": "x"},
    "numeric": {},
    "json_valid": {},
    "json_schema": {"schema": {"type": "object"}},
    "tool_called": {},
    "llm_judge": {"rubric": "Is it correct?"},
    "faithfulness": {},
    "answer_relevancy": {},
    "context_precision": {},
    "context_recall": {},
}


def fixed_model(model: BaseChatModel, asked: list[str] | None = None) -> Any:
    """A chat-model factory that always returns ``model``, recording the refs asked for."""

    def factory(ref: str) -> BaseChatModel:
        if asked is not None:
            asked.append(ref)
        return model

    return factory


def case(**fields: Any) -> Case:
    """A case with a default prompt."""
    fields.setdefault("id", "c1")
    fields.setdefault("input", "What is the answer?")
    return Case(**fields)


def out(
    text: str = "", *, tools: list[str] | None = None, error: str | None = None
) -> TargetOutput:
    """A target output whose trajectory called ``tools`` (between model calls)."""
    trajectory: list[Any] = [ModelCallRecord(model="m", latency_s=0.1, usage=Usage())]
    for index, name in enumerate(tools or []):
        trajectory.append(
            ToolCallRecord(name=name, args={}, call_id=f"c{index}", result="ok", latency_s=0.01)
        )
        trajectory.append(ModelCallRecord(model="m", latency_s=0.1, usage=Usage()))
    return TargetOutput(output=text, latency_s=0.5, trajectory=trajectory, error=error)


async def score(spec: Any, the_case: Case, output: TargetOutput, **inject: Any) -> Score:
    return await build_scorer(spec, **inject).score(the_case, output)


def assert_valid(result: Score) -> None:
    """Every score: a value in [0, 1] or an error, never NaN, details JSON data."""
    if result.value is None:
        assert result.error
    else:
        assert math.isfinite(result.value) and 0.0 <= result.value <= 1.0
        assert result.error is None and result.reason
    json.dumps(result.details)


@pytest.fixture
def clean_registry() -> Iterator[None]:
    """Scorers a test registers are gone afterwards."""
    saved = dict(registry_module._FACTORIES)
    yield
    registry_module._FACTORIES.clear()
    registry_module._FACTORIES.update(saved)
