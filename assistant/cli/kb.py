"""``assistant kb``: ingest documents into the knowledge base, list, remove and search them.

Every command takes ``--kb PATH`` to pick the store (default: the ``kb.path`` setting).
"""

from __future__ import annotations

from functools import cache
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any, Literal

import typer
from rich.table import Table

from assistant.cli.common import EXIT_CONFIG, EXIT_ERROR, app, err, fail, out, plain_row

if TYPE_CHECKING:
    from assistant.knowledge import KnowledgeBase

kb_app = typer.Typer(
    help="The knowledge base: `assistant kb ingest docs/`, `kb search QUERY`, `kb list`.",
    no_args_is_help=True,
)
app.add_typer(kb_app, name="kb")

KbOption = Annotated[
    Path | None, typer.Option("--kb", help="The knowledge base file (default: kb.path setting).")
]


def _knowledge_base(path: Path | None) -> KnowledgeBase:
    from assistant.cli.common import settings_from_environment
    from assistant.knowledge import KnowledgeBase

    settings = settings_from_environment()

    @cache
    def assistant() -> Any:
        from assistant.agent import build_assistant

        return build_assistant(settings)

    def embeddings(ref: str) -> Any:  # the providers are built only when vectors are wanted
        return assistant().embeddings(ref)

    return KnowledgeBase(settings.kb, path=path, embeddings=embeddings)


@kb_app.command("ingest")
def ingest(
    paths: Annotated[
        list[Path], typer.Argument(help="Files and folders (.md .txt .html .pdf).", min=1)
    ],
    kb: KbOption = None,
    reembed: Annotated[
        bool, typer.Option(help="Embed every chunk again (e.g. after changing models).")
    ] = False,
) -> None:
    """Add or refresh documents: changed files only; bad files are reported and skipped."""
    from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn

    from assistant.errors import KnowledgeBaseError
    from assistant.knowledge import Ingestor

    base = _knowledge_base(kb)
    progress = Progress(
        TextColumn("[bold]{task.description}"), BarColumn(), MofNCompleteColumn(), console=err
    )
    tasks: dict[str, Any] = {}

    def advanced(stage: str, done: int, total: int) -> None:
        if stage not in tasks:
            tasks[stage] = progress.add_task(stage, total=total)
        progress.update(tasks[stage], completed=done, total=total)

    try:
        with progress:
            report = Ingestor(base).ingest(paths, progress=advanced, reembed=reembed)
    except KnowledgeBaseError as exc:
        fail(str(exc), EXIT_ERROR)
    for source, reason in report.failed:
        err.print(f"[yellow]skipped[/] {source}: {reason}", highlight=False, soft_wrap=True)
    for source, twin in report.duplicates:
        err.print(f"[dim]duplicate[/] {source}: same content as {twin}", highlight=False)
    if report.embedding_error:
        err.print(
            f"[yellow]embeddings failed[/] ({report.embedding_error}): BM25 search still works",
            highlight=False,
            soft_wrap=True,
        )
    out.print(
        f"{len(report.added)} added, {len(report.updated)} updated, "
        f"{len(report.unchanged)} unchanged, {len(report.removed)} removed, "
        f"{len(report.duplicates)} duplicates, {len(report.failed)} skipped; "
        f"{report.chunks} chunks written, {report.embedded} embedded -> {base.path}",
        highlight=False,
    )


@kb_app.command("list")
def list_documents(kb: KbOption = None) -> None:
    """List the ingested documents: source, format, chunks, size."""
    from assistant.errors import KnowledgeBaseError

    base = _knowledge_base(kb)
    try:
        with base.open() as store:
            documents = store.documents()
            embeddings = store.get_meta("embeddings_model")
    except KnowledgeBaseError as exc:
        fail(str(exc), EXIT_ERROR)
    table = Table(title=f"Knowledge base {base.path}", title_justify="left")
    for column in ("source", "format", "chunks", "bytes", "title"):
        table.add_column(column, justify="right" if column in ("chunks", "bytes") else "left")
    for doc in documents:
        plain_row(table, doc.source, doc.format, str(doc.n_chunks), str(doc.size), doc.title or "")
    out.print(table)
    chunks = sum(doc.n_chunks for doc in documents)
    err.print(
        f"[dim]{len(documents)} documents, {chunks} chunks; vectors: {embeddings or 'none'}[/]"
    )


@kb_app.command("remove")
def remove(
    paths: Annotated[
        list[str], typer.Argument(help="Documents to remove: files, folders, or sources.", min=1)
    ],
    kb: KbOption = None,
) -> None:
    """Remove documents (a folder removes everything ingested below it)."""
    import os

    from assistant.errors import KnowledgeBaseError

    base = _knowledge_base(kb)
    try:
        with base.open(read_only=False) as store:
            documents = store.documents()
            chosen: list[str] = []
            for given in paths:
                resolved = str(Path(given).expanduser().resolve())
                matches = [
                    doc.path
                    for doc in documents
                    if doc.path == resolved
                    or doc.source == given
                    or doc.path.startswith(resolved + os.sep)
                ]
                if not matches:
                    fail(f"'{given}' is not in the knowledge base (see `assistant kb list`)")
                chosen.extend(matches)
            removed = store.remove_documents(dict.fromkeys(chosen))
    except KnowledgeBaseError as exc:
        fail(str(exc), EXIT_ERROR)
    out.print(f"removed {removed} documents")


@kb_app.command("search")
def search(
    query: Annotated[str, typer.Argument(help="What to look for.")],
    kb: KbOption = None,
    k: Annotated[int | None, typer.Option("--k", "-k", help="How many chunks.", min=1)] = None,
    mode: Annotated[
        str, typer.Option(help="auto, bm25, dense or hybrid (auto: hybrid when vectors exist).")
    ] = "auto",
) -> None:
    """Print the best chunks for QUERY, ranked, with source and score."""
    from assistant.errors import KnowledgeBaseError

    if mode not in ("auto", "bm25", "dense", "hybrid"):
        fail(f"--mode must be auto, bm25, dense or hybrid, not '{mode}'", EXIT_CONFIG)
    chosen: Literal["auto", "bm25", "dense", "hybrid"] = mode  # type: ignore[assignment]
    base = _knowledge_base(kb)
    try:
        hits = base.search(query, k, chosen)
    except KnowledgeBaseError as exc:
        fail(str(exc), EXIT_ERROR)
    if not hits:
        err.print("no matching chunks")
        return
    table = Table(title=f"{query!r}", title_justify="left")
    table.add_column("#", justify="right")
    table.add_column("score", justify="right")
    table.add_column("source", overflow="fold")
    table.add_column("text", overflow="fold")
    for hit in hits:
        snippet = " ".join(hit.text.split())
        snippet = snippet if len(snippet) <= 240 else snippet[:239] + "…"
        heading = f"[dim]{hit.chunk.heading}[/]\n" if hit.chunk.heading else ""
        plain_row(table, str(hit.rank), f"{hit.score:.3f}", hit.citation, heading + snippet)
    out.print(table)
