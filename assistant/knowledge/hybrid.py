"""Reciprocal rank fusion: one ranking from several, by rank alone (scores are not comparable).

``score(d) = sum over rankings of 1 / (k + rank(d))``, rank from 1, with ``k = 60`` as in
Cormack, Clarke and Büttcher (2009). A document missing from a ranking adds nothing there.
"""

from __future__ import annotations

from collections.abc import Hashable, Sequence
from typing import TypeVar

K = TypeVar("K", bound=Hashable)

RRF_K = 60


def reciprocal_rank_fusion(
    rankings: Sequence[Sequence[K]], k: int = RRF_K
) -> list[tuple[K, float]]:
    """Fused (item, score) pairs, best first; ties keep the order of first appearance."""
    scores: dict[K, float] = {}
    for ranking in rankings:
        for rank, item in enumerate(ranking, start=1):
            scores[item] = scores.get(item, 0.0) + 1.0 / (k + rank)
    order = {item: index for index, item in enumerate(scores)}
    return sorted(scores.items(), key=lambda pair: (-pair[1], order[pair[0]]))
