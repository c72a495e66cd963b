"""Per-call latency of the ``calculator`` tool, and why its worker processes are persistent.

Paths measured, on the same simple expressions (``17 * 23 + 4``, ``sqrt(2) ** 3``, ...):

- ``in_process``: ``calculator_eval.compute`` directly (no process, no time limit): the floor;
- ``persistent_sync``: ``calculator.evaluate`` (a persistent worker over a pipe);
- ``persistent_async``: ``calculator.aevaluate`` from an event loop (adds the thread hop);
- ``tool_ainvoke``: the LangChain tool as the agent calls it (adds validation and callbacks);
- ``process_per_call``: a fresh forkserver worker started, asked once and killed per call,
  the design the persistent pool replaces;
- ``cold_start``: the first call of a fresh interpreter (forkserver + worker start), in a
  subprocess, a few times.

    uv run python benchmarks/calculator.py [--calls 200] [--per-call 30] [--cold 3]

Writes benchmarks/results/calculator.json and prints a table (p50 / p99 in milliseconds).
"""

from __future__ import annotations

import argparse
import asyncio
import statistics
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

from _results import write_results
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

# The assistant is imported inside main(), not here: each new worker process re-imports the
# parent's __main__ module (multiprocessing's spawn/forkserver rule), and a top-level import
# of the tools would add LangChain's 0.7 s to every process_per_call sample. Entry points
# (the CLI, the server) import lazily for the same reason.

RESULTS = ROOT / "benchmarks" / "results" / "calculator.json"
EXPRESSIONS = [
    "17 * 23 + 4",
    "sqrt(2) ** 3",
    "2^10 / (3 + 5)",
    "1234 * 5678",
    "round(3.14159 * 2, 3)",
    "factorial(20) // 7",
    "sin(pi / 6) + log(100, 10)",
    "(1 + 2) * (3 + 4) - 5 % 3",
]
COLD_SCRIPT = """
import time
started = time.perf_counter()
from assistant.tools.calculator import evaluate
imported = time.perf_counter()
evaluate("17 * 23 + 4")
print((imported - started) * 1000, (time.perf_counter() - imported) * 1000)
"""


def _percentiles(samples_s: list[float]) -> dict[str, float]:
    ordered = sorted(samples_s)

    def at(fraction: float) -> float:
        return ordered[min(len(ordered) - 1, round(fraction * (len(ordered) - 1)))] * 1000

    return {
        "calls": len(ordered),
        "p50_ms": at(0.50),
        "p99_ms": at(0.99),
        "mean_ms": statistics.fmean(ordered) * 1000,
        "max_ms": ordered[-1] * 1000,
    }


def _timed(call: Callable[[str], Any], calls: int) -> list[float]:
    samples = []
    for index in range(calls):
        expression = EXPRESSIONS[index % len(EXPRESSIONS)]
        started = time.perf_counter()
        call(expression)
        samples.append(time.perf_counter() - started)
    return samples


async def _timed_async(call: Callable[[str], Any], calls: int) -> list[float]:
    samples = []
    for index in range(calls):
        expression = EXPRESSIONS[index % len(EXPRESSIONS)]
        started = time.perf_counter()
        await call(expression)
        samples.append(time.perf_counter() - started)
    return samples


def _process_per_call(expression: str) -> str:
    from assistant.tools import calculator

    worker = calculator._Worker(calculator._context())
    try:
        worker.wait_ready(10.0)
        answer = worker.ask(("eval", expression), 2.0)
        assert answer is not None and answer[0] == "ok"
        return answer[1]
    finally:
        worker.stop()


def _cold_starts(rounds: int) -> dict[str, float]:
    imports, first_calls = [], []
    for _ in range(rounds):
        done = subprocess.run(
            [sys.executable, "-c", COLD_SCRIPT],
            capture_output=True,
            text=True,
            check=True,
            cwd=ROOT,
        )
        imported_ms, first_ms = (float(part) for part in done.stdout.split())
        imports.append(imported_ms)
        first_calls.append(first_ms)
    return {
        "rounds": rounds,
        "import_ms_median": statistics.median(imports),
        "first_call_ms_median": statistics.median(first_calls),
    }


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--calls", type=int, default=200, help="calls per persistent path")
    parser.add_argument("--per-call", type=int, default=30, help="calls of process_per_call")
    parser.add_argument("--cold", type=int, default=3, help="fresh interpreters for cold_start")
    args = parser.parse_args()

    from assistant.config import Settings
    from assistant.tools import calculator
    from assistant.tools.calculator_eval import compute

    calculator.evaluate("0")  # the pool's first worker; cold starts are measured separately
    (tool,) = calculator.create_tools(Settings())
    results: dict[str, dict[str, float]] = {
        "in_process": _percentiles(_timed(compute, args.calls)),
        "persistent_sync": _percentiles(_timed(calculator.evaluate, args.calls)),
        "persistent_async": _percentiles(
            asyncio.run(_timed_async(calculator.aevaluate, args.calls))
        ),
        "tool_ainvoke": _percentiles(
            asyncio.run(_timed_async(lambda text: tool.ainvoke({"expression": text}), args.calls))
        ),
        "process_per_call": _percentiles(_timed(_process_per_call, args.per_call)),
    }
    cold = _cold_starts(args.cold)
    calculator.shutdown()

    write_results(
        RESULTS,
        {
            "settings": {
                "calls": args.calls,
                "per_call": args.per_call,
                "cold": args.cold,
                "max_workers": calculator.MAX_WORKERS,
                "expressions": EXPRESSIONS,
            },
            "latency": results,
            "cold_start": cold,
        },
    )

    console = Console()
    table = Table(title="calculator: per-call latency (ms)", title_justify="left")
    for column in ("path", "calls", "p50", "p99", "max"):
        table.add_column(column, justify="left" if column == "path" else "right")
    for name, row in results.items():
        table.add_row(
            name,
            str(int(row["calls"])),
            f"{row['p50_ms']:.3f}",
            f"{row['p99_ms']:.3f}",
            f"{row['max_ms']:.3f}",
        )
    console.print(table)
    console.print(
        f"cold start (fresh interpreter, median of {cold['rounds']}): importing the tool "
        f"{cold['import_ms_median']:.0f} ms, first call {cold['first_call_ms_median']:.0f} ms"
    )
    console.print(f"written to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
