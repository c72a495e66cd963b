"""What every ``assistant`` command shares: the app, consoles, exit codes, lazy builders."""

from __future__ import annotations

from typing import TYPE_CHECKING, NoReturn

import typer
from rich.console import Console
from rich.markup import escape
from rich.table import Table

if TYPE_CHECKING:
    from assistant.agent import Assistant
    from assistant.config import Settings

app = typer.Typer(
    name="assistant",
    help="AI assistant workbench: chat with models, serve an OpenAI-compatible API.",
    no_args_is_help=True,
    pretty_exceptions_enable=False,
    add_completion=False,
)
out = Console()
err = Console(stderr=True)

EXIT_ERROR = 1
EXIT_CONFIG = 2


def fail(message: str, code: int = EXIT_ERROR) -> NoReturn:
    """Print ``error: message`` (the message as plain text, never markup) and exit."""
    err.print(
        f"[bold red]error:[/] {escape(message)}", highlight=False, markup=True, soft_wrap=True
    )
    raise typer.Exit(code)


def plain_row(table: Table, *cells: object, end_section: bool = False) -> None:
    """Add a row whose cells are shown as they are: data (a model's answer, a file's text,
    a case id) can hold ``[...]`` that Rich would otherwise read as markup, or choke on."""
    shown = [escape(cell) if isinstance(cell, str) else cell for cell in cells]
    table.add_row(*shown, end_section=end_section)  # type: ignore[arg-type]


def settings_from_environment() -> Settings:
    from assistant.config import load_settings

    return load_settings()


def assistant_from_settings() -> Assistant:
    from assistant.agent import build_assistant

    return build_assistant(settings_from_environment())
