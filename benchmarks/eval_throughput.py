"""Eval-harness throughput: 1,000 cases against a fake target with 100 ms latency, 50 at a time.

The target only waits (``asyncio.sleep``), so a perfect harness takes cases x latency /
concurrency = 2.0 s; everything above that is the harness: scheduling, scoring (``contains``
on each case), progress hooks, and writing results and scores to a real DuckDB file (in a
temporary folder) in batches. A second run with a zero-latency target shows the harness's CPU
cost per case on its own.

Targets: wall time within 10% of the ideal, harness overhead under 2 ms per case.

    uv run python benchmarks/eval_throughput.py [--rounds 3] [--cases 1000] [--profile]

Writes benchmarks/results/eval_throughput.json and prints a table; ``--profile`` also prints
where the time goes (cProfile, cumulative) for one latency run.
"""

from __future__ import annotations

import argparse
import asyncio
import cProfile
import io
import pstats
import statistics
import sys
import tempfile
import time
from dataclasses import dataclass, field
from importlib.metadata import version
from pathlib import Path
from typing import Any

from _results import write_results
from rich.console import Console
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

import evals  # noqa: E402
from assistant.agent import Assistant, build_assistant  # noqa: E402
from assistant.config import Settings  # noqa: E402
from evals import Case, EvalStore, RunOptions, ScorerSpec, TargetOutput  # noqa: E402
from evals import runner as runner_module  # noqa: E402

RESULTS = ROOT / "benchmarks" / "results" / "eval_throughput.json"
LATENCY_S = 0.100
CONCURRENCY = 50
TARGET_RATIO = 1.10
TARGET_OVERHEAD_MS = 2.0


@dataclass(eq=False)
class SleepyTarget:
    """A provider that answers every case after ``latency`` seconds, and nothing else."""

    latency: float
    name: str = "fake"
    group: str = "fake"

    async def run(self, case: Case) -> TargetOutput:
        await asyncio.sleep(self.latency)
        return TargetOutput(output=f"the answer is {case.expected}", latency_s=self.latency)


@dataclass
class Writes:
    """What the store's batch writes cost during one run."""

    batches: int = 0
    rows: int = 0
    seconds: float = 0.0
    each_ms: list[float] = field(default_factory=list)


def cases(n: int) -> evals.Dataset:
    """``n`` cases, each scored by ``contains`` against its reference."""
    contains = [ScorerSpec(name="contains")]
    return evals.Dataset(
        name="throughput",
        cases=[
            Case(id=f"case-{i:05d}", input=f"question {i}", expected=str(i), scorers=contains)
            for i in range(n)
        ],
    )


async def one_run(
    data: evals.Dataset, latency: float, assistant: Assistant, folder: Path
) -> dict[str, Any]:
    """Run ``data`` once into a fresh store; wall time of ``run_eval`` and its writes."""
    path = folder / f"runs-{time.monotonic_ns()}.duckdb"
    writes = Writes()
    progressed = 0

    def on_result(result: evals.CaseResult) -> None:
        nonlocal progressed
        progressed += 1

    with EvalStore(path) as store:
        add_results = store.add_results

        def timed_add(results: Any) -> int:
            started = time.perf_counter()
            stored = add_results(results)
            elapsed = time.perf_counter() - started
            writes.batches += 1
            writes.rows += stored
            writes.seconds += elapsed
            writes.each_ms.append(elapsed * 1000)
            return stored

        store.add_results = timed_add  # type: ignore[method-assign]
        started = time.perf_counter()
        summary = await evals.run_eval(
            data,
            [SleepyTarget(latency)],
            store=store,
            assistant=assistant,
            make_scorer=evals.scorer_factory(assistant),
            options=RunOptions(concurrency={"fake": CONCURRENCY}),
            on_result=on_result,
        )
        wall = time.perf_counter() - started
        stored = store.run(summary.run_id).n_results
    if summary.status != "completed" or stored != len(data) or progressed != len(data):
        raise RuntimeError(f"run incomplete: {summary}, {stored} stored")
    ideal = len(data) * latency / CONCURRENCY
    return {
        "wall_s": wall,
        "ideal_s": ideal,
        "ratio": wall / ideal if ideal else None,
        "overhead_ms_per_case": (wall - ideal) / len(data) * 1000,
        "write_batches": writes.batches,
        "write_s": writes.seconds,
        "write_ms_per_batch_p50": statistics.median(writes.each_ms) if writes.each_ms else 0.0,
        "errors": summary.errors,
    }


def profile_run(data: evals.Dataset, assistant: Assistant, folder: Path, top: int) -> str:
    """cProfile of one latency run, the ``top`` functions by cumulative time."""
    profiler = cProfile.Profile()
    profiler.enable()
    asyncio.run(one_run(data, LATENCY_S, assistant, folder))
    profiler.disable()
    text = io.StringIO()
    stats = pstats.Stats(profiler, stream=text).strip_dirs().sort_stats("cumulative")
    stats.print_stats(top)
    stats.sort_stats("tottime").print_stats(top)
    return text.getvalue()


def _median(rounds: list[dict[str, Any]], key: str) -> float:
    return float(statistics.median(r[key] for r in rounds))


def main() -> None:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--rounds", type=int, default=3)
    parser.add_argument("--cases", type=int, default=1000)
    parser.add_argument("--profile", action="store_true", help="print a cProfile of one run")
    parser.add_argument("--no-write", action="store_true", help="do not write the JSON results")
    args = parser.parse_args()
    console = Console()

    data = cases(args.cases)
    assistant = build_assistant(Settings())
    latency_rounds: list[dict[str, Any]] = []
    zero_rounds: list[dict[str, Any]] = []
    with tempfile.TemporaryDirectory(prefix="eval-throughput-") as tmp:
        folder = Path(tmp)
        asyncio.run(one_run(cases(100), 0.0, assistant, folder))  # warm-up: imports, scorers
        with console.status("measuring") as status:
            for index in range(args.rounds):
                status.update(f"round {index + 1}/{args.rounds}: 100 ms latency")
                latency_rounds.append(asyncio.run(one_run(data, LATENCY_S, assistant, folder)))
                status.update(f"round {index + 1}/{args.rounds}: zero latency")
                zero_rounds.append(asyncio.run(one_run(data, 0.0, assistant, folder)))
        profile = profile_run(data, assistant, folder, 25) if args.profile else None
    assistant.close()

    wall = _median(latency_rounds, "wall_s")
    ideal = args.cases * LATENCY_S / CONCURRENCY
    ratio = wall / ideal
    overhead = (wall - ideal) / args.cases * 1000
    zero_ms = _median(zero_rounds, "wall_s") / args.cases * 1000

    table = Table(
        title=(
            f"{args.cases} cases, {LATENCY_S * 1000:.0f} ms latency, concurrency {CONCURRENCY}, "
            f"contains scorer, DuckDB store; median of {args.rounds} rounds"
        ),
        title_justify="left",
    )
    for column in (
        "run",
        "wall s",
        "ideal s",
        "wall/ideal",
        "overhead ms/case",
        "writes",
        "write s",
    ):
        table.add_column(column, justify="left" if column == "run" else "right")
    for name, rounds in (("100 ms latency", latency_rounds), ("zero latency", zero_rounds)):
        r_wall = _median(rounds, "wall_s")
        r_ideal = rounds[0]["ideal_s"]
        table.add_row(
            name,
            f"{r_wall:.3f}",
            f"{r_ideal:.3f}",
            f"{r_wall / r_ideal:.3f}" if r_ideal else "—",
            f"{(r_wall - r_ideal) / args.cases * 1000:.3f}",
            f"{_median(rounds, 'write_batches'):.0f}",
            f"{_median(rounds, 'write_s'):.3f}",
        )
    console.print(table)
    verdict_ratio = "meets" if ratio <= TARGET_RATIO else "MISSES"
    verdict_overhead = "meets" if overhead < TARGET_OVERHEAD_MS else "MISSES"
    console.print(
        f"wall {wall:.3f} s vs ideal {ideal:.3f} s: {ratio:.1%} of ideal "
        f"({verdict_ratio} the <= {TARGET_RATIO:.0%} target)"
    )
    console.print(
        f"harness overhead {overhead:.3f} ms per case ({verdict_overhead} the "
        f"< {TARGET_OVERHEAD_MS:g} ms target); CPU per case with a zero-latency target "
        f"{zero_ms:.3f} ms"
    )
    if profile is not None:
        console.print(profile, markup=False, highlight=False)

    if args.no_write:
        return
    write_results(
        RESULTS,
        {
            "versions": {"duckdb": version("duckdb"), "pydantic": version("pydantic")},
            "settings": {
                "cases": args.cases,
                "latency_ms": LATENCY_S * 1000,
                "concurrency": CONCURRENCY,
                "rounds": args.rounds,
                "scorers": ["contains"],
                "flush_every": runner_module.FLUSH_EVERY,
                "flush_seconds": runner_module.FLUSH_SECONDS,
            },
            "latency_runs": {"median_wall_s": wall, "rounds": latency_rounds},
            "zero_latency_runs": {"median_ms_per_case": zero_ms, "rounds": zero_rounds},
            "ideal_s": ideal,
            "wall_over_ideal": ratio,
            "overhead_ms_per_case": overhead,
            "targets": {
                "wall_over_ideal": TARGET_RATIO,
                "overhead_ms_per_case": TARGET_OVERHEAD_MS,
            },
            "meets_targets": ratio <= TARGET_RATIO and overhead < TARGET_OVERHEAD_MS,
        },
    )
    console.print(f"written to {RESULTS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
