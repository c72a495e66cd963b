"""Result frames: build and normalise them, score cases, and total their operational numbers."""

from __future__ import annotations

import math
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped,unused-ignore]

from evals.stats._common import _opt, _per_case, _per_case_scorer
from evals.types import CaseResult, Score

__all__ = ["COLUMNS", "Ops", "as_frame", "case_scores", "operations", "results_frame"]

COLUMNS: tuple[str, ...] = (
    "run_id",
    "case_id",
    "target",
    "repeat",
    "scorer",
    "value",
    "error",
    "latency_s",
    "ttft_s",
    "prompt_tokens",
    "completion_tokens",
    "cost_usd",
    "tags",
    "output",
)
"""Columns of a result frame; ``output`` is optional (the report shows it when present)."""


_ATTEMPT = ["run_id", "target", "case_id", "repeat"]
_FLOATS = ("value", "latency_s", "ttft_s", "prompt_tokens", "completion_tokens", "cost_usd")


def results_frame(results: Iterable[CaseResult]) -> Any:
    """A result frame (one row per score) from :class:`~evals.types.CaseResult` objects.

    ``error`` is the scorer's error, else the target's. A result without scores still gives one
    row (``scorer`` and ``value`` missing) so its latency, tokens and cost are counted.
    """
    rows: list[dict[str, Any]] = []
    for result in results:
        out = result.output
        base = {
            "run_id": result.run_id,
            "case_id": result.case_id,
            "target": result.target,
            "repeat": result.repeat,
            "latency_s": out.latency_s,
            "ttft_s": out.ttft_s,
            "prompt_tokens": out.usage.prompt_tokens,
            "completion_tokens": out.usage.completion_tokens,
            "cost_usd": out.cost_usd,
            "tags": list(result.tags),
            "output": out.output,
        }
        scores: list[Score | None] = list(result.scores) or [None]
        for score in scores:
            rows.append(
                {
                    **base,
                    "scorer": None if score is None else score.name,
                    "value": None if score is None else score.value,
                    "error": (score.error if score is not None else None) or out.error,
                }
            )
    return as_frame(rows)


def _tags(value: Any) -> list[str]:
    if value is None or (isinstance(value, float) and math.isnan(value)):
        return []
    if isinstance(value, str):
        return [value]
    return [str(tag) for tag in value]


def as_frame(data: Any) -> Any:
    """Normalise rows to a result frame with every column of :data:`COLUMNS`.

    Accepts a DataFrame (copied), dicts, or :class:`~evals.types.CaseResult` objects. Missing
    optional columns are filled (``run_id`` with ``""``, ``repeat`` with 0, the rest missing);
    ``value`` becomes float with NaN for failures; ``tags`` becomes a list per row. When the rows
    carry the target's and the scorer's errors apart (``error`` and ``score_error``, as the
    store's frame does), ``error`` becomes the target's error, else the scorer's.
    """
    if isinstance(data, pd.DataFrame):
        df = data.copy()
    else:
        items = list(data)
        if items and isinstance(items[0], CaseResult):
            return results_frame(items)
        df = pd.DataFrame([dict(item) for item in items])
    missing = [c for c in ("case_id", "target", "scorer", "value") if c not in df.columns]
    if missing and len(df):
        raise ValueError(f"result rows lack required columns: {', '.join(missing)}")
    if "score_error" in df.columns and "error" in df.columns:
        df["error"] = df["error"].where(df["error"].notna(), df["score_error"])
    for column in COLUMNS:
        if column not in df.columns:
            df[column] = "" if column == "run_id" else 0 if column == "repeat" else None
    for column in _FLOATS:
        df[column] = pd.to_numeric(df[column], errors="coerce").astype(float)
    df["tags"] = [_tags(tags) for tags in df["tags"]]
    df["run_id"] = df["run_id"].fillna("").astype(str)
    df["repeat"] = pd.to_numeric(df["repeat"], errors="coerce").fillna(0).astype(int)
    return df.reset_index(drop=True)


def case_scores(
    frame: Any, by: Sequence[str] = ("run_id", "target"), scorer: str | None = None
) -> Any:
    """Per group and case: the score (repeats averaged; mean over scorers unless ``scorer``).

    Columns: ``by``, ``case_id``, ``value`` (NaN when every score failed), ``passed`` (share of
    passing scores), ``n_errors`` (failed scores).
    """
    df = as_frame(frame)
    return _per_case(_per_case_scorer(df, list(by)), list(by), scorer)


@dataclass(frozen=True, slots=True)
class Ops:
    """Operational numbers of a set of attempts (one attempt = a case run once on a target)."""

    n_attempts: int
    latency_p50_s: float | None
    latency_p95_s: float | None
    ttft_mean_s: float | None
    prompt_tokens: int
    completion_tokens: int
    cost_usd: float | None
    """Total cost; ``None`` when no attempt reported one."""

    @property
    def total_tokens(self) -> int:
        """Prompt plus completion tokens."""
        return self.prompt_tokens + self.completion_tokens


def operations(frame: Any) -> Ops:
    """Latency percentiles, mean TTFT, token and cost totals, counted once per attempt.

    Rows repeat an attempt's numbers once per scorer, so they are de-duplicated on
    ``(run_id, target, case_id, repeat)`` first.
    """
    attempts = frame.drop_duplicates(subset=_ATTEMPT)
    latency = attempts["latency_s"].dropna().to_numpy(dtype=float)
    p50, p95 = (
        (float(np.percentile(latency, 50)), float(np.percentile(latency, 95)))
        if latency.size
        else (None, None)
    )
    costs = attempts["cost_usd"].dropna()
    return Ops(
        n_attempts=len(attempts),
        latency_p50_s=p50,
        latency_p95_s=p95,
        ttft_mean_s=_opt(attempts["ttft_s"].mean()) if attempts["ttft_s"].notna().any() else None,
        prompt_tokens=int(attempts["prompt_tokens"].fillna(0).sum()),
        completion_tokens=int(attempts["completion_tokens"].fillna(0).sum()),
        cost_usd=float(costs.sum()) if len(costs) else None,
    )
