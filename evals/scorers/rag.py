"""RAG metrics: ``faithfulness``, ``answer_relevancy``, ``context_precision``, ``context_recall``.

They are meant to run through ragas, with the judge from the injected ``chat_model`` factory and
``answer_relevancy``'s embeddings from the injected ``embeddings`` factory (a real embeddings
provider is configured by the caller, never here). **ragas is not a dependency yet**: ragas
0.4.3, its latest release, fails at import next to langchain-community 0.4 (its
``ragas/llms/base.py`` imports ``langchain_community.chat_models.vertexai``, a module that
release line no longer has; upstream issues vibrantlabsai/ragas#2745 and #2995), and adding it
would also pull openai and rich back a major line. Until a release imports cleanly these
scorers are registered stubs: specs naming them validate (so datasets can already use them),
and every score is ``Score(value=None, error="ragas is not installed: ...")`` -- counted as a
scorer failure, never a silent NaN or a made-up number.

What each metric will need from a case is checked and reported in ``details["missing_inputs"]``
so dataset gaps show up now: ``contexts`` (all but ``answer_relevancy``), ``expected``
(``context_precision`` and ``context_recall`` compare with the reference) and, for
``answer_relevancy``, an injected embeddings model.
"""

from __future__ import annotations

import importlib.metadata
import math
from typing import ClassVar

from evals.scorers.base import BaseScorer, ScorerContext
from evals.scorers.registry import register_scorer
from evals.types import Case, Score, TargetOutput

RAGAS_BLOCKER = (
    "ragas 0.4.3 (the latest release) fails to import next to langchain-community 0.4 "
    "(No module named 'langchain_community.chat_models.vertexai'; upstream issues "
    "vibrantlabsai/ragas#2745, #2995)"
)


def ragas_unavailable_reason() -> str:
    """Why the RAG metrics cannot run in this build (checked without importing ragas)."""
    try:
        version = importlib.metadata.version("ragas")
    except importlib.metadata.PackageNotFoundError:
        return f"ragas is not installed: {RAGAS_BLOCKER}, so the harness does not depend on it"
    return (
        f"ragas is not installed as a harness dependency: ragas {version} is present, but "
        f"these metrics are stubs until a ragas release imports cleanly ({RAGAS_BLOCKER})"
    )


class RagasMetricScorer(BaseScorer):
    """A ragas metric (a stub until ragas can be a dependency: see the module docstring).

    ``model`` is the judge's model ref (default: the context's judge model); ``timeout``
    bounds one case's metric in seconds.
    """

    metric: ClassVar[str] = ""
    needs_contexts: ClassVar[bool] = True
    needs_reference: ClassVar[bool] = False
    needs_embeddings: ClassVar[bool] = False

    def __init__(
        self,
        model: str | None = None,
        timeout: float = 120.0,
        context: ScorerContext | None = None,
    ) -> None:
        if model is not None and not model.strip():
            raise ValueError("argument 'model' must be a model ref such as 'local:smollm2'")
        if not (math.isfinite(timeout) and timeout > 0):
            raise ValueError(
                f"argument 'timeout' must be a positive number of seconds, not {timeout}"
            )
        self.model = model
        self.timeout = timeout
        self.context = context or ScorerContext()

    def missing_inputs(self, case: Case) -> list[str]:
        """What this metric needs that the case (or the injected context) lacks."""
        missing = []
        if self.needs_contexts and not case.contexts:
            missing.append("contexts")
        if self.needs_reference and not case.expected:
            missing.append("expected")
        if self.needs_embeddings and self.context.embeddings is None:
            missing.append("embeddings")
        return missing

    async def evaluate(self, case: Case, output: TargetOutput) -> Score:
        """Always a scorer failure for now: ragas is not available."""
        return self.failed(
            ragas_unavailable_reason(),
            metric=self.metric,
            judge_model=self.model or self.context.judge_model,
            missing_inputs=self.missing_inputs(case),
        )


@register_scorer("faithfulness")
class FaithfulnessScorer(RagasMetricScorer):
    """ragas faithfulness: share of the answer's claims supported by the contexts (stub)."""

    metric = "faithfulness"


@register_scorer("answer_relevancy")
class AnswerRelevancyScorer(RagasMetricScorer):
    """ragas answer relevancy: how well the answer addresses the question (stub)."""

    metric = "answer_relevancy"
    needs_contexts = False
    needs_embeddings = True


@register_scorer("context_precision")
class ContextPrecisionScorer(RagasMetricScorer):
    """ragas context precision: useful contexts ranked first, judged with the reference (stub)."""

    metric = "context_precision"
    needs_reference = True


@register_scorer("context_recall")
class ContextRecallScorer(RagasMetricScorer):
    """ragas context recall: share of the reference supported by the contexts (stub)."""

    metric = "context_recall"
    needs_reference = True
