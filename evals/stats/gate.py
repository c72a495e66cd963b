"""The regression gate: may a candidate replace a baseline, per target and scorer?"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from evals.stats._common import _case_values
from evals.stats.compare import paired_bootstrap
from evals.stats.frames import as_frame

__all__ = ["GateLine", "GateResult", "gate"]


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
