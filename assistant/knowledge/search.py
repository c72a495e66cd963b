"""Searching the knowledge base: BM25, vectors, or both fused, over one store file.

:class:`KnowledgeBase` is what the tool, the agent's automatic retrieval, the CLI and the
evals hold. It keeps a snapshot in memory (the chunks as an Arrow table, the BM25 index, the
vector matrix) and checks the store file's stat before each search: only when the file changed
does it open the store (read-only, for a moment, so ingestion in another process is never
locked out) and, when the store's version moved on, reload. A search itself touches no
database: BM25 at 100k chunks stays within a few milliseconds.

Modes: ``bm25`` (always available), ``dense`` (needs ``kb.embeddings_model`` and ingested
vectors), ``hybrid`` (reciprocal rank fusion of both) and ``auto`` (hybrid when vectors exist
and ``kb.hybrid`` is on, dense when it is off, else BM25).
"""

from __future__ import annotations

import logging
import re
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal

import numpy as np
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]

from assistant.errors import KnowledgeBaseError
from assistant.knowledge.dense import DenseIndex
from assistant.knowledge.hybrid import reciprocal_rank_fusion
from assistant.knowledge.lexical import BM25Index
from assistant.knowledge.store import DuckDBKnowledgeStore, StoredChunk
from assistant.types import Availability

if TYPE_CHECKING:
    from langchain_core.embeddings import Embeddings

    from assistant.config import KnowledgeSettings

logger = logging.getLogger(__name__)

SearchMode = Literal["auto", "bm25", "dense", "hybrid"]
EmbeddingsFactory = Callable[[str], "Embeddings"]
"""Model ref -> embeddings model (e.g. :meth:`assistant.agent.Assistant.embeddings`)."""

CANDIDATES = 50
"""Chunks each ranking contributes before fusion: enough for RRF to reorder the top few."""


@dataclass(frozen=True, slots=True)
class SearchHit:
    """One ranked chunk: its text, where it comes from, and its score in the mode used."""

    chunk: StoredChunk
    score: float
    rank: int

    @property
    def citation(self) -> str:
        """``source#ordinal``, as the agent cites it."""
        return self.chunk.citation

    @property
    def source(self) -> str:
        """The document it comes from."""
        return self.chunk.source

    @property
    def text(self) -> str:
        """The chunk's text."""
        return self.chunk.text


@dataclass
class _Snapshot:
    """What searches read, for one version of the store: chunks, ids and indexes."""

    version: int
    signature: tuple[int, ...]
    table: pa.Table
    ids: np.ndarray[Any, Any]
    lexical: BM25Index | None = None
    dense: DenseIndex | None = None
    dense_model: str | None = None

    def chunk(self, chunk_id: int) -> StoredChunk | None:
        row = int(np.searchsorted(self.ids, chunk_id))
        if row >= len(self.ids) or self.ids[row] != chunk_id:
            return None
        values = [self.table.column(name)[row].as_py() for name in _COLUMNS]
        return StoredChunk(*values)


_COLUMNS = ("id", "source", "ordinal", "heading", "text", "sha256")


class KnowledgeBase:
    """Search over one store file (see the module docstring)."""

    def __init__(
        self,
        settings: KnowledgeSettings,
        *,
        path: Path | None = None,
        embeddings: EmbeddingsFactory | None = None,
    ) -> None:
        self.settings = settings
        self.path = Path(path or settings.path)
        self.embeddings = embeddings
        self._lock = threading.Lock()
        self._snapshot: _Snapshot | None = None

    @property
    def index_folder(self) -> Path:
        """Where the BM25 index is saved."""
        return self.path.with_name(self.path.name + ".bm25")

    def availability(self) -> Availability:
        """Whether there is a store to search."""
        if self.path.is_file():
            return Availability(True)
        return Availability(
            False, f"no knowledge base at {self.path}: run `assistant kb ingest PATH`"
        )

    def open(self, *, read_only: bool = True) -> DuckDBKnowledgeStore:
        """The store, opened for one operation (close it, or use it as a context manager)."""
        return DuckDBKnowledgeStore(self.path, read_only=read_only)

    def embedder(self) -> Embeddings | None:
        """The configured embeddings model, or ``None`` (BM25 only)."""
        ref = self.settings.embeddings_model
        if not ref or self.embeddings is None:
            return None
        return self.embeddings(ref)

    # -- the snapshot searches read --------------------------------------------------------

    def _signature(self) -> tuple[int, ...]:
        """Changes whenever the store file (or its write-ahead log) changes."""
        parts: list[int] = []
        for path in (self.path, self.path.with_name(self.path.name + ".wal")):
            try:
                stat = path.stat()
                parts += [stat.st_mtime_ns, stat.st_size, stat.st_ino]
            except FileNotFoundError:
                parts += [0, 0, 0]
        return tuple(parts)

    def snapshot(self) -> _Snapshot:
        """The current snapshot: reloaded only when the file changed and its version moved."""
        signature = self._signature()
        with self._lock:
            current = self._snapshot
            if current is not None and current.signature == signature:
                return current
            if not self.path.is_file():
                raise KnowledgeBaseError(self.availability().reason or "no knowledge base")
            with self.open() as store:
                version = store.version()
                if current is not None and current.version == version:
                    current.signature = signature
                    return current
                table = store.chunk_table()
                snapshot = _Snapshot(
                    version, signature, table, table.column("id").to_numpy().astype(np.int64)
                )
                snapshot.lexical = self._lexical(snapshot)
                snapshot.dense_model = store.get_meta("embeddings_model")
                if self.settings.embeddings_model and snapshot.dense_model == (
                    self.settings.embeddings_model
                ):
                    ids, matrix = store.embedding_matrix()
                    snapshot.dense = DenseIndex(ids, matrix, version) if len(ids) else None
            self._snapshot = snapshot
            return snapshot

    def _lexical(self, snapshot: _Snapshot) -> BM25Index:
        index = BM25Index.load(self.index_folder)
        if index is not None and index.version == snapshot.version:
            return index
        headings = snapshot.table.column("heading").to_pylist()
        texts = snapshot.table.column("text").to_pylist()
        pairs = [
            (int(i), f"{h}\n{t}") for i, h, t in zip(snapshot.ids, headings, texts, strict=True)
        ]
        index = BM25Index.build([pairs], snapshot.version)
        try:
            index.save(self.index_folder)
        except OSError as exc:  # a read-only folder: the in-memory index still serves
            logger.warning("cannot save the BM25 index to %s: %s", self.index_folder, exc)
        return index

    def has_vectors(self) -> bool:
        """Whether dense search is possible with the configured embeddings model."""
        return self.snapshot().dense is not None and self.embeddings is not None

    # -- search ---------------------------------------------------------------------------

    def search(
        self, query: str, k: int | None = None, mode: SearchMode = "auto"
    ) -> list[SearchHit]:
        """The ``k`` (default ``kb.top_k``) best chunks for ``query``."""
        k = k or self.settings.top_k
        if not query.strip():
            return []
        snapshot = self.snapshot()
        hits: list[SearchHit] = []
        seen: set[str] = set()
        for chunk_id, score in self._rank(snapshot, query, k, mode):
            chunk = snapshot.chunk(chunk_id)
            if chunk is None or chunk.sha256 in seen:  # the same text twice: show it once
                continue
            seen.add(chunk.sha256)
            hits.append(SearchHit(chunk, score, len(hits) + 1))
            if len(hits) == k:
                break
        return hits

    def _rank(
        self, snapshot: _Snapshot, query: str, k: int, mode: SearchMode
    ) -> list[tuple[int, float]]:
        wanted = max(k * 2, CANDIDATES) if mode in ("auto", "hybrid") else k * 2
        dense = None if mode == "bm25" else snapshot.dense
        embedder = self.embedder() if dense is not None else None
        if mode in ("dense", "hybrid") and (dense is None or embedder is None):
            raise KnowledgeBaseError(
                f"{mode} search needs vectors: set kb.embeddings_model, then "
                "run `assistant kb ingest`"
            )
        if mode == "auto":
            usable = dense is not None and embedder is not None
            mode = ("hybrid" if self.settings.hybrid else "dense") if usable else "bm25"
        lexical = snapshot.lexical.search(query, wanted) if snapshot.lexical else []
        if mode == "bm25" or dense is None or embedder is None:
            return lexical
        semantic = dense.search(embedder.embed_query(query), wanted)
        if mode == "dense":
            return semantic
        fused = reciprocal_rank_fusion([[i for i, _ in lexical], [i for i, _ in semantic]])
        return fused[:wanted]


def format_hits(hits: list[SearchHit], max_chars: int = 1500) -> str:
    """Hits as the model reads them: ``[n] source#ordinal (heading)`` then the text."""
    if not hits:
        return "No matching passages in the knowledge base."
    blocks = []
    for hit in hits:
        heading = f" ({hit.chunk.heading})" if hit.chunk.heading else ""
        text = hit.text if len(hit.text) <= max_chars else hit.text[: max_chars - 1] + "…"
        blocks.append(f"[{hit.rank}] {hit.citation}{heading}\n{text}")
    return "\n\n".join(blocks)


_BLOCK_HEAD = re.compile(r"^\[(\d+)\] (.+?#\d+)(?: \(.*\))?$", flags=re.MULTILINE)


def parse_hits(text: str) -> list[tuple[str, str]]:
    """(citation, text) pairs back out of :func:`format_hits` output (for evals)."""
    heads = list(_BLOCK_HEAD.finditer(text))
    pairs = []
    for index, head in enumerate(heads):
        end = heads[index + 1].start() if index + 1 < len(heads) else len(text)
        pairs.append((head.group(2), text[head.end() : end].strip()))
    return pairs
