"""BFCL accuracy of the embedded model: the five bundled categories, each a stored eval run.

Runs ``datasets/bfcl/<category>.jsonl`` against a target (default ``local:smollm2``: raw, its
grammar-constrained tool path) through the eval harness, one run per category, into a DuckDB
store. A category whose run stopped part-way (Ctrl-C, a killed session) is resumed, not
restarted; a completed one is kept. Then it writes ``results/bfcl_local.json`` and prints a
Markdown table: per category, cases done, accuracy with its 95% interval (Wilson), target
errors, and the time the cases took (the sum of their latencies: with one case in flight, the
wall time of the work, whatever pauses came between resumes).

Usage::

    uv run python benchmarks/bfcl_local.py                     # all five, resuming
    uv run python benchmarks/bfcl_local.py --category parallel --threads 2
    uv run python benchmarks/bfcl_local.py --report-only --db a.duckdb --db b.duckdb
"""

from __future__ import annotations

import argparse
import asyncio
import os
import sys
import time
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script from anywhere
    sys.path.insert(0, str(ROOT))

from benchmarks._results import write_results  # noqa: E402

CATEGORIES = ("simple_python", "multiple", "parallel", "parallel_multiple", "irrelevance")
RESULTS = ROOT / "benchmarks" / "results" / "bfcl_local.json"


def _runs_of(db: Path, target: str) -> dict[str, Any]:
    """The newest run per category (dataset name) of ``target`` in ``db``."""
    from evals import EvalStore

    if not db.exists():
        return {}
    with EvalStore(db, read_only=True) as store:
        runs = [run for run in store.runs() if run.targets == [target]]
    newest: dict[str, Any] = {}
    for run in sorted(runs, key=lambda r: r.created_at):
        newest[run.dataset_name] = run
    return newest


async def _run(categories: list[str], db: Path, target: str) -> None:
    from evals import evaluate

    for category in categories:
        run = _runs_of(db, target).get(category)
        if run is not None and run.status == "completed":
            print(f"{category}: completed earlier ({run.run_id})")
            continue
        resume = run.run_id if run is not None else None
        started = time.perf_counter()
        done = 0

        def progress(_: Any, name: str = category, since: float = started) -> None:
            nonlocal done
            done += 1
            if done % 25 == 0:
                print(f"  {name}: {done} more cases ({time.perf_counter() - since:.0f} s)")

        print(f"{category}: {'resuming ' + resume if resume else 'starting'}")
        summary = await evaluate(
            ROOT / "datasets" / "bfcl" / f"{category}.jsonl",
            [target],
            db=db,
            resume=resume,
            on_result=progress,
        )
        print(f"{category}: {summary.status}, {summary.done} cases in {summary.seconds:.0f} s")


def _summary(dbs: list[Path], target: str) -> list[dict[str, Any]]:
    from evals import EvalStore, leaderboard

    lines = []
    for db in dbs:
        for category, run in _runs_of(db, target).items():
            with EvalStore(db, read_only=True) as store:
                frame = store.frame([run.run_id])
            board = leaderboard(frame)
            overall = board[board["scorer"] == "(overall)"].iloc[0]
            per_result = frame.drop_duplicates(["case_id", "repeat"])
            lines.append(
                {
                    "category": category,
                    "run_id": run.run_id,
                    "status": run.status,
                    "cases": int(run.n_cases),
                    "done": len(per_result),
                    "accuracy": float(overall["mean"]),
                    "ci_low": float(overall["ci_low"]),
                    "ci_high": float(overall["ci_high"]),
                    "target_errors": int(per_result["error"].notna().sum()),
                    "case_seconds": round(float(per_result["latency_s"].sum()), 1),
                    "p50_latency_s": round(float(per_result["latency_s"].median()), 2),
                }
            )
    order = {name: index for index, name in enumerate(CATEGORIES)}
    return sorted(lines, key=lambda line: order.get(line["category"], len(order)))


def _kept_from_earlier(lines: list[dict[str, Any]], target: str) -> list[dict[str, Any]]:
    """``lines`` plus the earlier results file's categories that no store here holds.

    Categories take an hour or more each on this machine, so they are often measured in
    different sessions (and stores); a partial rerun must not erase the others' figures.
    """
    import json

    if not RESULTS.exists():
        return lines
    earlier = json.loads(RESULTS.read_text())
    if earlier.get("target") != target:
        return lines
    have = {line["category"] for line in lines}
    kept = [line for line in earlier.get("categories", []) if line["category"] not in have]
    order = {name: index for index, name in enumerate(CATEGORIES)}
    return sorted(lines + kept, key=lambda line: order.get(line["category"], len(order)))


def _table(lines: list[dict[str, Any]]) -> str:
    rows = [
        "| Category | Cases | Accuracy | 95% CI | Target errors | Time (sum of cases) | p50 per case |",
        "| --- | ---: | ---: | --- | ---: | ---: | ---: |",
    ]
    for line in lines:
        cases = (
            str(line["cases"])
            if line["done"] == line["cases"]
            else (f"{line['done']} of {line['cases']}")
        )
        rows.append(
            f"| `{line['category']}` | {cases} | {line['accuracy']:.3f} | "
            f"{line['ci_low']:.3f}-{line['ci_high']:.3f} | {line['target_errors']} | "
            f"{line['case_seconds'] / 60:.0f} min | {line['p50_latency_s']:.1f} s |"
        )
    return "\n".join(rows)


def main(argv: list[str] | None = None) -> int:
    """Run (or resume) the categories, then write and print the summary."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--category", action="append", choices=CATEGORIES, help="repeatable")
    parser.add_argument("--target", default="local:smollm2")
    parser.add_argument(
        "--db", action="append", type=Path, help="the store (default: evals/bfcl_local.duckdb)"
    )
    parser.add_argument("--threads", type=int, help="llama.cpp threads (default: all cores)")
    parser.add_argument("--report-only", action="store_true", help="summarise stored runs only")
    args = parser.parse_args(argv)
    dbs = args.db or [ROOT / "evals" / "bfcl_local.duckdb"]
    if args.threads:
        os.environ["ASSISTANT_PROVIDERS__LOCAL__MODELS__SMOLLM2__N_THREADS"] = str(args.threads)
    if not args.report_only:
        asyncio.run(_run(list(args.category or CATEGORIES), dbs[0], args.target))
    lines = _kept_from_earlier(_summary(dbs, args.target), args.target)
    write_results(RESULTS, {"target": args.target, "threads": args.threads, "categories": lines})
    print(_table(lines))
    return 0


if __name__ == "__main__":
    sys.exit(main())
