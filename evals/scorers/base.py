"""What every scorer shares: the injected context, and a base class that never raises.

Policy, applied by :meth:`BaseScorer.score` to every scorer the registry builds:

- **Target failures are not wrong answers.** When ``output.error`` is set the scorer does not
  look at the output: it returns ``Score(value=None, error="target failed: ...")``, so a run's
  statistics count failures separately from answers scored 0.
- **Scorers never raise.** A scorer that cannot score (no reference answer, a judge that times
  out, an exception) returns ``Score(value=None, error=...)``. Only cancellation propagates.
- **Values are finite and in [0, 1].** A NaN, infinite or out-of-range value becomes an error
  instead of being stored.
"""

from __future__ import annotations

import logging
import math
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any

from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseChatModel

from evals.types import Case, Score, Scorer, ScorerSpec, TargetOutput

logger = logging.getLogger(__name__)

ChatModelFactory = Callable[[str], BaseChatModel]
"""Returns a ready chat model for a model ref such as ``local:smollm2``
(e.g. :meth:`assistant.agent.Assistant.chat_model`)."""

EmbeddingsFactory = Callable[[str], Embeddings]
"""Returns an embeddings model for a model ref such as ``local:smollm2``
(e.g. :meth:`assistant.agent.Assistant.embeddings`)."""

DEFAULT_JUDGE_MODEL = "local:smollm2"
"""The judge model when neither the scorer's ``model`` argument nor the context names one."""

DEFAULT_EMBEDDINGS_MODEL = "local:smollm2"
"""The embeddings model when neither the scorer nor the context names one."""


class ScorerError(ValueError):
    """A scorer spec that cannot be built: unknown name, bad arguments, or a bad spec."""

    def __init__(self, message: str, problems: list[str] | None = None) -> None:
        super().__init__(message)
        self.problems: list[str] = problems if problems is not None else [message]
        """Every problem found (``validate_specs`` reports them all at once)."""


@dataclass(frozen=True, slots=True)
class ScorerContext:
    """Resources injected into scorers at build time, never named in a spec.

    Specs stay plain data (name and JSON arguments); what a scorer needs from the running
    process (models, embeddings) arrives here, so the same spec rebuilds anywhere.
    """

    chat_model: ChatModelFactory | None = None
    """Model ref -> chat model, for ``llm_judge`` and the RAG metrics' judge."""
    embeddings: EmbeddingsFactory | None = None
    """Model ref -> embeddings model, for ``answer_relevancy``."""
    judge_model: str = DEFAULT_JUDGE_MODEL
    """The judge model ref used when a judge scorer's ``model`` argument is not set."""
    embeddings_model: str = DEFAULT_EMBEDDINGS_MODEL
    """The embeddings' model ref used when a scorer's ``embeddings_model`` is not set."""


def clip(text: str, limit: int = 80) -> str:
    """``text`` quoted for a reason line, cut to ``limit`` characters."""
    flat = " ".join(text.split())
    if len(flat) > limit:
        flat = flat[: limit - 1] + "…"
    return repr(flat)


class BaseScorer(ABC):
    """A scorer whose :meth:`score` applies the module's policy around :meth:`evaluate`.

    Subclasses implement :meth:`evaluate` and may raise there; the registry sets
    :attr:`name` and :attr:`spec` after building.
    """

    name: str = "unnamed"
    """The name scores are recorded under: the registered name, or the spec's ``label``."""
    spec: ScorerSpec = ScorerSpec(name="unnamed")
    """The spec this scorer was built from: ``build_scorer(scorer.spec)`` rebuilds it."""

    async def score(self, case: Case, output: TargetOutput) -> Score:
        """Score one case; failures come back as ``Score(value=None, error=...)``."""
        if output.error is not None:
            return self.failed(f"target failed: {output.error}")
        try:
            result = await self.evaluate(case, output)
        except Exception as exc:  # the contract: a scorer never raises
            logger.warning("scorer %s failed on case %s", self.name, case.id, exc_info=True)
            return self.failed(f"scorer failed: {type(exc).__name__}: {exc}")
        if result.value is not None and not (
            math.isfinite(result.value) and 0.0 <= result.value <= 1.0
        ):
            return self.failed(
                f"scorer produced an invalid value {result.value!r} (expected a number in [0, 1])",
                **result.details,
            )
        return result

    @abstractmethod
    async def evaluate(self, case: Case, output: TargetOutput) -> Score:
        """Score a case whose target succeeded; may raise (:meth:`score` catches it)."""

    def result(self, value: float, reason: str, **details: Any) -> Score:
        """A verdict recorded under this scorer's name."""
        return Score(name=self.name, value=float(value), reason=reason, details=details)

    def failed(self, error: str, **details: Any) -> Score:
        """A scorer failure: no value, and why."""
        return Score(name=self.name, value=None, error=error, details=details)


class GuardedScorer(BaseScorer):
    """Applies the policy to a scorer built by a plugin factory that does not subclass
    :class:`BaseScorer`."""

    def __init__(self, inner: Scorer) -> None:
        self.inner = inner

    async def evaluate(self, case: Case, output: TargetOutput) -> Score:
        """Delegate to the wrapped scorer, renaming its score to this scorer's name."""
        score = await self.inner.score(case, output)
        return Score(
            name=self.name,
            value=score.value,
            reason=score.reason,
            error=score.error,
            details=score.details,
        )
