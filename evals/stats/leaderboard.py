"""The leaderboard: per group and scorer, mean score with its interval, pass rate, operations."""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

import pandas as pd  # type: ignore[import-untyped,unused-ignore]

from evals.stats._common import _per_case, _per_case_scorer, summary_line
from evals.stats.frames import as_frame, operations

__all__ = ["OVERALL", "leaderboard"]

OVERALL = "(overall)"
"""The ``scorer`` label of a leaderboard's overall row."""


def _key(value: Any) -> tuple[Any, ...]:
    return value if isinstance(value, tuple) else (value,)


def leaderboard(
    frame: Any,
    by: Sequence[str] = ("run_id", "target"),
    *,
    overall_scorer: str | None = None,
    confidence: float = 0.95,
) -> Any:
    """Per group and scorer: mean score with its interval, cases, errors, pass rate, operations.

    Each group gets an :data:`OVERALL` row first (per case, the mean over scorers, or
    ``overall_scorer``), then one row per scorer. Groups are sorted by overall mean, best first.
    Columns: ``by``, ``scorer``, ``mean``, ``ci_low``, ``ci_high``, ``ci_method``, ``n_cases``
    (cases with at least one successful score), ``n_errors`` (failed scores, all repeats),
    ``pass_rate`` (mean over cases of the share of passing scores), ``latency_p50_s``,
    ``latency_p95_s``, ``ttft_mean_s``, ``prompt_tokens``, ``completion_tokens``,
    ``total_tokens``, ``cost_usd`` (the operational columns are per group, repeated per row).
    """
    df = as_frame(frame)
    keys = list(by)
    if not keys:
        raise ValueError("leaderboard needs at least one grouping column")
    per_cs = _per_case_scorer(df, keys)
    per_c = _per_case(per_cs, keys, overall_scorer)
    by_scorer = {_key(k): g for k, g in per_cs.groupby(keys, sort=False, dropna=False)}
    by_case = {_key(k): g for k, g in per_c.groupby(keys, sort=False, dropna=False)}

    groups: list[tuple[float, list[dict[str, Any]]]] = []
    for raw_key, rows in df.groupby(keys, sort=False, dropna=False):
        key = _key(raw_key)
        ops = operations(rows)
        common = {
            "latency_p50_s": ops.latency_p50_s,
            "latency_p95_s": ops.latency_p95_s,
            "ttft_mean_s": ops.ttft_mean_s,
            "prompt_tokens": ops.prompt_tokens,
            "completion_tokens": ops.completion_tokens,
            "total_tokens": ops.total_tokens,
            "cost_usd": ops.cost_usd,
        }
        labels = dict(zip(keys, key, strict=True))
        lines: list[dict[str, Any]] = []
        empty = pd.DataFrame({"value": [], "passed": [], "n_errors": []})
        cases = by_case.get(key, empty)
        parts = [(OVERALL, cases)]
        scorers = by_scorer.get(key)
        if scorers is not None:
            parts += [(str(s), g) for s, g in sorted(scorers.groupby("scorer"), key=lambda x: x[0])]
        for scorer, part in parts:
            lines.append({**labels, "scorer": scorer, **summary_line(part, confidence), **common})
        overall = lines[0]["mean"]
        groups.append((-math.inf if overall is None else overall, lines))
    groups.sort(key=lambda item: -item[0])
    columns = [*keys, "scorer", "mean", "ci_low", "ci_high", "ci_method", "n_cases", "n_errors"]
    columns += ["pass_rate", "latency_p50_s", "latency_p95_s", "ttft_mean_s", "prompt_tokens"]
    columns += ["completion_tokens", "total_tokens", "cost_usd"]
    return pd.DataFrame([line for _, lines in groups for line in lines], columns=columns)
