"""The ``assistant`` command: the one front door to the workbench.

Heavy modules (LangChain, llama.cpp, FastAPI) are imported inside the commands, so
``assistant --help`` stays fast. Every expected failure is one line on stderr and a non-zero
exit code (2 for bad configuration or usage); never a traceback, never a secret.
"""

from __future__ import annotations

import json
import sys
from typing import TYPE_CHECKING, Annotated, NoReturn

import typer
from rich.console import Console
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


def _fail(message: str, code: int = EXIT_ERROR) -> NoReturn:
    err.print(f"[bold red]error:[/] {message}", highlight=False, markup=True, soft_wrap=True)
    raise typer.Exit(code)


def _settings() -> Settings:
    from assistant.config import load_settings

    return load_settings()


def _assistant() -> Assistant:
    from assistant.agent import build_assistant

    return build_assistant(_settings())


@app.command()
def models() -> None:
    """List every model and chain: ref, provider, whether it is available, and why not."""
    assistant = _assistant()
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
def chat(
    prompt: Annotated[
        str | None, typer.Argument(help="Ask once and exit; omit for an interactive session.")
    ] = None,
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="Model ref or chain, e.g. local:smollm2.")
    ] = None,
    system: Annotated[str | None, typer.Option("--system", "-s", help="System prompt.")] = None,
    temperature: Annotated[float | None, typer.Option(help="Sampling temperature.")] = None,
    max_tokens: Annotated[int | None, typer.Option(help="Answer length limit in tokens.")] = None,
) -> None:
    """Stream an answer to the terminal; without PROMPT, chat until an empty line or Ctrl-D."""
    from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage

    from assistant.types import SamplingParams

    assistant = _assistant()
    chat_model = assistant.chat_model(model)
    params = SamplingParams(temperature=temperature, max_tokens=max_tokens).as_kwargs()
    history: list[BaseMessage] = [SystemMessage(system)] if system else []

    def answer(text: str) -> None:
        history.append(HumanMessage(text))
        pieces: list[str] = []
        for chunk in chat_model.stream(history, **params):
            piece = chunk.text
            pieces.append(piece)
            sys.stdout.write(piece)
            sys.stdout.flush()
        sys.stdout.write("\n")
        history.append(AIMessage("".join(pieces)))

    if prompt is not None:
        answer(prompt)
        return
    name = model or assistant.settings.default_model
    err.print(f"[dim]chatting with {name}; an empty line or Ctrl-D ends[/]")
    while True:
        try:
            text = input("> ")
        except EOFError:
            break
        if not text.strip():
            break
        answer(text)


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

    settings = _settings()
    configure_logging(
        settings.log.level, json_format=settings.log.json_format, secrets=secret_values(settings)
    )
    uvicorn.run(
        "assistant.server.app:app_from_environment",
        factory=True,
        host=host or settings.server.host,
        port=port or settings.server.port,
        workers=None if reload else (workers or settings.server.workers),
        reload=reload,
        log_config=None,
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
    assistant = _assistant()
    table = Table(title="Tools", title_justify="left")
    table.add_column("name", style="bold")
    table.add_column("available")
    table.add_column("description", overflow="fold")
    for info in assistant.tools.info():
        available = "[green]yes[/]" if info.available else f"[red]no[/]: {info.reason}"
        table.add_row(info.name, available, info.description.split("\n", 1)[0])
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
        _fail(f"arguments are not valid JSON: {exc.msg} at position {exc.pos}", EXIT_CONFIG)
    if not isinstance(parsed, dict):
        _fail('arguments must be a JSON object, e.g. \'{"text": "hi"}\'', EXIT_CONFIG)
    assistant = _assistant()
    try:
        result = asyncio.run(assistant.tools.run(name, parsed))
    except ToolError as exc:
        message = str(exc)
        usage = message.startswith(("invalid arguments", "unknown tool"))
        _fail(message, EXIT_CONFIG if usage else EXIT_ERROR)
    out.print(
        result if isinstance(result, str) else json.dumps(result), highlight=False, markup=False
    )


@app.command("config")
def show_config() -> None:
    """Print the effective settings (secrets masked) and the config file in use."""
    from assistant.config import config_file_path

    settings = _settings()
    source = config_file_path()
    err.print(
        f"[dim]config file: {source if source else 'none (environment, .env and defaults)'}[/]"
    )
    out.print_json(json.dumps(settings.model_dump(mode="json")))


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
    err.print(f"[bold red]error:[/] {redact(message, secrets)}", highlight=False, soft_wrap=True)
    sys.exit(code)


if __name__ == "__main__":
    main()
