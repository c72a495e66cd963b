"""Where the knowledge base lives: documents, chunks and their vectors, behind one protocol.

:class:`KnowledgeStore` is the interface search and ingestion use; :class:`DuckDBKnowledgeStore`
is the embedded implementation (one DuckDB file, exact vector search done in numpy over the
fetched matrix). A server-grade store (PostgreSQL with pgvector, see
``docs/knowledge-base.md``) implements the same protocol.

Every change bumps a version counter (``meta.version``): search caches (the BM25 index, the
vector matrix) are keyed by it. One process writes at a time (DuckDB's rule); readers open the
file read-only for the length of one operation, so a long-running server never locks out
``assistant kb ingest``.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from datetime import UTC, datetime
from pathlib import Path
from typing import Any, Protocol

import duckdb
import numpy as np
import pyarrow as pa  # type: ignore[import-untyped, unused-ignore]

from assistant.errors import KnowledgeBaseError
from assistant.knowledge.chunking import Chunk

MIGRATIONS: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "0001_documents_chunks",
        (
            "CREATE TABLE meta (key TEXT PRIMARY KEY, value TEXT NOT NULL)",
            """
            CREATE TABLE documents (
                id INTEGER PRIMARY KEY,
                path TEXT NOT NULL UNIQUE,
                source TEXT NOT NULL,
                format TEXT NOT NULL,
                title TEXT,
                sha256 TEXT NOT NULL,
                mtime DOUBLE NOT NULL,
                size BIGINT NOT NULL,
                n_chunks INTEGER NOT NULL,
                ingested_at TIMESTAMPTZ NOT NULL
            )
            """,
            """
            CREATE TABLE chunks (
                id BIGINT PRIMARY KEY,
                doc_id INTEGER NOT NULL,
                ordinal INTEGER NOT NULL,
                heading TEXT NOT NULL,
                text TEXT NOT NULL,
                sha256 TEXT NOT NULL,
                embedding FLOAT[]
            )
            """,
            "CREATE INDEX chunks_doc ON chunks (doc_id)",
        ),
    ),
)
"""Named schema steps, applied once each in order (never edit one: add the next)."""


@dataclass(frozen=True, slots=True)
class DocumentRecord:
    """One ingested file."""

    path: str
    """The resolved absolute path: the document's identity."""
    source: str
    """How citations name it (relative to the working directory at ingest when possible)."""
    format: str
    sha256: str
    mtime: float
    size: int
    title: str | None = None
    n_chunks: int = 0
    id: int = 0


@dataclass(frozen=True, slots=True)
class StoredChunk:
    """A chunk with the document it came from."""

    id: int
    source: str
    ordinal: int
    heading: str
    text: str
    sha256: str

    @property
    def citation(self) -> str:
        """How the agent cites it: ``source#ordinal``."""
        return f"{self.source}#{self.ordinal}"


class KnowledgeStore(Protocol):
    """What ingestion and search need from a store."""

    def version(self) -> int:
        """A counter bumped by every change."""
        ...

    def documents(self) -> list[DocumentRecord]:
        """Every document, by source."""
        ...

    def document(self, path: str) -> DocumentRecord | None:
        """The document at ``path`` (resolved absolute path), if ingested."""
        ...

    def document_with_hash(self, sha256: str) -> DocumentRecord | None:
        """A document whose content has this hash, if any."""
        ...

    def put_document(
        self, doc: DocumentRecord, chunks: Sequence[Chunk], embeddings: Any | None = None
    ) -> None:
        """Insert or replace a document and all its chunks (``embeddings``: one row each)."""
        ...

    def touch_document(self, path: str, mtime: float, size: int) -> None:
        """Record a new mtime and size for a document whose content did not change."""
        ...

    def remove_documents(self, paths: Iterable[str]) -> int:
        """Delete documents and their chunks; returns how many were removed."""
        ...

    def chunks(self, ids: Sequence[int]) -> list[StoredChunk]:
        """The chunks with these ids, in the order given (unknown ids are left out)."""
        ...

    def chunk_table(self) -> pa.Table:
        """Every chunk in id order: ``id, source, ordinal, heading, text, sha256`` columns."""
        ...

    def embedding_matrix(self) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
        """Ids and float32 vectors of every chunk that has one."""
        ...

    def chunks_without_embeddings(self, limit: int) -> list[tuple[int, str]]:
        """Up to ``limit`` (id, text) of chunks with no vector yet."""
        ...

    def set_embeddings(self, ids: Sequence[int], vectors: Any) -> None:
        """Store one vector per chunk id."""
        ...

    def get_meta(self, key: str) -> str | None:
        """A stored setting (e.g. the embeddings model the vectors came from)."""
        ...

    def set_meta(self, key: str, value: str) -> None:
        """Store a setting."""
        ...

    def close(self) -> None:
        """Release the connection."""
        ...


def _vector_array(vectors: Any) -> pa.Array:
    """Rows of a matrix as an Arrow list array (built from one flat buffer: fast at 100k)."""
    matrix = np.ascontiguousarray(np.asarray(vectors, dtype=np.float32))
    rows, width = matrix.shape
    offsets = pa.array(np.arange(0, rows * width + 1, width, dtype=np.int32))
    return pa.ListArray.from_arrays(offsets, pa.array(matrix.reshape(-1)))


class DuckDBKnowledgeStore:
    """The embedded store: one DuckDB file (see the module docstring)."""

    def __init__(self, path: str | Path, *, read_only: bool = False) -> None:
        self.path = Path(path)
        if read_only and not self.path.is_file():
            raise KnowledgeBaseError(
                f"no knowledge base at {self.path}: add documents with `assistant kb ingest PATH`"
            )
        if not read_only:
            self.path.parent.mkdir(parents=True, exist_ok=True)
        try:
            self._con = duckdb.connect(str(self.path), read_only=read_only)
        except duckdb.Error as exc:
            raise KnowledgeBaseError(f"cannot open the knowledge base {self.path}: {exc}") from None
        if not read_only:
            self._migrate()
            return
        try:
            self._con.execute("SELECT count(*) FROM meta").fetchall()
        except duckdb.CatalogException:
            self._con.close()
            raise KnowledgeBaseError(
                f"{self.path} is not a knowledge base (no meta table)"
            ) from None

    def __enter__(self) -> DuckDBKnowledgeStore:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    def close(self) -> None:
        """Close the connection (idempotent)."""
        self._con.close()

    def _migrate(self) -> None:
        self._con.execute("CREATE TABLE IF NOT EXISTS kb_migrations (name TEXT PRIMARY KEY)")
        applied = {row[0] for row in self._con.execute("SELECT name FROM kb_migrations").fetchall()}
        for name, statements in MIGRATIONS:
            if name in applied:
                continue
            self._con.execute("BEGIN TRANSACTION")
            for statement in statements:
                self._con.execute(statement)
            self._con.execute("INSERT INTO kb_migrations VALUES (?)", [name])
            self._con.execute("COMMIT")

    # -- meta -----------------------------------------------------------------------------

    def get_meta(self, key: str) -> str | None:
        """A stored setting."""
        rows = self._con.execute("SELECT value FROM meta WHERE key = ?", [key]).fetchall()
        return str(rows[0][0]) if rows else None

    def set_meta(self, key: str, value: str) -> None:
        """Store a setting."""
        self._con.execute("INSERT OR REPLACE INTO meta VALUES (?, ?)", [key, value])

    def version(self) -> int:
        """The change counter."""
        return int(self.get_meta("version") or 0)

    def _bump(self) -> None:
        self.set_meta("version", str(self.version() + 1))

    # -- documents ------------------------------------------------------------------------

    _DOC_COLUMNS = "path, source, format, sha256, mtime, size, title, n_chunks, id"

    def _docs(self, where: str = "", params: list[Any] | None = None) -> list[DocumentRecord]:
        # ``where`` is one of this class's fixed fragments; values are bound parameters
        query = f"SELECT {self._DOC_COLUMNS} FROM documents {where} ORDER BY source"  # noqa: S608  # nosec B608
        rows = self._con.execute(query, params or []).fetchall()
        return [DocumentRecord(*row) for row in rows]

    def documents(self) -> list[DocumentRecord]:
        """Every document, by source."""
        return self._docs()

    def document(self, path: str) -> DocumentRecord | None:
        """The document at ``path``, if ingested."""
        found = self._docs("WHERE path = ?", [path])
        return found[0] if found else None

    def document_with_hash(self, sha256: str) -> DocumentRecord | None:
        """A document whose content has this hash."""
        found = self._docs("WHERE sha256 = ?", [sha256])
        return found[0] if found else None

    def put_document(
        self, doc: DocumentRecord, chunks: Sequence[Chunk], embeddings: Any | None = None
    ) -> None:
        """Insert or replace ``doc`` with its chunks, in one transaction."""
        self._con.execute("BEGIN TRANSACTION")
        try:
            self._delete_paths([doc.path])
            row = self._con.execute(
                "SELECT coalesce(max(id), 0) + 1 FROM documents UNION ALL "
                "SELECT coalesce(max(id), 0) + 1 FROM chunks"
            ).fetchall()
            doc_id, first_chunk = int(row[0][0]), int(row[1][0])
            self._con.execute(
                "INSERT INTO documents VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, ?)",
                [
                    doc_id,
                    doc.path,
                    doc.source,
                    doc.format,
                    doc.title,
                    doc.sha256,
                    doc.mtime,
                    doc.size,
                    len(chunks),
                    datetime.now(UTC),
                ],
            )
            self.insert_chunks(doc_id, first_chunk, chunks, embeddings)
            self._bump()
            self._con.execute("COMMIT")
        except BaseException:
            self._con.execute("ROLLBACK")
            raise

    def insert_chunks(
        self, doc_id: int, first_id: int, chunks: Sequence[Chunk], embeddings: Any | None = None
    ) -> None:
        """Append chunks of one document through Arrow (fast at any size)."""
        if not chunks:
            return
        vectors: pa.Array
        if embeddings is None:
            vectors = pa.nulls(len(chunks), type=pa.list_(pa.float32()))
        else:
            vectors = _vector_array(embeddings)
        table = pa.table(
            {
                "id": pa.array(range(first_id, first_id + len(chunks)), type=pa.int64()),
                "doc_id": pa.array([doc_id] * len(chunks), type=pa.int32()),
                "ordinal": pa.array([c.ordinal for c in chunks], type=pa.int32()),
                "heading": [c.heading for c in chunks],
                "text": [c.text for c in chunks],
                "sha256": [c.sha256 for c in chunks],
                "embedding": vectors,
            }
        )
        self._con.register("new_chunks", table)
        try:
            self._con.execute("INSERT INTO chunks SELECT * FROM new_chunks")
        finally:
            self._con.unregister("new_chunks")

    def touch_document(self, path: str, mtime: float, size: int) -> None:
        """New mtime and size for an unchanged document (the version stays)."""
        self._con.execute(
            "UPDATE documents SET mtime = ?, size = ? WHERE path = ?", [mtime, size, path]
        )

    def _delete_paths(self, paths: list[str]) -> int:
        if not paths:
            return 0
        ids = [
            row[0]
            for row in self._con.execute(
                "SELECT id FROM documents WHERE list_contains(?, path)", [paths]
            ).fetchall()
        ]
        if ids:
            self._con.execute("DELETE FROM chunks WHERE list_contains(?, doc_id)", [ids])
            self._con.execute("DELETE FROM documents WHERE list_contains(?, id)", [ids])
        return len(ids)

    def remove_documents(self, paths: Iterable[str]) -> int:
        """Delete documents and their chunks."""
        self._con.execute("BEGIN TRANSACTION")
        removed = self._delete_paths(list(paths))
        if removed:
            self._bump()
        self._con.execute("COMMIT")
        return removed

    # -- chunks ---------------------------------------------------------------------------

    def chunks(self, ids: Sequence[int]) -> list[StoredChunk]:
        """The chunks with these ids, in the order given."""
        if not ids:
            return []
        rows = self._con.execute(
            "SELECT c.id, d.source, c.ordinal, c.heading, c.text, c.sha256 FROM chunks c "
            "JOIN documents d ON d.id = c.doc_id WHERE list_contains(?, c.id)",
            [list(ids)],
        ).fetchall()
        by_id = {row[0]: StoredChunk(*row) for row in rows}
        return [by_id[i] for i in ids if i in by_id]

    def count_chunks(self) -> int:
        """How many chunks the store holds."""
        return int(self._con.execute("SELECT count(*) FROM chunks").fetchall()[0][0])

    def chunk_table(self) -> pa.Table:
        """Every chunk in id order: ``id, source, ordinal, heading, text, sha256`` columns."""
        return self._con.sql(
            "SELECT c.id, d.source, c.ordinal, c.heading, c.text, c.sha256 FROM chunks c "
            "JOIN documents d ON d.id = c.doc_id ORDER BY c.id"
        ).to_arrow_table()

    def count_embedded(self) -> int:
        """How many chunks have a vector."""
        return int(self._con.execute("SELECT count(embedding) FROM chunks").fetchall()[0][0])

    def embedding_matrix(self) -> tuple[np.ndarray[Any, Any], np.ndarray[Any, Any]]:
        """Ids and vectors (float32, one row each) of every chunk that has a vector."""
        table = self._con.sql(
            "SELECT id, embedding FROM chunks WHERE embedding IS NOT NULL ORDER BY id"
        ).to_arrow_table()
        ids = table.column("id").to_numpy()
        if not len(ids):
            return ids, np.zeros((0, 0), dtype=np.float32)
        flat = table.column("embedding").combine_chunks().flatten().to_numpy()
        return ids, np.asarray(flat, dtype=np.float32).reshape(len(ids), -1)

    def chunks_without_embeddings(self, limit: int) -> list[tuple[int, str]]:
        """Chunks with no vector yet (id, heading and text)."""
        rows = self._con.execute(
            "SELECT id, heading || '\n' || text FROM chunks WHERE embedding IS NULL "
            "ORDER BY id LIMIT ?",
            [limit],
        ).fetchall()
        return [(int(row[0]), str(row[1])) for row in rows]

    def set_embeddings(self, ids: Sequence[int], vectors: Any) -> None:
        """Store one vector per chunk id."""
        table = pa.table(
            {
                "id": pa.array(list(ids), type=pa.int64()),
                "embedding": _vector_array(vectors),
            }
        )
        self._con.register("new_vectors", table)
        try:
            self._con.execute(
                "UPDATE chunks SET embedding = v.embedding FROM new_vectors v "
                "WHERE chunks.id = v.id"
            )
        finally:
            self._con.unregister("new_vectors")
        self._bump()

    def clear_embeddings(self) -> None:
        """Drop every vector (the embeddings model changed)."""
        self._con.execute("UPDATE chunks SET embedding = NULL")
        self._bump()
