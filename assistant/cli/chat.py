"""``assistant chat``: stream answers from a model, or from an agent with its tool calls shown.

One event loop serves the whole session (input is read in a worker thread), so providers'
pooled async clients stay valid from turn to turn. ``--session ID`` continues a conversation
across invocations: CLI sessions are JSON files under ``sessions.path``.
"""

from __future__ import annotations

import asyncio
import json
import sys
from typing import TYPE_CHECKING, Annotated, Any

import typer

from assistant.cli.common import app, assistant_from_settings, err

if TYPE_CHECKING:
    from langchain_core.messages import BaseMessage

    from assistant.agent import Agent, Assistant


def _write(text: str) -> None:
    sys.stdout.write(text)
    sys.stdout.flush()


async def _model_turn(
    assistant: Assistant, model: str | None, history: list[BaseMessage], params: dict[str, Any]
) -> None:
    from langchain_core.messages import AIMessage

    from assistant.providers import open_stream

    pieces: list[str] = []
    async for chunk in open_stream(assistant.chat_model(model), history, params):
        pieces.append(chunk.text)
        _write(chunk.text)
    _write("\n")
    history.append(AIMessage("".join(pieces)))


async def _agent_turn(agent: Agent, text: str, session: str | None, show_tools: bool) -> None:
    from assistant.agent import AgentResult
    from assistant.types import TextDelta, ToolFinished, ToolStarted

    async for event in agent.astream(text, session_id=session):
        if isinstance(event, TextDelta):
            _write(event.text)
        elif isinstance(event, ToolStarted) and show_tools:
            err.print(
                f"[cyan]→ {event.name}({json.dumps(event.args, ensure_ascii=False)})[/]",
                highlight=False,
            )
        elif isinstance(event, ToolFinished) and show_tools:
            style = "red" if event.error else "cyan"
            err.print(
                f"[{style}]← {event.name}: {event.result[:300]}[/]", highlight=False, markup=True
            )
        elif isinstance(event, AgentResult):
            _write("\n")
            if event.stopped:
                err.print(f"[yellow]stopped: {event.stopped}[/]")


async def _session(
    prompt: str | None,
    model: str | None,
    agent_name: str | None,
    session: str | None,
    system: str | None,
    params: dict[str, Any],
    show_tools: bool,
) -> None:
    from langchain_core.messages import HumanMessage, SystemMessage

    from assistant.agent.sessions import FileSessionStore

    assistant = assistant_from_settings()
    try:
        agent = None
        if agent_name is not None and assistant.settings.sessions.redis_url is None:
            assistant.sessions = FileSessionStore(assistant.settings.sessions.folder())
            agent = assistant.agent(agent_name)
        history: list[BaseMessage] = [SystemMessage(system)] if system else []

        async def turn(text: str) -> None:
            if agent is not None:
                await _agent_turn(agent, text, session, show_tools)
            else:
                history.append(HumanMessage(text))
                await _model_turn(assistant, model, history, params)

        if prompt is not None:
            await turn(prompt)
            return
        name = agent_name or model or assistant.settings.default_model
        err.print(f"[dim]chatting with {name}; an empty line or Ctrl-D ends[/]")
        while True:
            try:
                text = await asyncio.to_thread(input, "> ")
            except EOFError:
                break
            if not text.strip():
                break
            await turn(text)
    finally:
        await assistant.aclose()


@app.command()
def chat(
    prompt: Annotated[
        str | None, typer.Argument(help="Ask once and exit; omit for an interactive session.")
    ] = None,
    model: Annotated[
        str | None, typer.Option("--model", "-m", help="Model ref or chain, e.g. local:smollm2.")
    ] = None,
    agent: Annotated[
        str | None,
        typer.Option(
            "--agent", "-a", help="Agent profile, e.g. assistant: tools are shown as they run."
        ),
    ] = None,
    session: Annotated[
        str | None,
        typer.Option(
            "--session", help="Continue (or start) the conversation with this id (agents)."
        ),
    ] = None,
    system: Annotated[
        str | None, typer.Option("--system", "-s", help="System prompt (models).")
    ] = None,
    temperature: Annotated[
        float | None, typer.Option(help="Sampling temperature (models).")
    ] = None,
    max_tokens: Annotated[
        int | None, typer.Option(help="Answer length limit in tokens (models).")
    ] = None,
    quiet_tools: Annotated[
        bool, typer.Option("--quiet-tools", help="Do not print tool calls.")
    ] = False,
) -> None:
    """Stream an answer to the terminal; without PROMPT, chat until an empty line or Ctrl-D."""
    from assistant.cli.common import fail
    from assistant.types import SamplingParams

    if agent is not None and model is not None:
        fail("give --model or --agent, not both", code=2)
    if session is not None and agent is None:
        fail("--session needs --agent (plain models keep history only within one run)", code=2)
    params = SamplingParams(temperature=temperature, max_tokens=max_tokens).as_kwargs()
    asyncio.run(_session(prompt, model, agent, session, system, params, show_tools=not quiet_tools))
