"""Function-calling scorers with BFCL's semantics: ``call_match`` and ``no_call``.

Both read the calls the target made from its trajectory (:func:`evals.calls.calls_made`) and
grade them with :mod:`evals.calls.checker`, whose verdicts are those of BFCL's official AST
checker. The score is 1 or 0 per case, with a one-line reason (what did not match, and how).
"""

from __future__ import annotations

from typing import Any, Literal

from evals.calls.checker import CallOrder, check_calls, describe_expected, no_call_verdict
from evals.calls.record import calls_made
from evals.calls.schema import normalise_expected_calls
from evals.scorers.base import BaseScorer
from evals.scorers.registry import register_scorer
from evals.types import Case, Score, TargetOutput


def _offered(case: Case) -> list[str] | None:
    return [function["name"] for function in case.functions()] if case.tools else None


@register_scorer("call_match")
class CallMatchScorer(BaseScorer):
    """The calls made match the case's ``expected_calls``, as BFCL's AST checker grades them.

    Function name (the right one among several), required parameters present, no undeclared
    or unexpected parameter, types (an int passes for a number, not the reverse), strings
    after BFCL's normalisation, lists and objects compared recursively, optional parameters
    omitted or acceptable; several calls in any order (``order`` or the case's ``call_order``:
    ``any``, or ``exact``), each expected call used once. ``expected`` overrides the case's
    expected calls. An empty list of expected calls means no call is right (BFCL irrelevance).
    """

    def __init__(
        self,
        expected: list[dict[str, dict[str, list[Any]]]] | None = None,
        order: Literal["any", "exact"] | None = None,
    ) -> None:
        self.expected = None if expected is None else normalise_expected_calls(expected)
        self.order = order

    async def evaluate(self, case: Case, output: TargetOutput) -> Score:
        """Grade the calls in the trajectory against the expected ones."""
        expected = self.expected if self.expected is not None else case.expected_calls
        if expected is None:
            return self.failed(
                "needs expected calls: set the case's `expected_calls` or the scorer's `expected`"
            )
        order: CallOrder = self.order or case.call_order or "any"
        calls = calls_made(output.trajectory, _offered(case))
        verdict = check_calls(calls, expected, case.functions(), order)
        details: dict[str, Any] = {
            "calls": [{"name": c.name, "arguments": c.arguments} for c in calls],
            "expected": describe_expected(expected) if expected else "no call",
            "order": order,
        }
        if verdict.kind:
            details["error_type"] = verdict.kind
        return self.result(1.0 if verdict.valid else 0.0, verdict.reason, **details)


@register_scorer("no_call")
class NoCallScorer(BaseScorer):
    """1 when the model answered without calling a function (BFCL's irrelevance check).

    As in BFCL, calls whose arguments do not decode to a JSON object do not count as calls.
    """

    async def evaluate(self, case: Case, output: TargetOutput) -> Score:
        """Whether the trajectory holds no usable function call."""
        calls = calls_made(output.trajectory, _offered(case))
        verdict = no_call_verdict(calls)
        return self.result(
            1.0 if verdict.valid else 0.0,
            verdict.reason,
            calls=[{"name": c.name, "arguments": c.arguments} for c in calls],
        )
