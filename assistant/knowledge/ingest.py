"""Ingestion: files and folders in, chunks (and vectors) in the store, a report out.

For each file: unchanged mtime and size skip it without reading; otherwise its SHA-256 decides
(same content: only the mtime is updated; content already stored under another path: skipped
as a duplicate; new content: re-extracted, re-chunked, and its old chunks replaced). Files that
vanished from an ingested folder are removed. A bad file (unreadable, undecodable, a broken
PDF) is reported and skipped: it never stops the run. When ``kb.embeddings_model`` is set, the
chunks without a vector are embedded at the end, in batches (all of them again when the model
changed).
"""

from __future__ import annotations

import hashlib
import logging
import os
from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from pathlib import Path

from assistant.errors import ConfigError
from assistant.knowledge.chunking import check_sizes, chunk_text
from assistant.knowledge.extract import ExtractionError, extract, format_of, read_bytes
from assistant.knowledge.search import KnowledgeBase
from assistant.knowledge.store import DocumentRecord, DuckDBKnowledgeStore

logger = logging.getLogger(__name__)

EMBED_BATCH = 32


@dataclass
class IngestReport:
    """What one ingest did, file by file (sources as citations name them)."""

    added: list[str] = field(default_factory=list)
    updated: list[str] = field(default_factory=list)
    unchanged: list[str] = field(default_factory=list)
    duplicates: list[tuple[str, str]] = field(default_factory=list)
    """(file, the stored document with the same content)."""
    failed: list[tuple[str, str]] = field(default_factory=list)
    """(file, why it was skipped)."""
    removed: list[str] = field(default_factory=list)
    chunks: int = 0
    """Chunks written by this run."""
    embedded: int = 0
    """Chunks given a vector by this run."""
    embedding_error: str | None = None


ProgressCallback = Callable[[str, int, int], None]
"""Called as ``(stage, done, total)``; stage is ``files`` or ``embeddings``."""


def source_name(path: Path) -> str:
    """How a file is cited: relative to the working directory when below it."""
    try:
        return path.relative_to(Path.cwd().resolve()).as_posix()
    except ValueError:
        return path.as_posix()


def _hidden(path: Path, root: Path) -> bool:
    return any(part.startswith(".") for part in path.relative_to(root).parts)


def discover(paths: Iterable[Path]) -> tuple[list[Path], list[Path], list[tuple[str, str]]]:
    """(files to ingest, folders walked, problems) for the given files and folders."""
    files: list[Path] = []
    folders: list[Path] = []
    problems: list[tuple[str, str]] = []
    for given in paths:
        path = Path(given).expanduser()
        if path.is_dir():
            root = path.resolve()
            folders.append(root)
            files.extend(
                sorted(
                    p.resolve()
                    for p in root.rglob("*")
                    if format_of(p) and not _hidden(p, root) and p.is_file()
                )
            )
        elif path.is_file() or path.is_symlink():
            if format_of(path) is None:
                problems.append((str(given), f"unsupported file type '{path.suffix or path.name}'"))
            else:
                files.append(path.resolve())
        else:
            problems.append((str(given), "no such file or folder"))
    unique = list(dict.fromkeys(files))
    return unique, folders, problems


class Ingestor:
    """Runs ingests into one knowledge base with its chunking and embeddings settings."""

    def __init__(self, kb: KnowledgeBase) -> None:
        self.kb = kb
        settings = kb.settings
        try:
            check_sizes(settings.chunk_size, settings.chunk_overlap)
        except ValueError as exc:
            raise ConfigError(f"kb.chunk_size / kb.chunk_overlap: {exc}") from None

    def ingest(
        self,
        paths: Iterable[Path],
        *,
        progress: ProgressCallback | None = None,
        reembed: bool = False,
    ) -> IngestReport:
        """Ingest files and folders (see the module docstring)."""
        report = IngestReport()
        files, folders, problems = discover(paths)
        report.failed.extend(problems)
        with self.kb.open(read_only=False) as store:
            for done, path in enumerate(files, start=1):
                try:
                    self._one(store, path, report)
                except ExtractionError as exc:
                    report.failed.append((source_name(path), str(exc)))
                except OSError as exc:
                    report.failed.append((source_name(path), exc.strerror or str(exc)))
                if progress is not None:
                    progress("files", done, len(files))
            self._remove_vanished(store, folders, set(map(str, files)), report)
            self._embed(store, report, progress, reembed)
        return report

    def _one(self, store: DuckDBKnowledgeStore, path: Path, report: IngestReport) -> None:
        source = source_name(path)
        stat = path.stat()
        stored = store.document(str(path))
        if stored and stored.mtime == stat.st_mtime and stored.size == stat.st_size:
            report.unchanged.append(source)
            return
        data = read_bytes(path)
        digest = hashlib.sha256(data).hexdigest()
        if stored and stored.sha256 == digest:
            store.touch_document(str(path), stat.st_mtime, stat.st_size)
            report.unchanged.append(source)
            return
        twin = store.document_with_hash(digest)
        if twin is not None and twin.path != str(path) and Path(twin.path).is_file():
            report.duplicates.append((source, twin.source))
            return
        extracted = extract(path, data)
        settings = self.kb.settings
        chunks = chunk_text(extracted.text, settings.chunk_size, settings.chunk_overlap)
        if not chunks:
            raise ExtractionError("no text")
        doc = DocumentRecord(
            path=str(path),
            source=source,
            format=extracted.format,
            sha256=digest,
            mtime=stat.st_mtime,
            size=stat.st_size,
            title=extracted.title,
        )
        store.put_document(doc, chunks)
        report.chunks += len(chunks)
        (report.updated if stored else report.added).append(source)

    @staticmethod
    def _remove_vanished(
        store: DuckDBKnowledgeStore, folders: list[Path], seen: set[str], report: IngestReport
    ) -> None:
        if not folders:
            return
        prefixes = tuple(str(folder) + os.sep for folder in folders)
        gone = [
            doc
            for doc in store.documents()
            if doc.path.startswith(prefixes) and doc.path not in seen
        ]
        store.remove_documents(doc.path for doc in gone)
        report.removed.extend(doc.source for doc in gone)

    def _embed(
        self,
        store: DuckDBKnowledgeStore,
        report: IngestReport,
        progress: ProgressCallback | None,
        reembed: bool,
    ) -> None:
        ref = self.kb.settings.embeddings_model
        if not ref:
            return
        try:
            embedder = self.kb.embedder()
        except Exception as exc:  # an unknown or unavailable model: BM25 still works
            report.embedding_error = f"{type(exc).__name__}: {exc}"
            return
        if embedder is None:
            return
        if reembed or store.get_meta("embeddings_model") != ref:
            store.clear_embeddings()
            store.set_meta("embeddings_model", ref)
        total = store.count_chunks() - store.count_embedded()
        done = 0
        while batch := store.chunks_without_embeddings(EMBED_BATCH):
            try:
                vectors = embedder.embed_documents([text for _, text in batch])
            except Exception as exc:  # a provider failure: keep what is stored, say so
                report.embedding_error = f"{type(exc).__name__}: {exc}"
                logger.warning("embedding chunks failed: %s", exc)
                return
            store.set_embeddings([chunk_id for chunk_id, _ in batch], vectors)
            done += len(batch)
            report.embedded += len(batch)
            if progress is not None:
                progress("embeddings", done, total)
