"""The ``assistant`` command: the one front door to the workbench.

Heavy modules (LangChain, llama.cpp, FastAPI) are imported inside the commands, so
``assistant --help`` stays fast. Every expected failure is one line on stderr and a non-zero
exit code (2 for bad configuration or usage); never a traceback, never a secret.
"""

from __future__ import annotations

import contextlib
import json
import os
import sys
import tempfile
from typing import Annotated, NoReturn

import typer
from rich.markup import escape
from rich.table import Table

from assistant.cli.common import (
    EXIT_CONFIG,
    EXIT_ERROR,
    app,
    assistant_from_settings,
    err,
    out,
    settings_from_environment,
)


@app.command()
def models() -> None:
    """List every model and chain: ref, provider, whether it is available, and why not."""
    assistant = assistant_from_settings()
    table = Table(title="Models", title_justify="left")
    table.add_column("ref", style="bold")
    table.add_column("provider")
    table.add_column("available")
    table.add_column("why not", overflow="fold")
    for info in assistant.list_models():
        table.add_row(
            info.id,
            info.provider,
            "[green]yes[/]" if info.available else "[red]no[/]",
            info.reason or "",
        )
    out.print(table)


@app.command()
def serve(
    host: Annotated[
        str | None, typer.Option(help="Interface (default from settings: 127.0.0.1).")
    ] = None,
    port: Annotated[
        int | None, typer.Option(help="TCP port (default from settings: 8000).")
    ] = None,
    workers: Annotated[int | None, typer.Option(help="Worker processes.")] = None,
    reload: Annotated[bool, typer.Option(help="Restart on code changes (development).")] = False,
) -> None:
    """Serve the OpenAI-compatible API (docs at /docs)."""
    import uvicorn

    from assistant.config import secret_values
    from assistant.log import configure_logging

    settings = settings_from_environment()
    configure_logging(
        settings.log.level, json_format=settings.log.json_format, secrets=secret_values(settings)
    )
    processes = None if reload else (workers or settings.server.workers)
    shared = _shared_metrics_dir(processes or 1) if settings.metrics.enabled else None
    with shared or contextlib.nullcontext():
        uvicorn.run(
            "assistant.server.app:app_from_environment",
            factory=True,
            host=host or settings.server.host,
            port=port or settings.server.port,
            workers=processes,
            reload=reload,
            log_config=None,
        )


def _shared_metrics_dir(workers: int) -> tempfile.TemporaryDirectory[str] | None:
    """Where worker processes pool their metrics (prometheus-client's multiprocess mode).

    A directory the operator named in ``PROMETHEUS_MULTIPROC_DIR`` is emptied of a previous
    run's files; with several workers and none named, a temporary one is made (and removed
    at exit). Set before any worker starts, so each worker's metrics library sees it.
    """
    from assistant.metrics import ENV, multiprocess_dir, prepare_multiprocess_dir

    named = multiprocess_dir()
    if named is not None:
        prepare_multiprocess_dir(named)
        return None
    if workers <= 1:
        return None
    made = tempfile.TemporaryDirectory(prefix="assistant-metrics-")
    os.environ[ENV] = made.name
    return made


@app.command("config")
def show_config() -> None:
    """Print the effective settings (secrets masked) and the config file in use."""
    from assistant.config import config_file_path, secret_values
    from assistant.log import redact

    settings = settings_from_environment()
    source = config_file_path()
    err.print(
        f"[dim]config file: {source if source else 'none (environment, .env and defaults)'}[/]"
    )
    # keys are SecretStr (dumped masked); passwords inside URLs (Redis) are plain strings
    dumped = json.dumps(settings.model_dump(mode="json"))
    out.print_json(redact(dumped, secret_values(settings)))


@app.command()
def profiles() -> None:
    """List the agent profiles: model, tools and limits (each is served as a model)."""
    assistant = assistant_from_settings()
    table = Table(title="Agent profiles", title_justify="left")
    for column in ("name", "model", "tools", "limits", "available"):
        table.add_column(column, overflow="fold")
    for info in assistant.list_profiles():
        profile = assistant.settings.profiles[info.id]
        tools = ", ".join(profile.tools) if profile.tools is not None else "all"
        limits = f"{profile.max_model_calls} model / {profile.max_tool_calls} tool calls"
        available = "[green]yes[/]" if info.available else f"[red]no[/]: {info.reason}"
        table.add_row(info.id, profile.model, tools, limits, available)
    out.print(table)


# the command groups register themselves on ``app``
from assistant.cli import cache as _cache  # noqa: E402, F401
from assistant.cli import chat as _chat  # noqa: E402, F401
from assistant.cli import eval_import as _eval_import  # noqa: E402, F401
from assistant.cli import evals as _evals  # noqa: E402, F401
from assistant.cli import kb as _kb  # noqa: E402, F401
from assistant.cli import keys as _keys  # noqa: E402, F401
from assistant.cli import tools as _tools  # noqa: E402, F401


def main() -> None:
    """Console entry point: run the app, turning expected failures into one line."""
    from assistant.errors import AssistantError, ConfigError

    try:
        code = app(standalone_mode=False)  # returns the code of a typer.Exit
    except ConfigError as exc:
        _exit_with(str(exc), EXIT_CONFIG)
    except AssistantError as exc:
        _exit_with(str(exc), EXIT_ERROR)
    except typer.Exit as exc:
        sys.exit(exc.exit_code)
    except KeyboardInterrupt:
        sys.exit(130)
    except Exception as exc:  # the last line of defence: never a traceback
        show = getattr(exc, "show", None)
        if callable(show) and hasattr(exc, "exit_code"):  # click usage errors: message and usage
            show()
            sys.exit(int(exc.exit_code))
        _exit_with(f"unexpected {type(exc).__name__}: {exc}", EXIT_ERROR)
    if isinstance(code, int) and code:
        sys.exit(code)


def _exit_with(message: str, code: int) -> NoReturn:
    from assistant.log import redact

    secrets: list[str] = []
    try:
        from assistant.config import load_settings, secret_values

        secrets = secret_values(load_settings())
    # redaction is best effort when the settings themselves fail to load
    except Exception:  # noqa: S110  # nosec B110
        pass
    shown = escape(redact(message, secrets))  # plain text: a message may hold "[...]"
    err.print(f"[bold red]error:[/] {shown}", highlight=False, soft_wrap=True)
    sys.exit(code)


if __name__ == "__main__":
    main()
