"""RAG metrics through ragas: ``faithfulness``, ``answer_relevancy``, ``context_precision``,
``context_recall``.

Each scorer runs one ragas metric on one case, with the judge from the injected
``chat_model`` factory (wrapped by ragas's ``LangchainLLMWrapper``, so every provider of the
workbench can judge, retries and breaker included) and, for ``answer_relevancy``, the
embeddings from the injected ``embeddings`` factory. The sample ragas sees is built from the
case and the target's answer: ``user_input`` is the case's prompt, ``response`` the answer,
``retrieved_contexts`` the target's retrieved ``contexts`` when it has them (a knowledge base
target or an agent that searched), else the case's, and ``reference`` its ``expected`` answer.

ragas failures are scorer errors, never a crash or a silent NaN: a judge whose output ragas
cannot parse, a timeout, a NaN score (ragas's way of saying "nothing to score") and a missing
input each become ``Score(value=None, error=...)`` with the reason.

ragas is imported lazily (it takes seconds) by :func:`load_ragas`, which also switches off
its usage telemetry (``RAGAS_DO_NOT_TRACK``) and works around its import of a module
langchain-community 0.4 no longer ships (upstream issues vibrantlabsai/ragas#2745, #2995).
"""

from __future__ import annotations

import asyncio
import functools
import importlib.util
import logging
import math
import os
import sys
import types
import warnings
from typing import Any, ClassVar

from evals.scorers.base import BaseScorer, ScorerContext
from evals.scorers.registry import register_scorer
from evals.types import Case, Score, TargetOutput

logger = logging.getLogger(__name__)

_VERTEXAI_MODULE = "langchain_community.chat_models.vertexai"


@functools.cache
def load_ragas() -> types.SimpleNamespace:
    """Import ragas once: its metric classes, LLM and embeddings wrappers, and sample type.

    Raises :class:`RuntimeError` (with the cause) when ragas cannot be imported.
    """
    os.environ.setdefault("RAGAS_DO_NOT_TRACK", "true")
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore")  # langchain-community's sunset notice, deprecations
            _provide_vertexai_placeholder()
            import ragas
            from ragas import SingleTurnSample
            from ragas.embeddings import LangchainEmbeddingsWrapper
            from ragas.exceptions import LLMDidNotFinishException, RagasOutputParserException
            from ragas.llms import LangchainLLMWrapper
            from ragas.metrics import (
                Faithfulness,
                LLMContextPrecisionWithReference,
                LLMContextRecall,
                ResponseRelevancy,
            )
            from ragas.run_config import RunConfig
    except Exception as exc:  # any import failure is reported on every case, never raised
        raise RuntimeError(f"ragas cannot be imported: {type(exc).__name__}: {exc}") from exc
    logging.getLogger("ragas").setLevel(logging.ERROR)  # parse retries are reported per case
    return types.SimpleNamespace(
        version=ragas.__version__,
        SingleTurnSample=SingleTurnSample,
        LangchainLLMWrapper=LangchainLLMWrapper,
        LangchainEmbeddingsWrapper=LangchainEmbeddingsWrapper,
        RunConfig=RunConfig,
        ParserError=RagasOutputParserException,
        CutOffError=LLMDidNotFinishException,
        metrics={
            "faithfulness": Faithfulness,
            "answer_relevancy": ResponseRelevancy,
            "context_precision": LLMContextPrecisionWithReference,
            "context_recall": LLMContextRecall,
        },
    )


def _provide_vertexai_placeholder() -> None:
    """ragas imports ``ChatVertexAI`` only to tell which models take ``n``: a stand-in does."""
    if _VERTEXAI_MODULE in sys.modules:
        return
    try:
        if importlib.util.find_spec(_VERTEXAI_MODULE) is not None:
            return
    except ImportError:  # langchain_community itself missing: ragas will say so
        return
    module = types.ModuleType(_VERTEXAI_MODULE)

    class ChatVertexAI:  # never instantiated: no model of ours is an instance of it
        """Placeholder for the class langchain-community 0.4 removed."""

    module.ChatVertexAI = ChatVertexAI  # type: ignore[attr-defined]
    sys.modules[_VERTEXAI_MODULE] = module


def _contexts(case: Case, output: TargetOutput | None) -> list[str]:
    """The target's retrieved passages when it retrieved any, else the case's fixed ones."""
    if output is not None and output.contexts is not None:
        return list(output.contexts)
    return list(case.contexts or [])


class RagasMetricScorer(BaseScorer):
    """One ragas metric as a scorer.

    ``model`` is the judge's model ref (default: the context's judge model), ``embeddings_model``
    the embeddings' ref for ``answer_relevancy`` (default: the context's), ``timeout`` bounds
    one case's metric in seconds.
    """

    metric: ClassVar[str] = ""
    needs_contexts: ClassVar[bool] = True
    needs_reference: ClassVar[bool] = False
    needs_embeddings: ClassVar[bool] = False

    def __init__(
        self,
        model: str | None = None,
        embeddings_model: str | None = None,
        timeout: float = 120.0,
        context: ScorerContext | None = None,
    ) -> None:
        for name, ref in (("model", model), ("embeddings_model", embeddings_model)):
            if ref is not None and not ref.strip():
                raise ValueError(f"argument '{name}' must be a model ref such as 'local:smollm2'")
        if not (math.isfinite(timeout) and timeout > 0):
            raise ValueError(
                f"argument 'timeout' must be a positive number of seconds, not {timeout}"
            )
        self.model = model
        self.embeddings_model = embeddings_model
        self.timeout = timeout
        self.context = context or ScorerContext()

    @property
    def judge_model(self) -> str:
        """The model ref the judge runs on."""
        return self.model or self.context.judge_model

    @property
    def embeddings_ref(self) -> str:
        """The embeddings' model ref."""
        return self.embeddings_model or self.context.embeddings_model

    def missing_inputs(self, case: Case, output: TargetOutput | None = None) -> list[str]:
        """What this metric needs that the case, the output or the injected context lacks."""
        missing = []
        if self.needs_contexts and not _contexts(case, output):
            missing.append("contexts")
        if self.needs_reference and not case.expected:
            missing.append("expected")
        if self.context.chat_model is None:
            missing.append("judge model")
        if self.needs_embeddings and self.context.embeddings is None:
            missing.append("embeddings")
        return missing

    async def evaluate(self, case: Case, output: TargetOutput) -> Score:
        """Run the metric on the case; every ragas failure becomes a scorer error."""
        details: dict[str, Any] = {"metric": self.metric, "judge_model": self.judge_model}
        if self.needs_embeddings:
            details["embeddings_model"] = self.embeddings_ref
        missing = self.missing_inputs(case, output)
        if missing:
            return self.failed(
                f"{self.metric} needs {', '.join(missing)}", missing_inputs=missing, **details
            )
        try:
            ragas = load_ragas()
        except RuntimeError as exc:
            return self.failed(str(exc), **details)
        details["ragas_version"] = ragas.version
        try:
            metric = self._metric(ragas)
        except Exception as exc:  # an unknown or unavailable model is this scorer's failure
            return self.failed(f"{type(exc).__name__}: {exc}", **details)
        sample = ragas.SingleTurnSample(
            user_input=case.prompt(),
            response=output.output,
            retrieved_contexts=_contexts(case, output),
            reference=case.expected,
        )
        try:
            value = await asyncio.wait_for(
                metric.single_turn_ascore(sample, timeout=self.timeout), timeout=self.timeout
            )
        except TimeoutError:
            return self.failed(f"ragas {self.metric} timed out after {self.timeout:g} s", **details)
        except ragas.CutOffError:
            return self.failed(
                f"the judge's output for ragas {self.metric} was cut off at its token limit "
                "(a small judge tends to ramble: use a larger one)",
                **details,
            )
        except ragas.ParserError as exc:
            return self.failed(
                f"the judge's output could not be parsed by ragas {self.metric}: {exc}", **details
            )
        except Exception as exc:  # judge or embeddings provider failures: recorded, not raised
            return self.failed(
                f"ragas {self.metric} failed: {type(exc).__name__}: {exc}", **details
            )
        if value is None or not math.isfinite(float(value)):
            return self.failed(
                f"ragas {self.metric} gave no score (NaN): the judge's output left nothing to "
                "score",
                **details,
            )
        return Score(
            self.name,
            float(value),
            reason=f"ragas {self.metric} = {float(value):.3f}",
            details=details,
        )

    def _metric(self, ragas: types.SimpleNamespace) -> Any:
        """A fresh ragas metric bound to the judge (and embeddings)."""
        chat_model, embeddings = self.context.chat_model, self.context.embeddings
        if chat_model is None or (self.needs_embeddings and embeddings is None):
            raise ValueError("checked by missing_inputs")  # unreachable: for the type checker
        # One attempt per call: the provider layer already retries transient failures.
        run_config = ragas.RunConfig(timeout=math.ceil(self.timeout), max_retries=1)
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", DeprecationWarning)
            llm = ragas.LangchainLLMWrapper(chat_model(self.judge_model), run_config=run_config)
            kwargs: dict[str, Any] = {"llm": llm}
            if embeddings is not None and self.needs_embeddings:
                kwargs["embeddings"] = ragas.LangchainEmbeddingsWrapper(
                    embeddings(self.embeddings_ref), run_config=run_config
                )
            metric = ragas.metrics[self.metric](**kwargs)
        metric.init(run_config)
        return metric


@register_scorer("faithfulness")
class FaithfulnessScorer(RagasMetricScorer):
    """ragas faithfulness: share of the answer's claims supported by the contexts."""

    metric = "faithfulness"


@register_scorer("answer_relevancy")
class AnswerRelevancyScorer(RagasMetricScorer):
    """ragas answer relevancy: questions generated back from the answer, compared with the
    real one by embeddings."""

    metric = "answer_relevancy"
    needs_contexts = False
    needs_embeddings = True


@register_scorer("context_precision")
class ContextPrecisionScorer(RagasMetricScorer):
    """ragas context precision: useful contexts ranked first, judged with the reference."""

    metric = "context_precision"
    needs_reference = True


@register_scorer("context_recall")
class ContextRecallScorer(RagasMetricScorer):
    """ragas context recall: share of the reference supported by the contexts."""

    metric = "context_recall"
    needs_reference = True
