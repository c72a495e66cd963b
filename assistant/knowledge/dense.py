"""Exact cosine search over the chunk vectors, in numpy.

The store's vectors are fetched once per store version into one normalised float32 matrix;
a query is one matrix-vector product and a partial sort. Measured against DuckDB's
``list_cosine_similarity`` in ``benchmarks/kb_search.py``: numpy is an order of magnitude
faster at 100k chunks, at the price of holding the matrix in memory (100k x 576 floats is
about 230 MB; past a few hundred thousand chunks, use pgvector, see docs/knowledge-base.md).
"""

from __future__ import annotations

from typing import Any

import numpy as np


def normalise(vectors: Any) -> np.ndarray[Any, Any]:
    """Rows scaled to unit length (zero rows stay zero)."""
    matrix = np.asarray(vectors, dtype=np.float32)
    if matrix.ndim == 1:
        matrix = matrix.reshape(1, -1)
    norms = np.linalg.norm(matrix, axis=1, keepdims=True)
    norms[norms == 0] = 1.0
    normalised: np.ndarray[Any, Any] = matrix / norms
    return normalised


class DenseIndex:
    """Chunk ids and their unit vectors."""

    def __init__(self, ids: np.ndarray[Any, Any], vectors: Any, version: int) -> None:
        self.ids = np.asarray(ids, dtype=np.int64)
        self.matrix = normalise(vectors) if len(self.ids) else np.zeros((0, 0), np.float32)
        self.version = version

    @property
    def dimension(self) -> int:
        """Length of the vectors (0 when empty)."""
        return int(self.matrix.shape[1]) if len(self.ids) else 0

    def search(self, query_vector: Any, k: int) -> list[tuple[int, float]]:
        """Up to ``k`` (chunk id, cosine similarity) pairs, most similar first."""
        if not len(self.ids):
            return []
        query = normalise(query_vector)[0]
        if query.shape[0] != self.matrix.shape[1]:
            raise ValueError(
                f"query vector has {query.shape[0]} dimensions, the stored vectors "
                f"{self.matrix.shape[1]}: re-embed with `assistant kb ingest --reembed`"
            )
        scores = self.matrix @ query
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(int(self.ids[i]), float(scores[i])) for i in top]
