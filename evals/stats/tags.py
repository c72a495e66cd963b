"""Results by tag: per group and tag (a dataset's category), mean score with its interval."""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

import pandas as pd  # type: ignore[import-untyped,unused-ignore]

from evals.stats._common import _per_case, _per_case_scorer, summary_line
from evals.stats.frames import as_frame
from evals.stats.leaderboard import OVERALL

__all__ = ["by_tag"]


def _case_tags(df: Any, keys: Sequence[str]) -> Any:
    """One row per (keys, case, tag) a case carries; untagged cases give none."""
    pairs = df[[*keys, "case_id", "tags"]].explode("tags")
    pairs = pairs[pairs["tags"].notna()].rename(columns={"tags": "tag"})
    pairs["tag"] = pairs["tag"].astype(str)
    return pairs.drop_duplicates()


def by_tag(
    frame: Any,
    by: Sequence[str] = ("run_id", "target"),
    *,
    scorer: str | None = None,
    tags: Sequence[str] | None = None,
    confidence: float = 0.95,
) -> Any:
    """Per group and tag: mean score with its interval, cases, errors, pass rate.

    Each case's score is its repeats averaged, then (``scorer=None``) its mean over scorers, as
    the leaderboard's :data:`~evals.stats.OVERALL` row; or just ``scorer``'s score. A case
    counts once in every tag it carries (so tags may overlap and a tag on every case, such as a
    dataset's name, gives the group's overall figures); untagged cases are in no row. ``tags``
    keeps only those tags, in that order; by default every tag present, sorted. A group whose
    cases carry none of a tag has no row for it. Rows are ordered by group, then tag.

    Columns: ``by``, ``tag``, ``scorer`` (the scorer, or :data:`~evals.stats.OVERALL`),
    ``mean``, ``ci_low``, ``ci_high``, ``ci_method`` (Wilson for 0/1 scores, t otherwise),
    ``n_cases`` (cases with a successful score), ``n_errors`` (failed scores, all repeats),
    ``pass_rate`` (mean over cases of the share of passing scores).

    Raises :class:`ValueError` without grouping columns or for a scorer with no scores.
    """
    df = as_frame(frame)
    keys = list(by)
    if not keys:
        raise ValueError("by_tag needs at least one grouping column")
    if scorer is not None and len(df) and scorer not in set(df["scorer"].dropna()):
        raise ValueError(f"no scores from scorer {scorer!r}")
    columns = [*keys, "tag", "scorer", "mean", "ci_low", "ci_high", "ci_method", "n_cases"]
    columns += ["n_errors", "pass_rate"]
    per_case = _per_case(_per_case_scorer(df, keys), keys, scorer)
    tagged = per_case.merge(_case_tags(df, keys), on=[*keys, "case_id"], how="inner")
    order = {tag: i for i, tag in enumerate(tags)} if tags is not None else None
    if order is not None:
        tagged = tagged[tagged["tag"].isin(list(order))]
    lines = [
        {
            **dict(zip([*keys, "tag"], raw_key, strict=True)),
            "scorer": scorer or OVERALL,
            **summary_line(part, confidence),
        }
        for raw_key, part in tagged.groupby([*keys, "tag"], sort=True, dropna=False)
    ]
    result = pd.DataFrame(lines, columns=columns)
    if order is not None and len(result):
        rank = result["tag"].map(order)
        result = result.assign(_rank=rank).sort_values([*keys, "_rank"], kind="stable")
        result = result.drop(columns="_rank")
    return result.reset_index(drop=True)
