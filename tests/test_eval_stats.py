"""Eval statistics: intervals against hand-computed values, aggregation, comparison, gate."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from assistant.types import Usage
from evals.stats import (
    OVERALL,
    Selector,
    as_frame,
    by_tag,
    case_scores,
    compare,
    gate,
    leaderboard,
    mean_ci,
    operations,
    paired_bootstrap,
    results_frame,
    t_quantile,
)
from evals.types import CaseResult, Score, TargetOutput


def row(case: str, value: float | None, **extra: Any) -> dict[str, Any]:
    """One result row with sensible defaults."""
    base: dict[str, Any] = {
        "run_id": "r1",
        "case_id": case,
        "target": "t",
        "repeat": 0,
        "scorer": "exact",
        "value": value,
        "error": None if value is not None else "scorer failed",
        "latency_s": 1.0,
        "ttft_s": 0.1,
        "prompt_tokens": 10,
        "completion_tokens": 5,
        "cost_usd": None,
        "tags": [],
        "output": f"out {case}",
    }
    base.update(extra)
    return base


def paired_rows(
    a: list[float], b: list[float], *, ta: str = "A", tb: str = "B"
) -> list[dict[str, Any]]:
    """Two targets in one run, case i scored a[i] and b[i]."""
    return [row(f"c{i:03d}", v, target=ta) for i, v in enumerate(a)] + [
        row(f"c{i:03d}", v, target=tb) for i, v in enumerate(b)
    ]


# --- intervals ---------------------------------------------------------------------------------


def test_wilson_interval_for_8_of_10() -> None:
    # p = 0.8, z = 1.959964, z^2/n = 0.384146: centre 0.716738, half-width 0.226578.
    est = mean_ci([1] * 8 + [0] * 2)
    assert est.method == "wilson"
    assert est.n == 10
    assert est.mean == pytest.approx(0.8)
    assert est.low == pytest.approx(0.490162, abs=1e-6)
    assert est.high == pytest.approx(0.943318, abs=1e-6)


def test_wilson_stays_informative_at_the_edges() -> None:
    est = mean_ci([1.0] * 5)
    assert est.high == 1.0
    assert est.low == pytest.approx(0.565518, abs=1e-6)  # 5/5: not a zero-width interval


def test_t_interval_against_hand_computed_values() -> None:
    # mean 0.5, s = sqrt(0.2 / 3) = 0.258199, se = 0.129099, t(0.975, 3) = 3.182446
    est = mean_ci([0.2, 0.4, 0.6, 0.8])
    assert est.method == "t"
    assert est.mean == pytest.approx(0.5)
    assert est.low == pytest.approx(0.5 - 0.410852, abs=1e-6)
    assert est.high == pytest.approx(0.5 + 0.410852, abs=1e-6)


def test_t_interval_at_90_percent() -> None:
    # t(0.95, 2) = 2.919986; values 0.4, 0.6, 0.8: mean 0.6, s = 0.2, se = 0.115470
    est = mean_ci([0.4, 0.6, 0.8], confidence=0.90)
    assert est.low == pytest.approx(0.6 - 0.337171, abs=1e-6)
    assert est.high == pytest.approx(0.6 + 0.337171, abs=1e-6)


@pytest.mark.parametrize(
    ("p", "df", "expected"),
    [
        (0.975, 1, 12.706205),
        (0.975, 2, 4.302653),
        (0.975, 3, 3.182446),
        (0.975, 4, 2.776445),
        (0.975, 9, 2.262157),
        (0.975, 30, 2.042272),
        (0.995, 10, 3.169273),
        (0.95, 60, 1.670649),
        (0.975, 200, 1.971896),
        (0.975, 1000, 1.962339),
    ],
)
def test_t_quantile_matches_tables(p: float, df: int, expected: float) -> None:
    assert t_quantile(p, df) == pytest.approx(expected, abs=2e-6)
    assert t_quantile(1 - p, df) == pytest.approx(-expected, abs=2e-6)


def test_small_and_missing_samples() -> None:
    empty = mean_ci([])
    assert (empty.mean, empty.low, empty.high, empty.n) == (None, None, None, 0)
    one = mean_ci([0.3, None, float("nan")])
    assert (one.mean, one.low, one.high, one.n) == (0.3, None, None, 1)
    flat = mean_ci([0.5, 0.5, 0.5])
    assert flat.low == flat.high == 0.5


def test_t_interval_clipped_to_unit_range() -> None:
    est = mean_ci([0.9, 1.0, 0.95])
    assert est.high is not None and est.high <= 1.0


# --- frames and aggregation ------------------------------------------------------------------


def test_repeats_are_averaged_before_the_interval() -> None:
    # Case a: repeats 1, 1, 0 -> 2/3; case b: one repeat, 0 -> 0. Per case: 1/3, not 2/4.
    rows = [row("a", 1.0), row("a", 1.0, repeat=1), row("a", 0.0, repeat=2), row("b", 0.0)]
    board = leaderboard(rows)
    line = board[board["scorer"] == "exact"].iloc[0]
    assert line["n_cases"] == 2
    assert line["mean"] == pytest.approx(1 / 3)
    expected = mean_ci([2 / 3, 0.0])
    assert line["ci_low"] == pytest.approx(expected.low)
    assert line["ci_high"] == pytest.approx(expected.high)
    assert line["ci_method"] == "t"


def test_errors_are_excluded_and_counted() -> None:
    rows = [
        row("a", 1.0),
        row("a", None, repeat=1),  # one failed repeat: the case still counts, as 1.0
        row("b", None),  # every repeat failed: the case drops out
        row("c", 0.0),
    ]
    board = leaderboard(rows)
    line = board[board["scorer"] == "exact"].iloc[0]
    assert line["n_errors"] == 2
    assert line["n_cases"] == 2
    assert line["mean"] == pytest.approx(0.5)
    assert line["pass_rate"] == pytest.approx(0.5)


def test_operations_count_each_attempt_once() -> None:
    rows = [
        row("a", 1.0, latency_s=1.0, cost_usd=0.01),
        row("a", 0.0, scorer="judge", latency_s=1.0, cost_usd=0.01),
        row("b", 1.0, latency_s=3.0, cost_usd=0.02),
        row("b", 1.0, scorer="judge", latency_s=3.0, cost_usd=0.02),
    ]
    ops = operations(as_frame(rows))
    assert ops.n_attempts == 2
    assert ops.prompt_tokens == 20 and ops.completion_tokens == 10 and ops.total_tokens == 30
    assert ops.cost_usd == pytest.approx(0.03)
    assert ops.latency_p50_s == pytest.approx(2.0)
    assert ops.ttft_mean_s == pytest.approx(0.1)
    assert operations(as_frame([row("a", 1.0)])).cost_usd is None


def test_leaderboard_overall_rows_and_order() -> None:
    rows = [
        row("a", 1.0, target="good"),
        row("a", 0.0, target="good", scorer="judge"),
        row("b", 1.0, target="good"),
        row("b", 1.0, target="good", scorer="judge"),
        row("a", 0.0, target="bad"),
        row("b", 0.0, target="bad"),
    ]
    board = leaderboard(rows)
    assert list(board["target"]) == ["good", "good", "good", "bad", "bad"]
    assert list(board["scorer"]) == [OVERALL, "exact", "judge", OVERALL, "exact"]
    assert board.iloc[0]["mean"] == pytest.approx(0.75)  # per case: 0.5 and 1.0
    chosen = leaderboard(rows, overall_scorer="judge")
    assert chosen.iloc[0]["mean"] == pytest.approx(0.5)
    by_target = leaderboard(rows, by=("target",))
    assert "run_id" not in by_target.columns
    assert set(by_target["target"]) == {"good", "bad"}


def test_results_frame_from_case_results() -> None:
    results = [
        CaseResult(
            run_id="r",
            case_id="c1",
            target="t",
            repeat=0,
            output=TargetOutput("42", 0.5, usage=Usage(3, 4), cost_usd=0.001),
            scores=[Score("exact", 1.0), Score("judge", None, error="timeout")],
            tags=["math"],
        ),
        CaseResult(
            run_id="r",
            case_id="c2",
            target="t",
            repeat=0,
            output=TargetOutput("", 30.0, error="provider timed out"),
            scores=[],
        ),
    ]
    df = results_frame(results)
    assert len(df) == 3
    assert list(df["scorer"].iloc[:2]) == ["exact", "judge"]
    assert df["error"].iloc[1] == "timeout"
    assert df["error"].iloc[2] == "provider timed out"
    assert math.isnan(df["value"].iloc[1])
    assert df["tags"].iloc[0] == ["math"]
    assert operations(df).n_attempts == 2  # the unscored attempt still counts
    assert list(as_frame(results)["case_id"]) == list(df["case_id"])
    per_case = case_scores(df)
    assert per_case.set_index("case_id")["value"].to_dict() == {"c1": 1.0}


def test_as_frame_merges_target_and_scorer_errors() -> None:
    rows = [
        {**row("a", None), "error": None, "score_error": "judge timed out"},
        {**row("b", 0.0), "error": "provider down", "score_error": None},
    ]
    assert list(as_frame(rows)["error"]) == ["judge timed out", "provider down"]


def test_as_frame_rejects_rows_without_required_columns() -> None:
    with pytest.raises(ValueError, match="value"):
        as_frame([{"case_id": "a", "target": "t", "scorer": "s"}])


# --- comparison ------------------------------------------------------------------------------


def test_clear_improvement_is_significant() -> None:
    a = [0.0] * 30 + [1.0] * 10
    b = [1.0] * 30 + [1.0] * 10
    c = compare(paired_rows(a, b), "A", "B")
    assert c.n == 40
    assert c.diff == pytest.approx(0.75)
    assert c.mean_a == pytest.approx(0.25) and c.mean_b == pytest.approx(1.0)
    assert c.ci_low is not None and c.ci_low > 0
    assert c.significant
    assert c.p_value is not None and c.p_value < 0.01
    assert "significant" in c.summary()


def test_identical_data_is_not_significant() -> None:
    values = [float(i % 2) for i in range(30)]
    c = compare(paired_rows(values, values), "A", "B")
    assert c.diff == 0.0
    assert c.ci_low == 0.0 and c.ci_high == 0.0
    assert not c.significant
    assert c.p_value == 1.0


def test_bootstrap_is_deterministic_with_a_seed() -> None:
    rng = np.random.default_rng(7)
    diffs = rng.normal(0.05, 0.3, size=200)
    first = paired_bootstrap(diffs, seed=3)
    assert paired_bootstrap(diffs, seed=3) == first
    assert paired_bootstrap(diffs, seed=4) != first
    rows = paired_rows(list(rng.random(50)), list(rng.random(50)))
    one, two = compare(rows, "A", "B", seed=11), compare(rows, "A", "B", seed=11)
    assert (one.ci_low, one.ci_high, one.p_value) == (two.ci_low, two.ci_high, two.p_value)


def test_bootstrap_matches_the_normal_interval_on_a_large_sample() -> None:
    rng = np.random.default_rng(0)
    diffs = rng.normal(0.1, 1.0, size=2000)
    boot = paired_bootstrap(diffs, n_boot=4000)
    half = 1.96 * diffs.std(ddof=1) / math.sqrt(diffs.size)
    assert boot.low == pytest.approx(diffs.mean() - half, abs=0.01)
    assert boot.high == pytest.approx(diffs.mean() + half, abs=0.01)


def test_unpaired_cases_are_ignored() -> None:
    rows = paired_rows([1.0, 0.0, 1.0], [1.0, 1.0, 1.0])
    rows.append(row("only-a", 1.0, target="A"))
    rows += [row("only-b", 0.0, target="B"), row("b-failed", None, target="B")]
    rows.append(row("b-failed", 1.0, target="A"))
    c = compare(rows, Selector(target="A"), Selector(target="B"))
    assert c.n == 3
    assert (c.n_only_a, c.n_only_b) == (2, 1)
    assert c.mean_a == pytest.approx(2 / 3) and c.mean_b == pytest.approx(1.0)
    assert set(c.cases["case_id"]) == {"c000", "c001", "c002"}


def test_case_table_is_worst_first_with_outputs() -> None:
    rows = paired_rows([0.0, 1.0, 0.5], [1.0, 0.0, 0.5])
    c = compare(rows, "A", "B")
    first = c.cases.iloc[0]
    assert first["case_id"] == "c001"
    assert first["diff"] == -1.0
    assert first["output_a"] == "out c001" and first["output_b"] == "out c001"
    assert c.ops_a.n_attempts == 3 and c.ops_b.latency_p50_s == 1.0


def test_compare_two_runs_and_repeats() -> None:
    rows = [row("x", 0.0, run_id="r1"), row("x", 1.0, run_id="r1", repeat=1)]
    rows += [row("x", 1.0, run_id="r2"), row("y", 1.0, run_id="r2"), row("y", 0.0, run_id="r1")]
    c = compare(rows, Selector(run_id="r1"), "r2")
    assert c.a == Selector(run_id="r1", target="t")
    assert c.n == 2
    assert c.diff == pytest.approx(((1.0 - 0.5) + (1.0 - 0.0)) / 2)


def test_compare_rejects_ambiguous_or_unknown_sides() -> None:
    rows = [row("x", 1.0, run_id="r1"), row("x", 1.0, run_id="r2")]
    with pytest.raises(ValueError, match="several"):
        compare(rows, "t", Selector(run_id="r2"))
    with pytest.raises(ValueError, match="neither"):
        compare(rows, "nope", "r2")
    with pytest.raises(ValueError, match="scorer"):
        compare(rows, "r1", "r2", scorer="judge")


def test_compare_one_scorer() -> None:
    rows = paired_rows([1.0, 1.0], [0.0, 0.0])
    rows += [
        row("c000", 0.0, target="A", scorer="judge"),
        row("c000", 1.0, target="B", scorer="judge"),
    ]
    assert compare(rows, "A", "B", scorer="judge").diff == 1.0
    assert compare(rows, "A", "B", scorer="exact").diff == -1.0


# --- gate ------------------------------------------------------------------------------------


def constant_drop(drop: float, n: int = 20) -> tuple[list[dict[str, Any]], list[dict[str, Any]]]:
    """Baseline 0.75 on every case, candidate 0.75 - drop (exact binary fractions)."""
    base = [row(f"c{i}", 0.75) for i in range(n)]
    cand = [row(f"c{i}", 0.75 - drop) for i in range(n)]
    return base, cand


@pytest.mark.parametrize(
    ("max_drop", "status"),
    [(0.0, "fail"), (0.2, "fail"), (0.25, "pass"), (0.3, "pass")],
)
def test_gate_boundaries_with_a_certain_drop(max_drop: float, status: str) -> None:
    base, cand = constant_drop(0.25)
    result = gate(base, cand, max_drop=max_drop)
    assert [line.status for line in result.lines] == [status]
    assert result.passed is (status == "pass")
    assert result.exit_code == (0 if status == "pass" else 1)
    assert result.lines[0].diff == -0.25
    assert result.lines[0].ci_high == -0.25  # fails only when the interval is below -max_drop


def test_gate_passes_an_improvement_and_no_change() -> None:
    base, cand = constant_drop(-0.25)
    assert gate(base, cand).passed
    same, _ = constant_drop(0.0)
    assert gate(same, same).passed


def test_gate_warns_on_a_drop_that_is_not_significant() -> None:
    # Two cases dropped (1 -> 0), one improved (0 -> 1): mean -0.05, the interval spans 0.
    base = [row(f"c{i}", 0.0 if i == 19 else 1.0) for i in range(20)]
    cand = [row(f"c{i}", 0.0 if i < 2 else 1.0) for i in range(20)]
    result = gate(base, cand)
    assert result.passed
    assert result.lines[0].status == "warn"
    assert "WARN" in result.message


def test_gate_fails_a_significant_noisy_drop() -> None:
    base = [row(f"c{i}", 1.0 if i < 30 else 0.0) for i in range(40)]
    cand = [row(f"c{i}", 1.0 if i < 15 or i == 39 else 0.0) for i in range(40)]
    result = gate(base, cand)
    assert not result.passed
    assert result.lines[0].status == "fail"
    assert "FAIL t exact" in result.message


def test_gate_per_scorer_and_missing_targets() -> None:
    base, cand = constant_drop(0.0)
    base += [row("c0", 1.0, scorer="judge"), row("c1", 1.0, scorer="judge")]
    cand += [row("c0", 0.0, scorer="judge"), row("c1", 0.0, scorer="judge")]
    result = gate(base, cand)
    assert {(ln.scorer, ln.status) for ln in result.lines} == {("exact", "pass"), ("judge", "fail")}
    assert gate(base, cand, scorer="exact").passed
    extra = [row("c0", 1.0, target="gone"), row("c0", 1.0, target="other")]
    missing = gate(base + extra, [*cand, row("c0", 1.0, target="other")], scorer="exact")
    gone = next(ln for ln in missing.lines if ln.target == "gone")
    assert gone.status == "fail" and gone.candidate_target is None
    assert not missing.passed


def test_gate_pairs_single_targets_with_different_names() -> None:
    base, cand = constant_drop(0.25)
    cand = [{**r, "target": "new-model"} for r in cand]
    result = gate(base, cand)
    assert result.lines[0].candidate_target == "new-model"
    assert not result.passed


def test_gate_fails_when_nothing_pairs() -> None:
    base, _ = constant_drop(0.0)
    cand = [row(f"c{i}", None) for i in range(20)]
    result = gate(base, cand)
    assert not result.passed
    assert result.lines[0].reason == "no case scored on both sides"
    assert not gate([], []).passed


# --- by tag ------------------------------------------------------------------------------------


def tagged_rows() -> list[dict[str, Any]]:
    """Tag A: cases 1, 1, 0, 0; tag B: a4 (also in A), b1 (repeats 1 and 0), b2, b3, b4 (one
    repeat failed to score); every case also carries ``all``; target ``u`` has one A case."""
    rows = [
        row(case, value, tags=tags)
        for case, value, tags in [
            ("a1", 1.0, ["A", "all"]),
            ("a2", 1.0, ["A", "all"]),
            ("a3", 0.0, ["A", "all"]),
            ("a4", 0.0, ["A", "B", "all"]),
        ]
    ]
    for case, values in [("b1", [1.0, 0.0]), ("b2", [1.0, 1.0]), ("b3", [1.0, 1.0])]:
        rows += [row(case, v, repeat=i, tags=["B", "all"]) for i, v in enumerate(values)]
    rows += [row("b4", 1.0, tags=["B", "all"]), row("b4", None, repeat=1, tags=["B", "all"])]
    rows.append(row("u1", 1.0, target="u", tags=["A"]))
    return rows


def test_by_tag_means_intervals_and_counts() -> None:
    table = by_tag(tagged_rows())
    assert list(table.columns) == [
        "run_id", "target", "tag", "scorer", "mean", "ci_low", "ci_high", "ci_method",
        "n_cases", "n_errors", "pass_rate",
    ]  # fmt: skip
    # ordered by group, then tag
    assert list(zip(table["target"], table["tag"], strict=True)) == [
        ("t", "A"),
        ("t", "B"),
        ("t", "all"),
        ("u", "A"),
    ]
    assert set(table["scorer"]) == {OVERALL}
    lines = {(r["target"], r["tag"]): r for r in table.to_dict("records")}

    a = lines[("t", "A")]  # 1, 1, 0, 0: p = 0.5, n = 4, z = 1.959964, z^2/n = 0.960365
    assert (a["mean"], a["n_cases"], a["n_errors"], a["ci_method"]) == (0.5, 4, 0, "wilson")
    # centre (0.5 + 0.480182) / 1.960365 = 0.5; half 0.999795 * sqrt(0.0625 + 0.060023) = 0.349961
    assert a["ci_low"] == pytest.approx(0.150039, abs=1e-6)
    assert a["ci_high"] == pytest.approx(0.849961, abs=1e-6)
    assert a["pass_rate"] == pytest.approx(0.5)

    # a4 counts in B too; b1's repeats average to 0.5; b4's failed repeat is an error, not a 0:
    # values 0, 0.5, 1, 1, 1 -> mean 0.7, s = sqrt(0.2), se = 0.2, t(0.975, 4) = 2.776445
    b = lines[("t", "B")]
    assert (b["n_cases"], b["n_errors"], b["ci_method"]) == (5, 1, "t")
    assert b["mean"] == pytest.approx(0.7)
    assert b["ci_low"] == pytest.approx(0.7 - 2.776445 * 0.2, abs=1e-6)
    assert b["ci_high"] == 1.0  # 1.255 clipped
    assert b["pass_rate"] == pytest.approx((0 + 0.5 + 1 + 1 + 1) / 5)

    # a tag on every case is still shown, and is the leaderboard's overall line
    overall = leaderboard([r for r in tagged_rows() if r["target"] == "t"])
    first = overall.iloc[0]
    every = lines[("t", "all")]
    assert every["n_cases"] == 8 == first["n_cases"]
    assert every["mean"] == pytest.approx(5.5 / 8) == first["mean"]
    assert (every["ci_low"], every["ci_high"]) == pytest.approx((first["ci_low"], first["ci_high"]))

    u = lines[("u", "A")]  # a single case: a mean, no interval
    assert (u["mean"], u["n_cases"]) == (1.0, 1)
    assert math.isnan(u["ci_low"]) and math.isnan(u["ci_high"])


def test_by_tag_scorer_tag_filter_and_untagged_cases() -> None:
    rows = [
        row("x1", 1.0, tags=["T"]),
        row("x1", 0.0, scorer="judge", tags=["T"]),
        row("x2", 1.0, tags=["T", "S"]),
        row("x2", 1.0, scorer="judge", tags=["T", "S"]),
        row("x3", 0.0, tags=[]),  # untagged: in no row
        row("x3", 0.0, scorer="judge", tags=[]),
    ]
    overall = by_tag(rows, by=["target"])
    assert list(overall.columns[:2]) == ["target", "tag"]
    assert overall["tag"].tolist() == ["S", "T"]
    t = overall[overall["tag"] == "T"].iloc[0]
    assert (t["mean"], t["n_cases"], t["ci_method"]) == (0.75, 2, "t")  # per case 0.5 and 1
    exact = by_tag(rows, by=["target"], scorer="exact")
    assert exact["scorer"].tolist() == ["exact", "exact"]
    assert exact[exact["tag"] == "T"]["mean"].tolist() == [1.0]
    judge = by_tag(rows, by=["target"], scorer="judge", tags=["T", "S", "absent"])
    assert judge["tag"].tolist() == ["T", "S"]  # the order asked for; an absent tag gives no row
    assert judge["mean"].tolist() == [0.5, 1.0]
    with pytest.raises(ValueError, match="nosuch"):
        by_tag(rows, scorer="nosuch")
    with pytest.raises(ValueError, match="grouping"):
        by_tag(rows, by=[])
    assert by_tag([row("x", 1.0)]).empty  # no tags at all
    assert list(by_tag([]).columns)[:3] == ["run_id", "target", "tag"]
