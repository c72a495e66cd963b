"""``assistant cache``: statistics of the shared (Redis) response cache, and clearing it."""

from __future__ import annotations

import asyncio
from typing import Annotated, Any

import typer
from rich.table import Table

from assistant.cli.common import (
    EXIT_CONFIG,
    EXIT_ERROR,
    app,
    fail,
    out,
    plain_row,
    settings_from_environment,
)

cache_app = typer.Typer(
    help="The response cache: `assistant cache stats`, `assistant cache clear [--model M]`.",
    no_args_is_help=True,
)
app.add_typer(cache_app, name="cache")


def _shared_cache() -> Any:
    from assistant.cache import response_cache

    settings = settings_from_environment().cache
    if settings.backend != "redis":
        fail(
            "the memory cache lives inside each server process: use the server's admin routes "
            "(GET /v1/cache/stats, DELETE /v1/cache) or set ASSISTANT_CACHE__BACKEND=redis",
            EXIT_CONFIG,
        )
    return response_cache(settings)


@cache_app.command("stats")
def stats() -> None:
    """What the shared cache holds (entries), and whether it answers."""
    cache = _shared_cache()

    async def describe() -> dict[str, Any]:
        try:
            return dict(await cache.describe())
        finally:
            await cache.aclose()

    described = asyncio.run(describe())
    if described["entries"] is None:
        fail("the Redis cache does not answer (check cache.redis_url)", EXIT_ERROR)
    table = Table(title="Response cache (Redis)", title_justify="left")
    table.add_column("entries", justify="right")
    table.add_column("note")
    plain_row(
        table,
        str(described["entries"]),
        "hits, misses and bytes saved are counted per server: GET /v1/cache/stats",
    )
    out.print(table)


@cache_app.command("clear")
def clear(
    model: Annotated[str | None, typer.Option(help="Only this model's entries.")] = None,
    tenant: Annotated[str | None, typer.Option(help="Only this API key's entries.")] = None,
) -> None:
    """Delete cached answers from the shared cache: all, or a model's or a tenant's."""
    from assistant.cache import key_pattern
    from assistant.errors import CacheUnavailable

    cache = _shared_cache()

    async def invalidate() -> int:
        try:
            return int(await cache.invalidate(key_pattern(tenant=tenant, model=model)))
        finally:
            await cache.aclose()

    try:
        deleted = asyncio.run(invalidate())
    except CacheUnavailable as exc:
        fail(str(exc), EXIT_ERROR)
    out.print(f"deleted {deleted} cached answers")
