"""Per-case aggregation and small helpers shared by the statistics modules.

Cases are the unit of analysis: a case's repeats are averaged first (per group, case and scorer),
then its scorers, before any interval or comparison is computed. Everything here is private to
:mod:`evals.stats` except :data:`PASS_THRESHOLD`, public as ``evals.stats.PASS_THRESHOLD``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped,unused-ignore]

__all__ = ["PASS_THRESHOLD"]

PASS_THRESHOLD = 0.5
"""A score passes at or above this value (as :attr:`evals.types.Score.passed`)."""


def _clean(values: Iterable[float | None] | Any) -> Any:
    """A flat float array of ``values`` without None/NaN."""
    if not isinstance(values, np.ndarray):
        values = [np.nan if v is None else v for v in values]
    arr = np.asarray(values, dtype=float).ravel()
    return arr[~np.isnan(arr)]


def _opt(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


def _per_case_scorer(df: Any, keys: Sequence[str]) -> Any:
    """One row per (keys, case, scorer): repeats averaged, pass share, failed repeats."""
    scored = df[df["scorer"].notna()]
    value = scored["value"]
    scored = scored.assign(
        passed=(value >= PASS_THRESHOLD).astype(float).where(value.notna()),
        failed=value.isna().astype(int),
    )
    grouped = scored.groupby([*keys, "case_id", "scorer"], sort=False, dropna=False)
    return grouped.agg(
        value=("value", "mean"), passed=("passed", "mean"), n_errors=("failed", "sum")
    ).reset_index()


def _per_case(per_case_scorer: Any, keys: Sequence[str], scorer: str | None) -> Any:
    """One row per (keys, case): the mean over scorers (or just ``scorer``)."""
    rows = per_case_scorer
    if scorer is not None:
        rows = rows[rows["scorer"] == scorer]
    grouped = rows.groupby([*keys, "case_id"], sort=False, dropna=False)
    return grouped.agg(
        value=("value", "mean"), passed=("passed", "mean"), n_errors=("n_errors", "sum")
    ).reset_index()


def _case_values(rows: Any, scorer: str | None) -> Any:
    """Series case_id -> score (repeats averaged; mean over scorers unless ``scorer``)."""
    per_case = _per_case(_per_case_scorer(rows, ["target"]), ["target"], scorer)
    return per_case.groupby("case_id")["value"].mean().dropna()


def summary_line(part: Any, confidence: float) -> dict[str, Any]:
    """Mean with its interval, cases, errors and pass rate of per-case rows (one leaderboard
    or by-tag line)."""
    from evals.stats.intervals import mean_ci  # intervals uses this module

    est = mean_ci(part["value"].to_numpy(dtype=float), confidence)
    return {
        "mean": est.mean,
        "ci_low": est.low,
        "ci_high": est.high,
        "ci_method": est.method,
        "n_cases": est.n,
        "n_errors": int(part["n_errors"].sum()),
        "pass_rate": _opt(part["passed"].mean()) if len(part) else None,
    }
