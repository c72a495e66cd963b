"""Paired comparison of two sides (runs or targets), case by case, with a bootstrap interval."""

from __future__ import annotations

from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped,unused-ignore]

from evals.stats._common import _case_values, _clean
from evals.stats.frames import Ops, as_frame, operations
from evals.stats.leaderboard import OVERALL

__all__ = ["Comparison", "PairedBootstrap", "Selector", "compare", "paired_bootstrap"]


@dataclass(frozen=True, slots=True)
class PairedBootstrap:
    """Mean of paired differences with a percentile bootstrap interval."""

    mean: float | None
    low: float | None
    """Lower bound (``None`` with fewer than 2 pairs)."""
    high: float | None
    """Upper bound (``None`` with fewer than 2 pairs)."""
    p_value: float | None
    """Two-sided: twice the share of resampled means on the far side of 0 (capped at 1)."""
    n: int

    @property
    def significant(self) -> bool:
        """The interval excludes 0."""
        return self.low is not None and self.high is not None and (self.low > 0 or self.high < 0)


def paired_bootstrap(
    diffs: Iterable[float] | Any, *, confidence: float = 0.95, n_boot: int = 10_000, seed: int = 0
) -> PairedBootstrap:
    """Percentile bootstrap of the mean of ``diffs`` (NaN dropped); deterministic per ``seed``.

    Resamples cases with replacement ``n_boot`` times, vectorised in chunks of about 2 million
    draws so memory stays bounded at any size.
    """
    d = _clean(diffs)
    n = int(d.size)
    if n == 0:
        return PairedBootstrap(None, None, None, None, 0)
    mean = float(d.mean())
    if n == 1:
        return PairedBootstrap(mean, None, None, None, 1)
    if n_boot < 1:
        raise ValueError("n_boot must be at least 1")
    rng = np.random.default_rng(seed)
    means = np.empty(n_boot)
    chunk = max(1, 2_000_000 // n)
    for start in range(0, n_boot, chunk):
        stop = min(n_boot, start + chunk)
        means[start:stop] = d[rng.integers(0, n, size=(stop - start, n))].mean(axis=1)
    alpha = 1.0 - confidence
    low, high = np.quantile(means, [alpha / 2.0, 1.0 - alpha / 2.0])
    far_side = min(float(np.mean(means <= 0.0)), float(np.mean(means >= 0.0)))
    return PairedBootstrap(mean, float(low), float(high), min(1.0, 2.0 * far_side), n)


@dataclass(frozen=True, slots=True)
class Selector:
    """One side of a comparison: a run, a target, or a target within a run.

    A plain string also works wherever a selector is expected: a target name if the frame has
    such a target, else a run id.
    """

    run_id: str | None = None
    target: str | None = None

    def rows(self, frame: Any) -> Any:
        """The rows of ``frame`` this selector picks."""
        mask = pd.Series(True, index=frame.index)
        if self.run_id is not None:
            mask &= frame["run_id"] == self.run_id
        if self.target is not None:
            mask &= frame["target"] == self.target
        return frame[mask]

    def __str__(self) -> str:
        parts = [p for p in (self.run_id, self.target) if p is not None]
        return " / ".join(parts) if parts else "(all)"


def _select(df: Any, spec: Selector | str | Mapping[str, str]) -> tuple[Selector, Any]:
    """Resolve ``spec`` to a selector naming exactly one (run, target), and its rows."""
    if isinstance(spec, str):
        if spec in set(df["target"]):
            selector = Selector(target=spec)
        elif spec in set(df["run_id"]):
            selector = Selector(run_id=spec)
        else:
            raise ValueError(f"{spec!r} is neither a target nor a run id in these results")
    elif isinstance(spec, Selector):
        selector = spec
    else:
        selector = Selector(**dict(spec))
    rows = selector.rows(df)
    pairs = rows[["run_id", "target"]].drop_duplicates()
    if len(pairs) == 0:
        raise ValueError(f"no results match {selector}")
    if len(pairs) > 1:
        found = ", ".join(f"{r}/{t}" for r, t in pairs.itertuples(index=False))
        raise ValueError(f"{selector} matches several (run, target) pairs: {found}; narrow it")
    run_id, target = pairs.iloc[0]
    return Selector(run_id=str(run_id), target=str(target)), rows


def _case_details(rows: Any) -> Any:
    """Per case: tags, the first repeat's output, the first error."""
    first = rows.sort_values("repeat", kind="stable").drop_duplicates("case_id")
    details = first.set_index("case_id")[["tags", "output"]]
    errors = rows[rows["error"].notna()].drop_duplicates("case_id").set_index("case_id")["error"]
    return details.assign(error=errors.reindex(details.index))


@dataclass(frozen=True)
class Comparison:
    """``b`` against ``a``, paired by case: ``diff`` is the mean of ``b - a`` per case.

    Means, operations and the case table cover paired cases only (scored on both sides).
    """

    a: Selector
    b: Selector
    scorer: str | None
    """The scorer compared, or ``None`` for the per-case mean over scorers."""
    n: int
    """Paired cases."""
    n_only_a: int
    """Cases scored only on side ``a`` (ignored)."""
    n_only_b: int
    """Cases scored only on side ``b`` (ignored)."""
    mean_a: float | None
    mean_b: float | None
    diff: float | None
    ci_low: float | None
    ci_high: float | None
    p_value: float | None
    """Bootstrap two-sided p-value (see :class:`PairedBootstrap`): a rough guide, not a test."""
    significant: bool
    """The interval of ``diff`` excludes 0."""
    confidence: float
    ops_a: Ops
    ops_b: Ops
    cases: Any = field(repr=False)
    """DataFrame per paired case, worst change first: ``case_id``, ``tags``, ``score_a``,
    ``score_b``, ``diff``, ``output_a``, ``output_b``, ``error_a``, ``error_b``."""

    def summary(self) -> str:
        """One line: the change, its interval and whether it is significant."""
        if self.diff is None:
            return f"{self.b} vs {self.a}: no case scored on both sides"
        what = self.scorer or OVERALL
        ci = (
            f" [{self.ci_low:+.3f}, {self.ci_high:+.3f}]"
            if self.ci_low is not None and self.ci_high is not None
            else ""
        )
        verdict = "significant" if self.significant else "not significant"
        return (
            f"{self.b} vs {self.a} on {what}: {self.diff:+.3f}{ci} over {self.n} paired cases, "
            f"{verdict}"
        )


def compare(
    frame: Any,
    a: Selector | str | Mapping[str, str],
    b: Selector | str | Mapping[str, str],
    scorer: str | None = None,
    n_boot: int = 10_000,
    seed: int = 0,
    *,
    confidence: float = 0.95,
) -> Comparison:
    """Compare side ``b`` with side ``a`` case by case (see :class:`Comparison`).

    Each side must resolve to one (run, target): e.g. ``Selector(target="local:smollm2")`` in a
    one-run frame, or ``Selector(run_id="r1")`` vs ``Selector(run_id="r2")`` for two runs of one
    target. ``scorer=None`` compares each case's mean over its scorers.
    """
    df = as_frame(frame)
    sel_a, rows_a = _select(df, a)
    sel_b, rows_b = _select(df, b)
    if scorer is not None and scorer not in set(df["scorer"].dropna()):
        raise ValueError(f"no scores from scorer {scorer!r}")
    va, vb = _case_values(rows_a, scorer), _case_values(rows_b, scorer)
    paired = sorted(set(va.index) & set(vb.index))
    score_a, score_b = va.reindex(paired), vb.reindex(paired)
    boot = paired_bootstrap(
        (score_b - score_a).to_numpy(dtype=float), confidence=confidence, n_boot=n_boot, seed=seed
    )
    da, db = _case_details(rows_a).reindex(paired), _case_details(rows_b).reindex(paired)
    cases = pd.DataFrame(
        {
            "case_id": paired,
            "tags": [t if isinstance(t, list) else [] for t in da["tags"]],
            "score_a": score_a.to_numpy(dtype=float),
            "score_b": score_b.to_numpy(dtype=float),
            "diff": (score_b - score_a).to_numpy(dtype=float),
            "output_a": da["output"].to_numpy(),
            "output_b": db["output"].to_numpy(),
            "error_a": da["error"].to_numpy(),
            "error_b": db["error"].to_numpy(),
        }
    ).sort_values(["diff", "case_id"], kind="stable", ignore_index=True)
    return Comparison(
        a=sel_a,
        b=sel_b,
        scorer=scorer,
        n=len(paired),
        n_only_a=len(set(va.index) - set(paired)),
        n_only_b=len(set(vb.index) - set(paired)),
        mean_a=float(score_a.mean()) if paired else None,
        mean_b=float(score_b.mean()) if paired else None,
        diff=boot.mean,
        ci_low=boot.low,
        ci_high=boot.high,
        p_value=boot.p_value,
        significant=boot.significant,
        confidence=confidence,
        ops_a=operations(rows_a[rows_a["case_id"].isin(paired)]),
        ops_b=operations(rows_b[rows_b["case_id"].isin(paired)]),
        cases=cases,
    )
