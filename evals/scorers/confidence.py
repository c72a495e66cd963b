"""``confidence``: how sure the model was of its own answer, from its token logprobs.

Run the target with ``params={"logprobs": True}`` (the embedded model computes them; OpenAI-
compatible providers return them): the answer's per-token entries are recorded on its
model-call step. The score is the geometric mean of the answer's token probabilities,
``exp(mean logprob)``: 1 when every token was certain, lower as the model hesitated. It is a
property of the answer, not its correctness; compare it with a correctness scorer to see
whether a model knows when it is wrong (calibration).
"""

from __future__ import annotations

import math
from typing import Any

from evals.scorers.base import BaseScorer
from evals.scorers.registry import register_scorer
from evals.types import Case, Score, TargetOutput


def answer_logprobs(output: TargetOutput) -> list[dict[str, Any]]:
    """The token entries recorded for the answer (the last model call that has them)."""
    for step in reversed(output.trajectory):
        entries = getattr(step, "logprobs", None)
        if getattr(step, "kind", "") == "model" and entries:
            return list(entries)
    return []


@register_scorer("confidence")
class ConfidenceScorer(BaseScorer):
    """``exp(mean token logprob)`` of the answer; an error when no logprobs were recorded."""

    async def evaluate(self, case: Case, output: TargetOutput) -> Score:
        """The geometric mean of the answer's token probabilities."""
        entries = answer_logprobs(output)
        values = [float(entry["logprob"]) for entry in entries if "logprob" in entry]
        if not values:
            return self.failed(
                "no logprobs recorded: run the target with params={'logprobs': True}"
            )
        mean = sum(values) / len(values)
        weakest = min(entries, key=lambda entry: float(entry.get("logprob", 0.0)))
        return self.result(
            math.exp(mean),
            f"mean logprob {mean:.3f} over {len(values)} tokens; least sure of "
            f"{weakest.get('token')!r} ({float(weakest['logprob']):.2f})",
            tokens=len(values),
            mean_logprob=mean,
        )
