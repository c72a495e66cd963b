"""Helpers for the eval-harness tests: records, fake targets, and reading a child's output.

Fake targets follow the :class:`evals.targets.Target` protocol (``name``, ``group``,
``async run(case)``); they count their calls and the calls in flight, so tests can check what
the runner really did (how many calls, how many at once) rather than what it reports.
"""

from __future__ import annotations

import asyncio
import queue
import subprocess
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Iterable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import IO, Any

import duckdb

import evals
from evals import Case, CaseResult, RunInfo, Score, TargetOutput

T0 = datetime(2026, 1, 1, tzinfo=UTC)


def run_info(run_id: str, *, minutes: int = 0, **changes: Any) -> RunInfo:
    """A run record created ``minutes`` after a fixed instant (so tests control the order)."""
    fields: dict[str, Any] = {
        "run_id": run_id,
        "created_at": T0 + timedelta(minutes=minutes),
        "finished_at": None,
        "status": "running",
        "dataset_name": "demo",
        "dataset_path": None,
        "dataset_hash": "0" * 64,
        "n_cases": 3,
        "targets": ["fake"],
        "repeats": 1,
        "config": {"timeout": 1.0},
        "git_commit": "abc123",
        "versions": {"duckdb": duckdb.__version__},
    }
    fields.update(changes)
    return RunInfo(**fields)


def case_result(
    run_id: str,
    case_id: str,
    *,
    target: str = "fake",
    repeat: int = 0,
    output: str = "answer",
    error: str | None = None,
    scores: dict[str, float | None] | None = None,
    tags: list[str] | None = None,
) -> CaseResult:
    """One result row with a score per ``scores`` entry (default: ``exact`` = 1.0)."""
    return CaseResult(
        run_id=run_id,
        case_id=case_id,
        target=target,
        repeat=repeat,
        output=TargetOutput(output=output, latency_s=0.01, error=error),
        scores=[
            Score(name=name, value=value, reason=None if value is None else "ok")
            for name, value in (scores if scores is not None else {"exact": 1.0}).items()
        ],
        tags=tags or [],
    )


def dataset(
    n: int,
    *,
    name: str = "demo",
    scorers: list[Any] | None = None,
    prefix: str = "c",
) -> evals.Dataset:
    """``n`` cases whose expected answer is ``answer <id>`` (what :func:`echo_answer` says)."""
    return evals.Dataset(
        name=name,
        cases=[
            Case(
                id=f"{prefix}{i:03d}",
                input=f"question {i}",
                expected=f"answer {prefix}{i:03d}",
                scorers=scorers,
                tags=["even" if i % 2 == 0 else "odd"],
            )
            for i in range(n)
        ],
    )


def echo_answer(case: Case) -> str:
    """The answer every fake target gives by default: ``answer <case id>``."""
    return f"answer {case.id}"


Behaviour = Callable[["FakeTarget", Case], Awaitable[str]]


@dataclass(eq=False)
class FakeTarget:
    """A target whose behaviour per call is a coroutine; counts calls and calls in flight.

    ``shared`` (optional) is a second in-flight counter several targets update together, to
    see how many calls run at once across targets.
    """

    name: str = "fake"
    group: str = "fake"
    behaviour: Behaviour | None = None
    latency: float = 0.0
    shared: InFlight | None = None
    calls: Counter[str] = field(default_factory=Counter)
    in_flight: InFlight = field(default_factory=lambda: InFlight())

    async def run(self, case: Case) -> TargetOutput:
        """Answer one case (through ``behaviour``, or ``answer <id>`` after ``latency``)."""
        self.calls[case.id] += 1
        started = time.perf_counter()
        self.in_flight.enter()
        if self.shared is not None:
            self.shared.enter()
        try:
            if self.behaviour is not None:
                text = await self.behaviour(self, case)
            else:
                if self.latency:
                    await asyncio.sleep(self.latency)  # the workload: a provider's latency
                text = echo_answer(case)
        finally:
            self.in_flight.exit()
            if self.shared is not None:
                self.shared.exit()
        return TargetOutput(output=text, latency_s=time.perf_counter() - started)

    @property
    def total_calls(self) -> int:
        """Calls over every case."""
        return sum(self.calls.values())


@dataclass
class InFlight:
    """A counter of calls in flight and its high-water mark."""

    now: int = 0
    peak: int = 0

    def enter(self) -> None:
        self.now += 1
        self.peak = max(self.peak, self.now)

    def exit(self) -> None:
        self.now -= 1


def rows(path: Path, sql: str, params: list[Any] | None = None) -> list[tuple[Any, ...]]:
    """Run ``sql`` on a closed store file with a raw read-only DuckDB connection."""
    with duckdb.connect(str(path), read_only=True) as db:
        return db.execute(sql, params or []).fetchall()


def execute(path: Path, *statements: str | tuple[str, list[Any]]) -> None:
    """Run writing statements (SQL, or SQL and parameters) on a closed store file."""
    with duckdb.connect(str(path)) as db:
        for statement in statements:
            sql, params = statement if isinstance(statement, tuple) else (statement, [])
            db.execute(sql, params)


def delete_units(path: Path, keys: Iterable[tuple[str, str, int]]) -> None:
    """Delete results and their scores (what a lost write batch leaves missing)."""
    for key in keys:
        execute(
            path,
            ("DELETE FROM results WHERE case_id = ? AND target = ? AND repeat = ?", list(key)),
            ("DELETE FROM scores WHERE case_id = ? AND target = ? AND repeat = ?", list(key)),
        )


class LineReader:
    """Reads a child process's stream on a thread, so waiting for a line has a deadline."""

    def __init__(self, stream: IO[str]) -> None:
        self.lines: queue.Queue[str | None] = queue.Queue()
        self.seen: list[str] = []
        self._thread = threading.Thread(target=self._pump, args=(stream,), daemon=True)
        self._thread.start()

    def _pump(self, stream: IO[str]) -> None:
        for line in stream:
            self.lines.put(line.rstrip("\n"))
        self.lines.put(None)  # end of stream

    def wait_for(self, accept: Callable[[str], bool], timeout: float) -> str:
        """The first new line ``accept`` takes; raises on end of stream or after ``timeout``."""
        deadline = time.monotonic() + timeout
        while True:
            left = deadline - time.monotonic()
            if left <= 0:
                raise TimeoutError(f"no matching line in {timeout}s; last lines: {self.seen[-5:]}")
            try:
                line = self.lines.get(timeout=left)
            except queue.Empty:
                continue
            if line is None:
                raise EOFError(f"stream ended; last lines: {self.seen[-5:]}")
            self.seen.append(line)
            if accept(line):
                return line

    def rest(self, timeout: float) -> list[str]:
        """Every remaining line until the stream ends (bounded by ``timeout``)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            try:
                line = self.lines.get(timeout=max(0.0, deadline - time.monotonic()))
            except queue.Empty:
                break
            if line is None:
                break
            self.seen.append(line)
        self._thread.join(timeout=max(0.0, deadline - time.monotonic()))
        return self.seen


def stop(process: subprocess.Popen[str]) -> None:
    """Kill a child process this test started, if it still runs, and reap it."""
    if process.poll() is None:
        process.kill()
    process.wait(timeout=10)
