"""Run the reliability suites and the short load test, then write ``docs/reliability.md``.

``make scoreboard`` runs this. Steps, each printed with the command it runs:

1. ``pytest -m scoreboard --scoreboard=build/scoreboard.jsonl``: every test marked
   ``@pytest.mark.scoreboard(category, name)`` (faults, hostile input, secrets, scans), one
   JSON line each (see ``tests/scoreboard.py``);
2. ``python benchmarks/load.py --quick``: constant-arrival-rate load, knee and a short soak;
3. the page: one table per category (what was tried, the outcome, the figures), the load
   results, and how to reproduce each.

``--from-results`` skips the runs and rewrites the page from the last results (for editing the
page's layout). The exit code is non-zero when a scoreboard test failed or the load test missed
its target, so CI can gate on it.
"""

from __future__ import annotations

import argparse
import json
import platform
import subprocess
import sys
import time
from collections import Counter
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[1]
SCORES = ROOT / "build" / "scoreboard.jsonl"
LOAD = ROOT / "benchmarks" / "results" / "load-quick.json"
PAGE = ROOT / "docs" / "reliability.md"

PYTEST = [sys.executable, "-m", "pytest", "-m", "scoreboard", "-q", "-p", "no:cacheprovider",
          f"--scoreboard={SCORES.relative_to(ROOT)}"]  # fmt: skip
LOAD_TEST = [sys.executable, "benchmarks/load.py", "--quick",
             "--output", str(LOAD.relative_to(ROOT))]  # fmt: skip

TITLES = {
    "fault": ("Faults injected", "Each fault is injected on loopback (real servers, real "
              "Redis, real DuckDB files, real signals); the test asserts the expected behaviour "
              "(retry, fallback, error frame, clear error, resume) and that nothing is lost or "
              "duplicated."),
    "hostile": ("Hostile input", "Malformed, oversized and malicious requests; every answer must "
                "be a 4xx in OpenAI's error shape (never a 5xx), and no injected instruction may "
                "cause a tool call or an outbound request."),
    "secret": ("Secrets", "Canary keys configured for every provider and for the API; every "
               "failure path driven; then logs, error bodies, /metrics, Redis, DuckDB and eval "
               "reports are searched for any 6-character substring of a key."),
    "scan": ("Scanning", "Static analysis of the code (bandit, also in `make lint`). The "
             "dependency audit (`pip-audit`, `uv audit`) cannot run on the CI machine: both need "
             "a vulnerability database online (api.osv.dev does not resolve there, and PyPI's "
             "JSON API answers 404), so it is not part of the scoreboard."),
}  # fmt: skip


def run(command: list[str]) -> int:
    """Run ``command`` in the repository, echoing it; its exit code."""
    print(f"$ {' '.join(command)}", flush=True)
    return subprocess.run(command, cwd=ROOT, check=False).returncode  # noqa: S603 - our commands


def load_scores(path: Path) -> list[dict[str, Any]]:
    """The scoreboard lines of a run, one per test: a test pytest runs several times under one
    id (schemathesis runs one per API operation) is one row, failed if any run failed."""
    rows: dict[str, dict[str, Any]] = {}
    for line in path.read_text(encoding="utf-8").splitlines():
        if not line.strip():
            continue
        record = json.loads(line)
        row = rows.get(record["test"])
        if row is None:
            rows[record["test"]] = {**record, "runs": 1}
            continue
        row["runs"] += 1
        row["seconds"] += record["seconds"]
        row["figures"] = {**row["figures"], **record["figures"], "runs": row["runs"]}
        if record["outcome"] == "failed" or row["outcome"] == "skipped":
            row["outcome"] = record["outcome"]
    return list(rows.values())


def _figures(figures: dict[str, Any]) -> str:
    return ", ".join(f"{key.replace('_', ' ')}: {value}" for key, value in figures.items())


def _outcome(outcome: str) -> str:
    return {"passed": "✅ survived", "failed": "❌ failed", "skipped": "⚠️ skipped"}.get(
        outcome, outcome
    )


def category_section(category: str, records: list[dict[str, Any]]) -> list[str]:
    """A category's heading, its summary line and its table."""
    title, about = TITLES[category]
    counts = Counter(record["outcome"] for record in records)
    lines = [f"## {title}", "", about, "",
             f"**{counts['passed']} of {len(records)} passed**"
             + (f", {counts['failed']} failed" if counts["failed"] else "")
             + (f", {counts['skipped']} skipped" if counts["skipped"] else "") + ".", "",
             "| What | Outcome | Figures | Test |", "| --- | --- | --- | --- |"]  # fmt: skip
    for record in sorted(records, key=lambda r: (r["name"].lower(), r["test"])):
        test = record["test"].replace("|", "\\|")
        lines.append(
            f"| {record['name']} | {_outcome(record['outcome'])} | "
            f"{_figures(record.get('figures', {})) or '—'} | `{test}` |"
        )
    return [*lines, ""]


def load_section(results: dict[str, Any] | None) -> list[str]:
    """The load test's figures (see ``benchmarks/load.py``), or how to produce them."""
    lines = ["## Load", ""]
    if results is None:
        return [*lines, "No load results yet: run `make scoreboard`.", ""]
    soak, verdict = results.get("soak", {}), results.get("verdict", {})
    held = "✅ held" if verdict.get("met") else "❌ not held"
    lines += [
        "Constant arrival rate against the API with a fake upstream at fixed latency (server "
        "and load generator pinned to separate cores): the knee is the highest rate still "
        "answered on time and without errors; the soak holds 70 % of it. Target: "
        f"{verdict.get('target', 'zero errors and memory growth under 10 %')}: **{held}**.",
        "",
        "| Figure | Value |",
        "| --- | --- |",
        f"| knee | {results.get('knee_rps')} req/s |",
        f"| soak | {soak.get('offered_rps')} req/s offered, {soak.get('achieved_rps')} achieved, "
        f"{soak.get('requests')} requests in {soak.get('seconds')} s |",
        f"| latency | p50 {soak.get('p50_ms')} ms, p99 {soak.get('p99_ms')} ms |",
        f"| errors | {soak.get('errors')} |",
        f"| server memory | {soak.get('rss_start_mb')} → {soak.get('rss_end_mb')} MB "
        f"({soak.get('rss_growth_pct')} %) |",
        "",
        f"Mode: {results.get('mode')}. Command: `{' '.join(LOAD_TEST[1:])}`; the full run "
        "(longer steps and a 2-minute soak) is `python benchmarks/load.py`, its last results "
        "in `benchmarks/results/load.json`.",
        "",
    ]
    return lines


def render(
    records: list[dict[str, Any]], load: dict[str, Any] | None, seconds: float | None
) -> str:
    """The whole page."""
    by_category: dict[str, list[dict[str, Any]]] = {}
    for record in records:
        by_category.setdefault(record["category"], []).append(record)
    total = Counter(record["outcome"] for record in records)
    lines = [
        "# Reliability",
        "",
        "<!-- Generated by tools/scoreboard.py (`make scoreboard`): do not edit by hand. -->",
        "",
        "What the workbench survives, measured on this project's CI machine "
        f"({platform.machine()}, {platform.python_implementation()} "
        f"{platform.python_version()}): {total['passed']} of {len(records)} checks passed"
        + (f", {total['failed']} failed" if total["failed"] else "")
        + (f", in {seconds:.0f} s." if seconds is not None else "."),
        "",
        f"Reproduce: `make scoreboard`, or the suites alone: `{' '.join(PYTEST[2:])}`.",
        "",
    ]
    for category in TITLES:
        if category in by_category:
            lines += category_section(category, by_category[category])
    lines += load_section(load)
    return "\n".join(lines).rstrip() + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--from-results", action="store_true", help="only rewrite the page")
    args = parser.parse_args(argv)
    started = time.monotonic()
    failed = False
    if not args.from_results:
        failed |= run(PYTEST) != 0
        failed |= run(LOAD_TEST) != 0
    if not SCORES.is_file():
        print(f"no scoreboard results at {SCORES}: run without --from-results", file=sys.stderr)
        return 2
    records = load_scores(SCORES)
    load = json.loads(LOAD.read_text()) if LOAD.is_file() else None
    seconds = None if args.from_results else time.monotonic() - started
    PAGE.write_text(render(records, load, seconds), encoding="utf-8")
    print(f"wrote {PAGE}")
    failed |= any(record["outcome"] == "failed" for record in records)
    failed |= load is not None and not load.get("verdict", {}).get("met", False)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
