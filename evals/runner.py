"""Run a dataset against targets, score every answer, and store it all.

Each (case, target, repeat) is one unit of work. Units run concurrently, limited per provider
(``evals.concurrency``), each with a time limit and retries on transient provider failures.
Results are written in small batches, so a killed run loses at most the batch in flight, and
``resume`` reruns exactly the units the store does not have: nothing is lost, nothing counted
twice. Ctrl-C stops cleanly: the run is marked ``interrupted`` and can be resumed.
"""

from __future__ import annotations

import asyncio
import importlib.metadata
import json
import logging
import subprocess  # nosec B404
import time
import uuid
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any

import duckdb

from assistant.errors import AssistantError, ProviderError
from evals.dataset import Dataset
from evals.store import EvalStore, RunInfo, StoreError
from evals.targets import Target, resolve_target
from evals.types import Case, CaseResult, Score, Scorer, ScorerSpec, TargetOutput

if TYPE_CHECKING:
    from assistant.agent import Assistant

logger = logging.getLogger(__name__)

FLUSH_EVERY = 25
"""Results buffered before a write (a killed run reruns at most this many)."""
FLUSH_SECONDS = 1.0
"""Longest a finished result waits in the buffer."""

ScorerFactory = Callable[[ScorerSpec], Scorer]
ProgressHook = Callable[[CaseResult], None]


class EvalError(AssistantError):
    """The run cannot start or resume (bad dataset, unknown target or scorer, changed data)."""


@dataclass(frozen=True, slots=True)
class RunOptions:
    """How a run pushes its targets."""

    repeats: int = 1
    timeout: float = 120.0
    retries: int = 1
    concurrency: dict[str, int] = field(default_factory=dict)
    default_concurrency: int = 4


@dataclass
class RunSummary:
    """How a run went."""

    run_id: str
    status: str
    units: int
    done: int = 0
    skipped: int = 0
    errors: int = 0
    seconds: float = 0.0


def new_run_id() -> str:
    """Sortable and unique: UTC time, then random hex."""
    return f"{datetime.now(UTC):%Y%m%d-%H%M%S}-{uuid.uuid4().hex[:6]}"


def _git_commit() -> str | None:
    try:
        # a fixed `git rev-parse HEAD`, no shell, no input
        result = subprocess.run(  # nosec B603 B607
            ["git", "rev-parse", "HEAD"],  # noqa: S607 - git from PATH is the point
            capture_output=True,
            text=True,
            timeout=5,
            check=False,
        )
    except (OSError, subprocess.SubprocessError):
        return None
    return result.stdout.strip() or None if result.returncode == 0 else None


def _versions() -> dict[str, str]:
    names = ("assistant-workbench", "langchain", "langchain-core", "llama-cpp-python", "duckdb")
    versions = {}
    for name in names:
        try:
            versions[name] = importlib.metadata.version(name)
        except importlib.metadata.PackageNotFoundError:
            continue
    return versions


def _outcome(output: TargetOutput, scores: Sequence[Score]) -> str:
    """``error`` if the target or a scorer failed, ``passed`` if every score passed."""
    if output.error is not None or any(score.error is not None for score in scores):
        return "error"
    return "passed" if all(score.passed for score in scores) else "failed"


def _specs_for(case: Case, defaults: Sequence[ScorerSpec]) -> list[ScorerSpec]:
    if case.scorers is not None:  # its own, even `[]` (no scorer), as datasets/README.md says
        return list(case.scorers)
    if defaults:
        return list(defaults)
    return [ScorerSpec(name="contains")] if case.expected is not None else []


class _Writer:
    """Buffers results and writes them in batches (synchronously: DuckDB calls take ms)."""

    def __init__(self, store: EvalStore) -> None:
        self.store = store
        self.buffer: list[CaseResult] = []
        self.last_flush = time.monotonic()

    def add(self, result: CaseResult) -> None:
        self.buffer.append(result)
        if len(self.buffer) >= FLUSH_EVERY or time.monotonic() - self.last_flush >= FLUSH_SECONDS:
            self.flush()

    def flush(self) -> None:
        if self.buffer:
            self.store.add_results(self.buffer)
            self.buffer = []
        self.last_flush = time.monotonic()


async def _attempt(target: Target, case: Case, options: RunOptions) -> TargetOutput:
    """Run one case on one target: time-limited, retried on transient failures."""
    started = time.perf_counter()
    last_error = "no attempt"
    for attempt in range(options.retries + 1):
        try:
            return await asyncio.wait_for(target.run(case), options.timeout)
        except TimeoutError:
            last_error = f"timed out after {options.timeout:g}s"
            break
        except ProviderError as exc:
            last_error = str(exc)
            if not exc.transient or attempt == options.retries:
                break
            await asyncio.sleep(min(2.0, 0.25 * 2**attempt))
        except AssistantError as exc:
            last_error = str(exc)
            break
        except Exception as exc:  # a target's bug is this case's error, not the run's end
            last_error = f"{type(exc).__name__}: {exc}"
            break
    return TargetOutput(output="", latency_s=time.perf_counter() - started, error=last_error[:1000])


async def _score(scorers: Sequence[Scorer], case: Case, output: TargetOutput) -> list[Score]:
    async def one(scorer: Scorer) -> Score:
        try:
            return await scorer.score(case, output)
        except Exception as exc:  # scorers should not raise; if one does, it is recorded
            return Score(name=scorer.name, value=None, error=f"{type(exc).__name__}: {exc}")

    return list(await asyncio.gather(*(one(scorer) for scorer in scorers)))


async def run_eval(
    dataset: Dataset,
    targets: Sequence[str | Target | Callable[..., Any]],
    *,
    store: EvalStore,
    assistant: Assistant,
    make_scorer: ScorerFactory,
    options: RunOptions | None = None,
    default_scorers: Sequence[ScorerSpec] = (),
    resume: str | None = None,
    on_result: ProgressHook | None = None,
    on_start: Callable[[RunInfo, int], None] | None = None,
) -> RunSummary:
    """Run ``dataset`` against ``targets`` into ``store``; ``resume`` continues a stored run."""
    options = options or RunOptions()
    resolved = [resolve_target(spec, assistant) for spec in targets]
    names = [target.name for target in resolved]
    if len(set(names)) != len(names):
        raise EvalError(f"a target is listed twice: {', '.join(names)}")

    built: dict[str, Scorer] = {}

    defaults = list(default_scorers) or list(dataset.default_scorers)

    def scorers_for(case: Case) -> list[Scorer]:
        chosen = []
        for spec in _specs_for(case, defaults):
            key = json.dumps(spec.model_dump(), sort_keys=True, default=str)
            if key not in built:
                built[key] = make_scorer(spec)
            chosen.append(built[key])
        return chosen

    for case in dataset:  # every scorer must build before anything runs
        try:
            labels = [scorer.name for scorer in scorers_for(case)]
        except ValueError as exc:
            raise EvalError(f"case '{case.id}': {exc}") from None
        twice = sorted({label for label in labels if labels.count(label) > 1})
        if twice:  # scores are stored per (result, scorer name): one would overwrite the other
            raise EvalError(
                f"case '{case.id}': two scorers record under the name '{twice[0]}': "
                "give one of them a `label`"
            )

    if resume is None:
        run = RunInfo(
            run_id=new_run_id(),
            created_at=datetime.now(UTC),
            finished_at=None,
            status="running",
            dataset_name=dataset.name,
            dataset_path=str(dataset.path) if dataset.path else None,
            dataset_hash=dataset.hash,
            n_cases=len(dataset),
            targets=names,
            repeats=options.repeats,
            config={
                "timeout": options.timeout,
                "retries": options.retries,
                "default_scorers": [spec.model_dump() for spec in defaults],
            },
            git_commit=_git_commit(),
            versions=_versions(),
        )
        store.create_run(run)
        store.add_cases(run.run_id, dataset)
        done: set[tuple[str, str, int]] = set()
    else:
        run = store.run(resume)
        if run.dataset_hash != dataset.hash:
            raise EvalError(
                f"run {run.run_id} used a different version of dataset '{run.dataset_name}' "
                f"({run.dataset_hash[:12]} vs {dataset.hash[:12]}): start a new run instead"
            )
        if sorted(run.targets) != sorted(names):
            raise EvalError(
                f"run {run.run_id} ran targets {', '.join(run.targets)}: resume with the same ones"
            )
        options = RunOptions(
            repeats=run.repeats,
            timeout=options.timeout,
            retries=options.retries,
            concurrency=options.concurrency,
            default_concurrency=options.default_concurrency,
        )
        done = store.done_keys(run.run_id)
        store.add_cases(run.run_id, dataset)  # runs stored before cases were recorded
        store.reopen_run(run.run_id)

    units = [
        (case, target, repeat)
        for repeat in range(options.repeats)
        for target in resolved
        for case in dataset
        if (case.id, target.name, repeat) not in done
    ]
    summary = RunSummary(run_id=run.run_id, status="running", units=len(units), skipped=len(done))
    if on_start is not None:
        on_start(run, len(units))
    limits = {
        group: asyncio.Semaphore(options.concurrency.get(group, options.default_concurrency))
        for group in {target.group for target in resolved}
    }
    writer = _Writer(store)
    started = time.perf_counter()

    async def unit(case: Case, target: Target, repeat: int) -> None:
        async with limits[target.group]:
            output = await _attempt(target, case, options)
        scores = await _score(scorers_for(case), case, output)
        result = CaseResult(
            run.run_id, case.id, target.name, repeat, output, scores, list(case.tags)
        )
        writer.add(result)
        summary.done += 1
        summary.errors += output.error is not None
        if assistant.metrics is not None:
            assistant.metrics.eval_case_scored(_outcome(output, scores))
        if on_result is not None:
            on_result(result)

    tasks = [asyncio.ensure_future(unit(*item)) for item in units]
    status = "failed"
    try:
        await asyncio.gather(*tasks)
        writer.flush()
        status = "completed"
    except (asyncio.CancelledError, KeyboardInterrupt):
        status = "interrupted"
        raise
    finally:
        try:
            # After a failure (a write that failed), gather leaves the other units running:
            # stop them, so no target is called for a run that is over.
            pending = [task for task in tasks if not task.done()]
            for task in pending:
                task.cancel()
            if pending:
                await asyncio.wait(pending)
        finally:
            # Keep what finished before an interruption or a failure, and record the end
            # even when that write fails too, so no run stays "running".
            try:
                writer.flush()
            except (StoreError, duckdb.Error):
                logger.exception("could not store the last results of run %s", run.run_id)
            try:
                store.finish_run(run.run_id, status)
            except (StoreError, duckdb.Error):
                logger.exception("could not record the end of run %s", run.run_id)
            summary.status = status
            summary.seconds = time.perf_counter() - started
    return summary
