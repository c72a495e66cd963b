"""Retrieval metrics without a judge: ``recall_at_k`` and ``mrr``.

Both compare the target's retrieved passages (``TargetOutput.contexts`` and
``context_sources``, filled by ``kb:`` targets and by agents that searched the knowledge base)
with the case's labelled relevant passages, ``metadata.relevant``: a list of
``{"source": "docs/evals.md", "quote": "a sentence of the passage"}``. A passage matches a
label when its source ends with the label's ``source`` (when given) and it contains the
``quote`` (case and whitespace ignored). Labels name text, not chunk ids, so they survive
re-chunking.
"""

from __future__ import annotations

import re
from typing import Any

from evals.scorers.base import BaseScorer
from evals.scorers.registry import register_scorer
from evals.types import Case, Score, TargetOutput


def _flat(text: str) -> str:
    return re.sub(r"\s+", " ", text).strip().lower()


def relevant_labels(case: Case) -> list[dict[str, str]]:
    """The case's ``metadata.relevant`` labels (validated)."""
    labels = case.metadata.get("relevant")
    if not isinstance(labels, list) or not labels:
        raise ValueError("the case has no metadata.relevant labels")
    for label in labels:
        if not isinstance(label, dict) or not str(label.get("quote", "")).strip():
            raise ValueError("each metadata.relevant label needs a non-empty 'quote'")
    return [
        {"source": str(label.get("source") or ""), "quote": str(label["quote"])} for label in labels
    ]


def matches(label: dict[str, str], source: str, text: str) -> bool:
    """Whether a retrieved passage (``source#chunk``, text) is the labelled one."""
    wanted = label["source"]
    path = source.rsplit("#", 1)[0]
    if wanted and not path.endswith(wanted.lstrip("./")):
        return False
    return _flat(label["quote"]) in _flat(text)


def _retrieved(output: TargetOutput) -> list[tuple[str, str]]:
    if output.contexts is None:
        raise ValueError(
            "the target retrieved nothing to score (use a kb: target or a profile "
            "that searches the knowledge base)"
        )
    sources = output.context_sources or [""] * len(output.contexts)
    return list(zip(sources, output.contexts, strict=False))


@register_scorer("recall_at_k")
class RecallAtKScorer(BaseScorer):
    """Share of the labelled relevant passages found among the first ``k`` retrieved."""

    def __init__(self, k: int = 5) -> None:
        if k < 1:
            raise ValueError("argument 'k' must be at least 1")
        self.k = k

    async def evaluate(self, case: Case, output: TargetOutput) -> Score:
        """Found labels over all labels, within the top ``k``."""
        labels = relevant_labels(case)
        top = _retrieved(output)[: self.k]
        found = [any(matches(label, s, t) for s, t in top) for label in labels]
        details: dict[str, Any] = {"k": self.k, "found": found, "retrieved": [s for s, _ in top]}
        value = sum(found) / len(labels)
        return self.result(
            value, f"{sum(found)} of {len(labels)} relevant in top {self.k}", **details
        )


@register_scorer("mrr")
class MRRScorer(BaseScorer):
    """Reciprocal rank of the first retrieved passage that is relevant (0 when none is)."""

    async def evaluate(self, case: Case, output: TargetOutput) -> Score:
        """1 / rank of the first relevant passage."""
        labels = relevant_labels(case)
        retrieved = _retrieved(output)
        for rank, (source, text) in enumerate(retrieved, start=1):
            if any(matches(label, source, text) for label in labels):
                return self.result(1.0 / rank, f"first relevant at rank {rank}", rank=rank)
        return self.result(0.0, f"no relevant passage in {len(retrieved)} retrieved", rank=None)
