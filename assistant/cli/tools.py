"""``assistant tools``: list the tools, run one with JSON arguments."""

from __future__ import annotations

import json
import sys
from typing import Annotated

import typer
from rich.table import Table

from assistant.cli.common import (
    EXIT_CONFIG,
    EXIT_ERROR,
    app,
    assistant_from_settings,
    fail,
    out,
    plain_row,
)

tools_app = typer.Typer(
    help='List the tools, or run one: `assistant tools run calculator \'{"expression": "2+2"}\'`.',
    invoke_without_command=True,
    no_args_is_help=False,
)
app.add_typer(tools_app, name="tools")


@tools_app.callback()
def tools(ctx: typer.Context) -> None:
    """List every tool: name, whether it is available (and why not), description."""
    if ctx.invoked_subcommand is not None:
        return
    assistant = assistant_from_settings()
    table = Table(title="Tools", title_justify="left")
    table.add_column("name", style="bold")
    table.add_column("available")
    table.add_column("description", overflow="fold")
    for info in assistant.tools.info():
        available = "[green]yes[/]" if info.available else f"[red]no[/]: {info.reason}"
        plain_row(table, info.name, available, info.description.split("\n", 1)[0])
    out.print(table)


@tools_app.command("run")
def run_tool(
    name: Annotated[str, typer.Argument(help="Tool name, e.g. calculator.")],
    arguments: Annotated[
        str, typer.Argument(help='Arguments as a JSON object, e.g. \'{"text": "hi"}\'.')
    ] = "{}",
) -> None:
    """Run one tool with JSON arguments and print its result."""
    import asyncio

    from assistant.errors import ToolError

    try:
        parsed = json.loads(arguments)
    except json.JSONDecodeError as exc:
        fail(f"arguments are not valid JSON: {exc.msg} at position {exc.pos}", EXIT_CONFIG)
    if not isinstance(parsed, dict):
        fail('arguments must be a JSON object, e.g. \'{"text": "hi"}\'', EXIT_CONFIG)
    assistant = assistant_from_settings()
    try:
        result = asyncio.run(assistant.tools.run(name, parsed))
    except ToolError as exc:
        message = str(exc)
        usage = message.startswith(("invalid arguments", "unknown tool"))
        fail(message, EXIT_CONFIG if usage else EXIT_ERROR)
    # plain stdout, not rich: the result must stay pipeable (no wrapping, no markup)
    sys.stdout.write((result if isinstance(result, str) else json.dumps(result)) + "\n")
