"""``assistant keys``: make API keys for the server, and list the configured ones."""

from __future__ import annotations

import json
from typing import Annotated

import typer
from rich.table import Table

from assistant.cli.common import EXIT_CONFIG, app, err, fail, out, settings_from_environment

keys_app = typer.Typer(
    help="API keys of the server: `assistant keys new alice` prints a key and its config entry.",
    invoke_without_command=True,
    no_args_is_help=False,
)
app.add_typer(keys_app, name="keys")


@keys_app.callback()
def keys(ctx: typer.Context) -> None:
    """List the configured keys by name, with their models and limits (never the keys)."""
    if ctx.invoked_subcommand is not None:
        return
    auth = settings_from_environment().server.auth
    table = Table(title="API keys" if auth.enabled else "API keys (none: auth is off)")
    table.add_column("name", style="bold")
    table.add_column("models")
    table.add_column("requests/min", justify="right")
    table.add_column("tokens/min", justify="right")
    for key in auth.keys:
        table.add_row(
            key.name,
            ", ".join(key.models) if key.models is not None else "all",
            str(key.requests_per_minute or "—"),
            str(key.tokens_per_minute or "—"),
        )
    if auth.admin_sha256:
        table.add_row("(admin)", "all", "—", "—")
    out.print(table)


@keys_app.command("new")
def new(
    name: Annotated[str, typer.Argument(help="Who the key is for (logs show this name).")],
    model: Annotated[
        list[str] | None, typer.Option("--model", help="Allowed model or profile (repeatable).")
    ] = None,
    rpm: Annotated[int | None, typer.Option(help="Requests per minute.", min=1)] = None,
    tpm: Annotated[int | None, typer.Option(help="Tokens per minute.", min=1)] = None,
    admin: Annotated[bool, typer.Option(help="Make the admin key instead.")] = False,
) -> None:
    """Make a key: the key goes to stdout once (give it to its holder), the config entry that
    stores only its SHA-256 to stderr."""
    from assistant.server.auth import hash_key, new_key

    if not name.strip():
        fail("a key needs a name", EXIT_CONFIG)
    key = new_key()
    digest = hash_key(key)
    if admin:
        entry = f'[server.auth]\nadmin_sha256 = "{digest}"'
    else:
        fields: dict[str, object] = {"name": name, "sha256": digest}
        if model:
            fields["models"] = list(model)
        if rpm:
            fields["requests_per_minute"] = rpm
        if tpm:
            fields["tokens_per_minute"] = tpm
        lines = [f"{field} = {json.dumps(value)}" for field, value in fields.items()]
        entry = "[[server.auth.keys]]\n" + "\n".join(lines)
    err.print("Add this to assistant.toml (the key itself is not stored anywhere):\n")
    err.print(entry, highlight=False, markup=False)
    err.print("\nThe key (shown once):", highlight=False)
    print(key)
