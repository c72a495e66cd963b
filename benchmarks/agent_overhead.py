"""Agent orchestration overhead per turn: ``create_agent`` plus the workbench's middleware,
against the same zero-latency scripted model called directly.

Two turn shapes:

- ``tool``: the model calls ``echo``, then answers (2 model calls, 1 tool call);
- ``direct``: the model answers at once (1 model call).

Paths, each with its own scripted model (so every path sees the same script):

- ``model (raw)``: the scripted model itself, ``await model.bind_tools(tools).ainvoke(...)``,
  as many times as the turn has model calls: the floor;
- ``model (provider)``: the same through the provider layer the agent gets
  (``assistant.chat_model(ref)``: retries, breaker, error mapping), tools bound;
- ``model + tool``: the provider-layer calls plus ``echo.ainvoke`` for the tool turn: the work
  the agent cannot avoid;
- ``agent.arun``: ``Assistant.agent(profile).arun(question)``;
- ``agent.astream``: the same turn consumed through ``astream`` (what the API serves).

Overhead = agent minus ``model + tool`` (p50 and p95 per turn). Paths are interleaved turn by
turn, after a warm-up, so drift on the machine hits all of them alike.

    uv run python benchmarks/agent_overhead.py [--turns 200] [--warmup 20]

Writes benchmarks/results/agent_overhead.json and prints a table (milliseconds per turn).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import sys
import time
from collections.abc import Awaitable, Callable
from dataclasses import dataclass
from importlib.metadata import version
from pathlib import Path
from typing import Any

from _results import write_results
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from langchain_core.messages import (  # noqa: E402
    AIMessage,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolMessage,
)

from assistant.config import DEFAULT_SYSTEM_PROMPT, ProfileSettings  # noqa: E402
from tests.fakes.scripted import (  # noqa: E402
    ScriptedChatModel,
    ScriptedProvider,
    call_tools,
    reply,
    scripted_assistant,
    tool_call,
)

RESULTS = ROOT / "benchmarks" / "results" / "agent_overhead.json"
PROFILE = "bench"
QUESTION = "Please echo hello"
ANSWER = "The echo said hello, as you asked."

Turn = Callable[[], Awaitable[None]]


@dataclass
class Case:
    """A turn shape: the model's script, and how many model and tool calls a turn makes."""

    name: str
    script: list[AIMessage]
    model_calls: int
    tool_calls: int


CASES = [
    Case(
        "tool",
        [call_tools(tool_call("echo", {"text": "hello"})), reply(ANSWER)],
        model_calls=2,
        tool_calls=1,
    ),
    Case("direct", [reply(ANSWER)], model_calls=1, tool_calls=0),
]
PATHS = ["model (raw)", "model (provider)", "model + tool", "agent.arun", "agent.astream"]


def _setup(case: Case) -> tuple[Any, ScriptedChatModel]:
    """A fresh assistant whose profile runs a fresh scripted model cycling ``case.script``."""
    model = ScriptedChatModel(script=list(case.script), cycle=True)
    assistant = scripted_assistant(
        ScriptedProvider("bench", model),
        profiles={PROFILE: ProfileSettings(model="bench:m")},
    )
    return assistant, model


def _conversations(case: Case) -> list[list[BaseMessage]]:
    """What the agent sends the model on each call of a turn."""
    system, question = SystemMessage(DEFAULT_SYSTEM_PROMPT), HumanMessage(QUESTION)
    if case.tool_calls == 0:
        return [[system, question]]
    call = AIMessage("", tool_calls=[{"name": "echo", "args": {"text": "hello"}, "id": "c1"}])
    return [[system, question], [system, question, call, ToolMessage("hello", tool_call_id="c1")]]


def _turns(case: Case) -> dict[str, tuple[Turn, ScriptedChatModel]]:
    """One coroutine factory per path, each over its own scripted model."""
    turns: dict[str, tuple[Turn, ScriptedChatModel]] = {}
    conversations = _conversations(case)

    assistant, raw = _setup(case)
    tools = assistant.tools.select(None)

    async def raw_turn() -> None:
        bound = raw.bind_tools(tools)
        for messages in conversations:
            await bound.ainvoke(messages)

    turns["model (raw)"] = (raw_turn, raw)

    assistant, wrapped_model = _setup(case)
    wrapped = assistant.chat_model("bench:m")

    async def provider_turn() -> None:
        bound = wrapped.bind_tools(tools)
        for messages in conversations:
            await bound.ainvoke(messages)

    turns["model (provider)"] = (provider_turn, wrapped_model)

    assistant, with_tool_model = _setup(case)
    with_tool = assistant.chat_model("bench:m")
    echo = assistant.tools.get("echo")

    async def model_and_tool_turn() -> None:
        bound = with_tool.bind_tools(tools)
        for index, messages in enumerate(conversations):
            await bound.ainvoke(messages)
            if index < case.tool_calls:
                await echo.ainvoke({"text": "hello"})

    turns["model + tool"] = (model_and_tool_turn, with_tool_model)

    assistant, arun_model = _setup(case)
    arun_agent = assistant.agent(PROFILE)

    async def arun_turn() -> None:
        result = await arun_agent.arun(QUESTION)
        if result.answer != ANSWER:
            raise RuntimeError(f"unexpected answer {result.answer!r}")

    turns["agent.arun"] = (arun_turn, arun_model)

    assistant, astream_model = _setup(case)
    astream_agent = assistant.agent(PROFILE)

    async def astream_turn() -> None:
        async for _ in astream_agent.astream(QUESTION):
            pass

    turns["agent.astream"] = (astream_turn, astream_model)
    return turns


async def _measure(case: Case, turns: int, warmup: int) -> dict[str, list[float]]:
    paths = _turns(case)
    samples: dict[str, list[float]] = {path: [] for path in PATHS}
    for round_index in range(warmup + turns):
        # rotate the order so no path always runs first (or right after another)
        order = PATHS[round_index % len(PATHS) :] + PATHS[: round_index % len(PATHS)]
        for path in order:
            turn, model = paths[path]
            model.calls.clear()  # records grow otherwise; cleared outside the timed region
            model.bindings.clear()
            started = time.perf_counter_ns()
            await turn()
            elapsed_ms = (time.perf_counter_ns() - started) / 1e6
            if len(model.calls) != case.model_calls:
                raise RuntimeError(
                    f"{path}: {len(model.calls)} model calls, not {case.model_calls}"
                )
            if round_index >= warmup:
                samples[path].append(elapsed_ms)
    return samples


def _percentile(values: list[float], fraction: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))]


def _stats(values: list[float]) -> dict[str, float]:
    return {
        "p50_ms": statistics.median(values),
        "p95_ms": _percentile(values, 0.95),
        "mean_ms": statistics.fmean(values),
        "min_ms": min(values),
    }


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--turns", type=int, default=200, help="measured turns per path")
    parser.add_argument("--warmup", type=int, default=20, help="unmeasured turns first")
    args = parser.parse_args()
    console = Console(width=max(100, Console().width))

    results: dict[str, Any] = {}
    with console.status("measuring"):
        for case in CASES:
            samples = asyncio.run(_measure(case, args.turns, args.warmup))
            stats = {path: _stats(values) for path, values in samples.items()}
            floor = stats["model + tool"]
            results[case.name] = {
                "model_calls": case.model_calls,
                "tool_calls": case.tool_calls,
                "paths": stats,
                "overhead_ms": {
                    path: {
                        "p50": stats[path]["p50_ms"] - floor["p50_ms"],
                        "p95": stats[path]["p95_ms"] - floor["p95_ms"],
                    }
                    for path in ("agent.arun", "agent.astream")
                },
            }

    table = Table(
        title=f"Agent turn, zero-latency scripted model: {args.turns} turns, ms per turn",
        caption="tool: 2 model calls + 1 echo call; direct: 1 model call. "
        "+p50/+p95: agent minus 'model + tool'.",
    )
    for column in ("turn", "path", "p50", "p95", "mean", "+p50", "+p95"):
        table.add_column(column, justify="left" if column in ("turn", "path") else "right")
    for case in CASES:
        result = results[case.name]
        for path in PATHS:
            stats = result["paths"][path]
            overhead = result["overhead_ms"].get(path)
            table.add_row(
                case.name if path == PATHS[0] else "",
                path,
                f"{stats['p50_ms']:.2f}",
                f"{stats['p95_ms']:.2f}",
                f"{stats['mean_ms']:.2f}",
                f"{overhead['p50']:.2f}" if overhead else "",
                f"{overhead['p95']:.2f}" if overhead else "",
                end_section=path == PATHS[-1],
            )
    console.print(table)
    for case in CASES:
        overhead = results[case.name]["overhead_ms"]["agent.arun"]["p50"]
        per_call = overhead / case.model_calls
        console.print(
            f"{case.name}: the agent adds {overhead:.2f} ms per turn (p50), "
            f"{per_call:.2f} ms per model call"
        )

    write_results(
        RESULTS,
        {
            "versions": {
                name: version(name) for name in ("langchain", "langchain-core", "langgraph")
            },
            "settings": {
                "turns": args.turns,
                "warmup": args.warmup,
                "question": QUESTION,
                "profile": "defaults (6 model calls, 8 tool calls, 6 tools offered)",
            },
            "cases": results,
        },
    )
    console.print(f"written to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
