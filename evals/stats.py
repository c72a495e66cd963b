"""Statistics over eval results: confidence intervals, leaderboards, paired comparisons, gates.

Everything here works on plain in-memory rows, one per ``(run_id, case_id, target, repeat,
scorer)`` (see :data:`COLUMNS`), given as a pandas DataFrame, a list of dicts, or
:class:`~evals.types.CaseResult` objects (:func:`results_frame`). It never touches the store.

Statistical choices, and why:

- **Cases are the unit of analysis.** A case's repeats are averaged first (per group, case and
  scorer); intervals are then computed over cases. Repeats of one case are not independent
  draws, so treating them as extra samples would make intervals too narrow.
- **Scorer failures** (``value`` missing) are excluded from means and counted in ``n_errors``.
  A case whose every repeat failed drops out of ``n_cases``.
- **Intervals of a mean** (:func:`mean_ci`): the Wilson score interval when every value is 0 or 1
  (it stays inside [0, 1] and behaves at 0/n and n/n, where the normal interval collapses);
  otherwise a Student t interval, clipped to [0, 1] when all values lie there. The t quantile is
  computed without scipy: exactly, from the closed-form t distribution function for integer
  degrees of freedom (Abramowitz & Stegun 26.7.3-4) inverted by bisection, and by the
  Cornish-Fisher expansion (A&S 26.7.5, error below 1e-9) beyond 200 degrees of freedom.
- **Comparisons** (:func:`compare`, :func:`gate`) are paired by case: only cases scored on both
  sides count; the difference is ``b - a`` per case; its mean gets a percentile bootstrap
  interval (seeded, vectorised numpy, so deterministic). The bootstrap assumes nothing about
  the shape of the differences, which for [0, 1] scores are often lumpy (-1, 0, +1).
- **The overall score** of a group is, per case, the mean over its scorers (each averaged over
  repeats), then averaged over cases. That keeps cases as the unit (so it gets an interval and
  pairs like any scorer) and equals the mean of per-scorer means whenever every case has the
  same scorers and none failed. Pass ``overall_scorer`` to use one scorer instead.
"""

from __future__ import annotations

import functools
import math
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from statistics import NormalDist
from typing import Any

import numpy as np
import pandas as pd  # type: ignore[import-untyped,unused-ignore]

from evals.types import CaseResult, Score

__all__ = [
    "COLUMNS",
    "OVERALL",
    "PASS_THRESHOLD",
    "Comparison",
    "Estimate",
    "GateLine",
    "GateResult",
    "Ops",
    "PairedBootstrap",
    "Selector",
    "as_frame",
    "case_scores",
    "compare",
    "gate",
    "leaderboard",
    "mean_ci",
    "operations",
    "paired_bootstrap",
    "results_frame",
    "t_quantile",
]

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

OVERALL = "(overall)"
"""The ``scorer`` label of a leaderboard's overall row."""

PASS_THRESHOLD = 0.5
"""A score passes at or above this value (as :attr:`evals.types.Score.passed`)."""

_ATTEMPT = ["run_id", "target", "case_id", "repeat"]
_FLOATS = ("value", "latency_s", "ttft_s", "prompt_tokens", "completion_tokens", "cost_usd")


# --------------------------------------------------------------------------------------------
# Frames
# --------------------------------------------------------------------------------------------


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


# --------------------------------------------------------------------------------------------
# Intervals
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class Estimate:
    """A mean with its confidence interval; fields are ``None`` where ``n`` is too small."""

    mean: float | None
    """The sample mean (``None`` when ``n`` is 0)."""
    low: float | None
    """Lower bound of the interval (``None`` when ``n`` < 2)."""
    high: float | None
    """Upper bound of the interval (``None`` when ``n`` < 2)."""
    n: int
    """Number of non-missing values."""
    method: str | None = None
    """``"wilson"`` or ``"t"``: how the interval was computed."""


def _t_central(t: float, df: int) -> float:
    """P(|T| < t) for Student's t with integer ``df`` (A&S 26.7.3 and 26.7.4, exact)."""
    theta = math.atan(t / math.sqrt(df))
    c2 = math.cos(theta) ** 2
    if df % 2 == 1:
        if df == 1:
            return 2 * theta / math.pi
        term = total = math.cos(theta)
        for k in range(3, df - 1, 2):
            term *= c2 * (k - 1) / k
            total += term
        return 2 / math.pi * (theta + math.sin(theta) * total)
    term = total = 1.0
    for k in range(2, df - 1, 2):
        term *= c2 * (k - 1) / k
        total += term
    return math.sin(theta) * total


@functools.lru_cache(maxsize=512)
def t_quantile(p: float, df: int) -> float:
    """The ``p`` quantile of Student's t with ``df`` degrees of freedom (no scipy).

    Exact (bisection on the closed-form distribution function, to ~1e-12) up to 200 degrees of
    freedom; above that, the Cornish-Fisher expansion around the normal quantile.
    """
    if not 0.0 < p < 1.0:
        raise ValueError(f"p must be in (0, 1), got {p}")
    if df < 1:
        raise ValueError(f"df must be at least 1, got {df}")
    if p == 0.5:
        return 0.0
    if p < 0.5:
        return -t_quantile(1.0 - p, df)
    if df > 200:
        z = NormalDist().inv_cdf(p)
        g1 = (z**3 + z) / 4
        g2 = (5 * z**5 + 16 * z**3 + 3 * z) / 96
        g3 = (3 * z**7 + 19 * z**5 + 17 * z**3 - 15 * z) / 384
        g4 = (79 * z**9 + 776 * z**7 + 1482 * z**5 - 1920 * z**3 - 945 * z) / 92160
        return z + g1 / df + g2 / df**2 + g3 / df**3 + g4 / df**4
    target = 2.0 * p - 1.0
    low, high = 0.0, 1.0
    while _t_central(high, df) < target:
        low, high = high, high * 2.0
    for _ in range(200):
        mid = (low + high) / 2.0
        if _t_central(mid, df) < target:
            low = mid
        else:
            high = mid
        if high - low <= 1e-13 * max(1.0, high):
            break
    return (low + high) / 2.0


def _clean(values: Iterable[float | None] | Any) -> Any:
    """A flat float array of ``values`` without None/NaN."""
    if not isinstance(values, np.ndarray):
        values = [np.nan if v is None else v for v in values]
    arr = np.asarray(values, dtype=float).ravel()
    return arr[~np.isnan(arr)]


def mean_ci(values: Iterable[float | None] | Any, confidence: float = 0.95) -> Estimate:
    """Mean of ``values`` with a two-sided ``confidence`` interval; None/NaN values are dropped.

    Wilson score interval when every value is 0 or 1, else a t interval (clipped to [0, 1] when
    every value lies in [0, 1]). ``n == 0`` gives all ``None``; ``n == 1`` no interval.
    """
    if not 0.0 < confidence < 1.0:
        raise ValueError(f"confidence must be in (0, 1), got {confidence}")
    arr = _clean(values)
    n = int(arr.size)
    if n == 0:
        return Estimate(None, None, None, 0)
    mean = float(arr.mean())
    if n == 1:
        return Estimate(mean, None, None, 1)
    if bool(np.all((arr == 0.0) | (arr == 1.0))):
        z = NormalDist().inv_cdf(0.5 + confidence / 2.0)
        denom = 1.0 + z * z / n
        center = (mean + z * z / (2 * n)) / denom
        half = z / denom * math.sqrt(mean * (1 - mean) / n + z * z / (4 * n * n))
        return Estimate(mean, max(0.0, center - half), min(1.0, center + half), n, "wilson")
    half = t_quantile(0.5 + confidence / 2.0, n - 1) * float(arr.std(ddof=1)) / math.sqrt(n)
    low, high = mean - half, mean + half
    if bool(np.all((arr >= 0.0) & (arr <= 1.0))):
        low, high = max(0.0, low), min(1.0, high)
    return Estimate(mean, low, high, n, "t")


# --------------------------------------------------------------------------------------------
# Per-case aggregation and operations
# --------------------------------------------------------------------------------------------


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


def _opt(value: Any) -> float | None:
    return None if value is None or pd.isna(value) else float(value)


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


# --------------------------------------------------------------------------------------------
# Leaderboard
# --------------------------------------------------------------------------------------------


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
            est = mean_ci(part["value"].to_numpy(dtype=float), confidence)
            lines.append(
                {
                    **labels,
                    "scorer": scorer,
                    "mean": est.mean,
                    "ci_low": est.low,
                    "ci_high": est.high,
                    "ci_method": est.method,
                    "n_cases": est.n,
                    "n_errors": int(part["n_errors"].sum()),
                    "pass_rate": _opt(part["passed"].mean()) if len(part) else None,
                    **common,
                }
            )
        overall = lines[0]["mean"]
        groups.append((-math.inf if overall is None else overall, lines))
    groups.sort(key=lambda item: -item[0])
    columns = [*keys, "scorer", "mean", "ci_low", "ci_high", "ci_method", "n_cases", "n_errors"]
    columns += ["pass_rate", "latency_p50_s", "latency_p95_s", "ttft_mean_s", "prompt_tokens"]
    columns += ["completion_tokens", "total_tokens", "cost_usd"]
    return pd.DataFrame([line for _, lines in groups for line in lines], columns=columns)


# --------------------------------------------------------------------------------------------
# Paired comparison
# --------------------------------------------------------------------------------------------


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


def _case_values(rows: Any, scorer: str | None) -> Any:
    """Series case_id -> score (repeats averaged; mean over scorers unless ``scorer``)."""
    per_case = _per_case(_per_case_scorer(rows, ["target"]), ["target"], scorer)
    return per_case.groupby("case_id")["value"].mean().dropna()


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


# --------------------------------------------------------------------------------------------
# Regression gate
# --------------------------------------------------------------------------------------------


@dataclass(frozen=True, slots=True)
class GateLine:
    """The verdict on one (target, scorer)."""

    target: str
    """The baseline target."""
    candidate_target: str | None
    """The candidate target it was paired with (``None`` when missing)."""
    scorer: str
    n: int
    """Paired cases."""
    baseline_mean: float | None
    """Over paired cases, so ``diff == candidate_mean - baseline_mean``."""
    candidate_mean: float | None
    diff: float | None
    ci_low: float | None
    ci_high: float | None
    status: str
    """``"pass"``, ``"warn"`` (a drop beyond ``max_drop`` that is not significant, or too few
    cases to judge) or ``"fail"``."""
    reason: str


@dataclass(frozen=True, slots=True)
class GateResult:
    """Whether a candidate may replace a baseline."""

    passed: bool
    lines: list[GateLine]
    message: str

    @property
    def exit_code(self) -> int:
        """0 when passed, 1 otherwise: what a CLI should exit with."""
        return 0 if self.passed else 1


def _gate_line(
    target: str,
    cand_target: str | None,
    scorer: str,
    base: Any,
    cand: Any,
    max_drop: float,
    boot_args: dict[str, Any],
) -> GateLine:
    def line(status: str, reason: str, n: int = 0, **numbers: float | None) -> GateLine:
        values = {k: numbers.get(k) for k in ("bm", "cm", "diff", "low", "high")}
        return GateLine(
            target, cand_target, scorer, n, values["bm"], values["cm"], values["diff"],
            values["low"], values["high"], status, reason,
        )  # fmt: skip

    if cand is None:
        return line("fail", "target missing from the candidate")
    vb, vc = _case_values(base, scorer), _case_values(cand, scorer)
    paired = sorted(set(vb.index) & set(vc.index))
    if not paired:
        return line("fail", "no case scored on both sides")
    bm, cm = float(vb[paired].mean()), float(vc[paired].mean())
    boot = paired_bootstrap((vc[paired] - vb[paired]).to_numpy(dtype=float), **boot_args)
    diff = float(boot.mean) if boot.mean is not None else cm - bm
    numbers = {"bm": bm, "cm": cm, "diff": diff, "low": boot.low, "high": boot.high}
    if boot.high is None or boot.low is None:
        status = "warn" if diff < -max_drop else "pass"
        return line(status, "one paired case: too few to judge", len(paired), **numbers)
    ci = f"{diff:+.3f} [{boot.low:+.3f}, {boot.high:+.3f}]"
    if boot.high < -max_drop:
        return line("fail", f"dropped {ci}: beyond max_drop {max_drop:g}", len(paired), **numbers)
    if diff < -max_drop:
        return line("warn", f"dropped {ci}, not significantly", len(paired), **numbers)
    return line("pass", f"changed {ci}", len(paired), **numbers)


def gate(
    baseline_frame: Any,
    candidate_frame: Any,
    max_drop: float = 0.0,
    scorer: str | None = None,
    *,
    confidence: float = 0.95,
    n_boot: int = 10_000,
    seed: int = 0,
) -> GateResult:
    """Check a candidate against a baseline, per target and scorer, paired by case.

    A line **fails** when the whole ``confidence`` interval of the paired difference
    (candidate - baseline, repeats averaged per case) lies below ``-max_drop``: the drop is
    larger than ``max_drop`` (in score units, e.g. 0.05) with confidence, so noise alone does
    not fail the gate, and with ``max_drop=0`` any significant drop does. A drop beyond
    ``max_drop`` that is not significant is a warning. A baseline target or scorer without any
    case scored on both sides fails: the gate cannot vouch for what it did not measure.

    Targets are matched by name; when the frames share none and each has exactly one target,
    those two are paired. ``scorer=None`` checks every scorer of the baseline (each line is its
    own test, so more scorers mean more chances of a false alarm).
    """
    base, cand = as_frame(baseline_frame), as_frame(candidate_frame)
    base_targets = sorted(set(base["target"].dropna()))
    cand_targets = sorted(set(cand["target"].dropna()))
    if not set(base_targets) & set(cand_targets) and len(base_targets) == len(cand_targets) == 1:
        pairs: list[tuple[str, str | None]] = [(base_targets[0], cand_targets[0])]
    else:
        pairs = [(t, t if t in cand_targets else None) for t in base_targets]
    boot_args = {"confidence": confidence, "n_boot": n_boot, "seed": seed}
    lines: list[GateLine] = []
    for target, cand_target in pairs:
        base_rows = base[base["target"] == target]
        cand_rows = None if cand_target is None else cand[cand["target"] == cand_target]
        scorers = [scorer] if scorer else sorted(set(base_rows["scorer"].dropna()))
        for name in scorers:
            lines.append(
                _gate_line(target, cand_target, name, base_rows, cand_rows, max_drop, boot_args)
            )
    failed = [ln for ln in lines if ln.status == "fail"]
    warned = [ln for ln in lines if ln.status == "warn"]
    passed = bool(lines) and not failed
    head = "gate passed" if passed else "gate FAILED"
    if not lines:
        head += ": nothing to check (no baseline scores)"
    message = "\n".join(
        [f"{head}: {len(lines)} checks, {len(failed)} failed, {len(warned)} warnings"]
        + [f"  {ln.status.upper()} {ln.target} {ln.scorer}: {ln.reason}" for ln in failed + warned]
    )
    return GateResult(passed=passed, lines=lines, message=message)
