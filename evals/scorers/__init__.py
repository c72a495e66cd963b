"""Scorers: turn a case and a target's output into a :class:`~evals.types.Score`.

Build them from specs with :func:`build_scorer`; check a dataset's specs up front with
:func:`validate_specs`; add one with ``@register_scorer("name")``. Built-ins:

- ``exact``: the output equals the reference (``expected``, ``case_sensitive``, ``strip``);
- ``contains``: the output contains ``text`` / ``all`` / ``any`` of texts, else the reference;
- ``regex``: ``pattern`` found (``flags``); with ``must_match=False``, the pattern is absent;
- ``numeric``: the output's last number vs the reference's (``tolerance``, ``relative``);
- ``json_valid``: a JSON object or array in the output (whole, fenced, or embedded);
- ``json_schema``: that JSON validates against ``schema``;
- ``tool_called``: the trajectory's tools vs ``tools`` or ``case.expected_tools`` (``mode``),
  or a sequence of expected ``calls`` (names, argument subsets, counts; ``ordered``);
- ``call_match``: the calls made vs ``case.expected_calls``, as BFCL's AST checker grades
  them (``expected``, ``order``); ``no_call``: no function was called (BFCL irrelevance);
- ``llm_judge``: a chat model grades against ``rubric`` (``model``, ``scale``, ``timeout``);
- ``faithfulness``, ``answer_relevancy``, ``context_precision``, ``context_recall``: ragas
  metrics (``model``, ``embeddings_model``, ``timeout``; see :mod:`evals.scorers.rag`);
- ``recall_at_k`` (``k``), ``mrr``: retrieval against ``metadata.relevant`` labels, no judge
  (see :mod:`evals.scorers.retrieval`);
- ``confidence``: ``exp(mean token logprob)`` of the answer, from logprobs the target
  recorded (``params={"logprobs": True}``; see :mod:`evals.scorers.confidence`).

Every scorer accepts ``label`` (the name its scores are recorded under). Models are injected,
never named in code: ``build_scorer(spec, chat_model=assistant.chat_model,
embeddings=assistant.embeddings, judge_model="local:smollm2")``.

Policy (see :mod:`evals.scorers.base`): a failed target gives ``value=None, error="target
failed: ..."`` (counted apart from wrong answers); scorers never raise; values are in [0, 1].
"""

from __future__ import annotations

from evals.scorers import (
    calls,
    confidence,
    judge,
    numeric,
    rag,
    retrieval,
    structured,
    text,
    tools,
)
from evals.scorers.base import (
    DEFAULT_EMBEDDINGS_MODEL,
    DEFAULT_JUDGE_MODEL,
    BaseScorer,
    ChatModelFactory,
    EmbeddingsFactory,
    ScorerContext,
    ScorerError,
)
from evals.scorers.judge import JudgeParseError, JudgeVerdict, parse_judge_reply
from evals.scorers.numeric import ExtractedNumber, extract_number
from evals.scorers.rag import load_ragas
from evals.scorers.registry import (
    ScorerFactory,
    SpecLike,
    build_scorer,
    describe_scorers,
    register_scorer,
    scorer_names,
    to_spec,
    validate_specs,
)
from evals.scorers.structured import FoundJson, JsonSearch, find_json

__all__ = [
    "DEFAULT_EMBEDDINGS_MODEL",
    "DEFAULT_JUDGE_MODEL",
    "BaseScorer",
    "ChatModelFactory",
    "EmbeddingsFactory",
    "ExtractedNumber",
    "FoundJson",
    "JsonSearch",
    "JudgeParseError",
    "JudgeVerdict",
    "ScorerContext",
    "ScorerError",
    "ScorerFactory",
    "SpecLike",
    "build_scorer",
    "calls",
    "confidence",
    "describe_scorers",
    "extract_number",
    "find_json",
    "judge",
    "load_ragas",
    "numeric",
    "parse_judge_reply",
    "rag",
    "register_scorer",
    "retrieval",
    "scorer_names",
    "structured",
    "text",
    "to_spec",
    "tools",
    "validate_specs",
]
