"""``assistant eval import bfcl``: BFCL's official data, converted to datasets.

The conversion lives in :mod:`evals.calls.bfcl`; this is its front door: it fetches the
``bfcl-eval`` wheel alone (no dependencies) from the package index, with a progress bar, and
writes one JSONL dataset per category.
"""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from assistant.cli.common import EXIT_CONFIG, EXIT_ERROR, err, fail, out
from assistant.cli.evals import eval_app

import_app = typer.Typer(help="Import a public benchmark as datasets.")
eval_app.add_typer(import_app, name="import")

_DEFAULT_CATEGORIES = ("simple_python", "multiple", "parallel", "parallel_multiple", "irrelevance")


@import_app.command("bfcl")
def import_bfcl(
    category: Annotated[
        list[str] | None,
        typer.Option(
            "--category",
            "-c",
            help="A BFCL category (repeatable; default: the five bundled ones). "
            "Single-turn Python categories only.",
        ),
    ] = None,
    out_dir: Annotated[
        Path, typer.Option("--out", "-o", help="Where the <category>.jsonl files go.")
    ] = Path("datasets/bfcl"),
    version: Annotated[
        str | None,
        typer.Option(help="The bfcl-eval release to read (default: the bundled data's)."),
    ] = None,
    wheel: Annotated[
        Path | None,
        typer.Option(help="A bfcl-eval wheel already on disk (no download)."),
    ] = None,
    list_categories: Annotated[
        bool, typer.Option("--list", help="List the categories that convert, and exit.")
    ] = False,
) -> None:
    """Convert BFCL categories (from the bfcl-eval wheel) into datasets of the case format."""
    from rich.progress import BarColumn, DownloadColumn, Progress, TextColumn

    from evals.calls.bfcl import (
        BFCL_VERSION,
        CATEGORIES,
        BfclError,
        convert_category,
        fetch_wheel,
        write_cases,
    )

    if list_categories:
        for name, what in CATEGORIES.items():
            out.print(f"{name:24} {what}")
        return
    wanted = list(dict.fromkeys(category or _DEFAULT_CATEGORIES))
    try:
        if wheel is not None:
            if not wheel.is_file():
                fail(f"--wheel {wheel}: no such file", EXIT_CONFIG)
            path = wheel
        else:
            release = version or BFCL_VERSION
            with Progress(
                TextColumn(f"[bold]bfcl-eval {release}"), BarColumn(), DownloadColumn(),
                console=err, transient=True,
            ) as progress:  # fmt: skip
                task = progress.add_task("download", total=None)
                path = fetch_wheel(
                    release,
                    progress=lambda done, total: progress.update(task, completed=done, total=total),
                )
        conversions = [convert_category(path, name) for name in wanted]
        written = [(write_cases(conversion, out_dir), conversion) for conversion in conversions]
    except BfclError as exc:
        refused = "cannot be converted" in str(exc) or "unknown BFCL category" in str(exc)
        fail(str(exc), EXIT_CONFIG if refused else EXIT_ERROR)
    for target, conversion in written:
        out.print(f"{target}: {len(conversion.cases)} cases (bfcl-eval {conversion.version})")
