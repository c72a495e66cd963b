"""The eval runner against fake targets and a real DuckDB store: every unit stored once,
concurrency limits per group, timeouts, retries, failing scorers, resume, cancellation, and a
run SIGKILLed several times and resumed until it completes."""

from __future__ import annotations

import asyncio
import random
import signal
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import duckdb
import pandas as pd
import pytest

import evals
from assistant.agent import Assistant, build_assistant
from assistant.config import Settings
from assistant.errors import ProviderHTTPError
from evals import Case, EvalError, EvalStore, RunOptions, RunSummary, Score, ScorerSpec
from evals.types import Scorer, TargetOutput
from tests.conftest import clean_environ
from tests.evals_support import (
    FakeTarget,
    InFlight,
    LineReader,
    dataset,
    delete_units,
    echo_answer,
    execute,
    rows,
    stop,
)


@pytest.fixture
def assistant() -> Iterator[Assistant]:
    """The default assistant: cheap to build, its local model loads only if used (never here)."""
    built = build_assistant(Settings())
    yield built
    built.close()


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "runs.duckdb"


async def run(
    data: evals.Dataset,
    targets: list[Any],
    store: EvalStore,
    assistant: Assistant,
    **kwargs: Any,
) -> RunSummary:
    """``run_eval`` with the assistant's scorer factory, bounded in time."""
    kwargs.setdefault("make_scorer", evals.scorer_factory(assistant))
    return await asyncio.wait_for(
        evals.run_eval(data, targets, store=store, assistant=assistant, **kwargs), timeout=60
    )


def all_keys(data: evals.Dataset, targets: list[str], repeats: int) -> set[tuple[str, str, int]]:
    return {(c.id, t, r) for c in data for t in targets for r in range(repeats)}


def assert_stored_once(path: Path, run_id: str, expected: set[tuple[str, str, int]]) -> None:
    """Exactly one result row per expected key, and nothing else."""
    keys = rows(path, "SELECT case_id, target, repeat FROM results WHERE run_id = ?", [run_id])
    assert len(keys) == len(set(keys)), "a (case, target, repeat) is stored twice"
    assert set(keys) == expected


# -- a run stores every unit -------------------------------------------------------------------


async def test_every_case_target_and_repeat_is_stored_with_its_scores(
    db: Path, assistant: Assistant
) -> None:
    data = dataset(6, scorers=["contains", "exact"])
    good = FakeTarget("good")

    async def wrong(target: FakeTarget, case: Case) -> str:
        return "nope"

    bad = FakeTarget("bad", group="other", behaviour=wrong)
    with EvalStore(db) as store:
        summary = await run(data, [good, bad], store, assistant, options=RunOptions(repeats=3))
        info = store.run(summary.run_id)
        frame = store.frame([summary.run_id])

    assert (summary.status, summary.units, summary.done, summary.errors) == (
        "completed",
        36,
        36,
        0,
    )
    assert info.status == "completed" and info.finished_at is not None
    assert (info.n_cases, info.repeats, info.n_results) == (6, 3, 36)
    assert info.targets == ["good", "bad"] and info.dataset_hash == data.hash
    assert_stored_once(db, summary.run_id, all_keys(data, ["good", "bad"], 3))
    assert good.calls == {case.id: 3 for case in data} == bad.calls

    assert len(frame) == 72  # two scores per result
    per_result = frame.groupby(["case_id", "target", "repeat"])["scorer"].apply(sorted)
    assert all(names == ["contains", "exact"] for names in per_result)
    assert set(frame[frame["target"] == "good"]["value"]) == {1.0}
    assert set(frame[frame["target"] == "bad"]["value"]) == {0.0}
    tags = frame.set_index(["case_id", "scorer", "target", "repeat"])["tags"]
    assert tags[("c001", "exact", "good", 2)] == ["odd"]
    prompts = dict(zip(frame["case_id"], frame["prompt"], strict=True))
    assert prompts == {case.id: case.prompt() for case in data}  # each case recorded once
    assert rows(db, "SELECT count(*) FROM cases") == [(6,)]
    assert assistant.metrics is not None
    outcomes = assistant.metrics.eval_cases
    assert outcomes.labels("passed")._value.get() == 18  # "good": every score passed
    assert outcomes.labels("failed")._value.get() == 18


async def test_which_scorers_apply_to_a_case(db: Path, assistant: Assistant) -> None:
    data = evals.Dataset(
        name="scorers",
        cases=[
            Case(id="own", input="q", expected="answer own", scorers=["exact"]),
            Case(id="none", input="q", expected="answer none", scorers=[]),
            Case(id="default", input="q", expected="answer default"),
            Case(id="no-ref", input="q"),
        ],
    )

    def names(frame: Any) -> dict[str, list[str]]:
        return {
            case: sorted(s for s in group["scorer"] if isinstance(s, str))
            for case, group in frame.groupby("case_id")
        }

    with EvalStore(db) as store:
        first = await run(data, [FakeTarget()], store, assistant)
        second = await run(
            data,
            [FakeTarget()],
            store,
            assistant,
            default_scorers=[ScorerSpec(name="regex", args={"pattern": "answer"})],
        )
        assert names(store.frame([first.run_id])) == {
            "own": ["exact"],
            "none": [],  # an explicit [] means no scorer (datasets/README.md)
            "default": ["contains"],  # the reference answer is contained
            "no-ref": [],
        }
        assert names(store.frame([second.run_id])) == {
            "own": ["exact"],
            "none": [],
            "default": ["regex"],
            "no-ref": ["regex"],
        }


async def test_two_scorers_under_one_name_are_refused_before_anything_runs(
    db: Path, assistant: Assistant
) -> None:
    twice = [
        {"name": "regex", "args": {"pattern": "a"}},
        {"name": "regex", "args": {"pattern": "b"}},
    ]
    data = evals.Dataset(name="d", cases=[Case(id="x", input="q", scorers=twice)])
    target = FakeTarget()
    with EvalStore(db) as store:
        with pytest.raises(EvalError, match="case 'x': two scorers record under the name 'regex'"):
            await run(data, [target], store, assistant)
        assert store.runs() == [] and target.total_calls == 0
        labelled = [twice[0], {"name": "regex", "args": {"pattern": "b", "label": "regex_b"}}]
        data = evals.Dataset(name="d", cases=[Case(id="x", input="q", scorers=labelled)])
        summary = await run(data, [target], store, assistant)
        assert summary.status == "completed"
        assert sorted(store.frame([summary.run_id])["scorer"]) == ["regex", "regex_b"]


async def test_a_target_listed_twice_or_an_unknown_scorer_is_refused(
    db: Path, assistant: Assistant
) -> None:
    with EvalStore(db) as store:
        with pytest.raises(EvalError, match="listed twice"):
            await run(dataset(2), [FakeTarget(), FakeTarget()], store, assistant)
        with pytest.raises(EvalError, match="case 'c000'"):
            await run(dataset(2, scorers=["no_such_scorer"]), [FakeTarget()], store, assistant)
        assert store.runs() == []


# -- concurrency ---------------------------------------------------------------------------------


async def test_concurrency_limit_is_honoured(db: Path, assistant: Assistant) -> None:
    target = FakeTarget(latency=0.01)
    with EvalStore(db) as store:
        summary = await run(
            dataset(20), [target], store, assistant, options=RunOptions(concurrency={"fake": 3})
        )
    assert summary.done == 20
    assert target.in_flight.peak == 3


async def test_each_group_has_its_own_limit(db: Path, assistant: Assistant) -> None:
    together = InFlight()
    fast = FakeTarget("fast", group="fake", latency=0.01, shared=together)
    slow = FakeTarget("slow", group="slow", latency=0.01, shared=together)
    other = FakeTarget("other", group="misc", latency=0.01, shared=together)
    options = RunOptions(concurrency={"fake": 3, "slow": 2}, default_concurrency=1)
    with EvalStore(db) as store:
        summary = await run(dataset(20), [fast, slow, other], store, assistant, options=options)
    assert summary.done == 60
    assert (fast.in_flight.peak, slow.in_flight.peak, other.in_flight.peak) == (3, 2, 1)
    assert together.peak == 6  # the groups ran side by side, each up to its own limit


async def test_targets_of_one_group_share_its_limit(db: Path, assistant: Assistant) -> None:
    together = InFlight()
    one = FakeTarget("one", group="fake", latency=0.01, shared=together)
    two = FakeTarget("two", group="fake", latency=0.01, shared=together)
    with EvalStore(db) as store:
        await run(
            dataset(20), [one, two], store, assistant, options=RunOptions(concurrency={"fake": 3})
        )
    assert together.peak == 3


# -- timeouts, retries, failures -------------------------------------------------------------------


async def test_a_case_past_its_timeout_is_an_error_and_the_others_go_on(
    db: Path, assistant: Assistant
) -> None:
    never = asyncio.Event()  # never set: the call hangs until the runner gives up on it

    async def hang_on_c002(target: FakeTarget, case: Case) -> str:
        if case.id == "c002":
            await never.wait()
        return echo_answer(case)

    target = FakeTarget(behaviour=hang_on_c002)
    started = time.monotonic()
    with EvalStore(db) as store:
        summary = await run(dataset(5), [target], store, assistant, options=RunOptions(timeout=0.2))
        frame = store.frame([summary.run_id]).set_index("case_id")
    assert time.monotonic() - started < 10
    assert summary.status == "completed" and summary.errors == 1
    assert "timed out after 0.2s" in frame.loc["c002", "error"]
    assert target.calls["c002"] == 1  # a timeout is not retried
    assert frame.loc["c002", "score_error"].startswith("target failed: timed out")
    fine = frame.drop(index="c002")
    assert fine["error"].isna().all() and set(fine["value"]) == {1.0}


async def test_transient_errors_are_retried_and_others_are_not(
    db: Path, assistant: Assistant
) -> None:
    async def behave(target: FakeTarget, case: Case) -> str:
        calls = target.calls[case.id]
        if case.id == "flaky" and calls == 1:
            raise ProviderHTTPError("fake", 503, "x")
        if case.id == "down":
            raise ProviderHTTPError("fake", 503, "still down")
        if case.id == "refused":
            raise ProviderHTTPError("fake", 400, "bad request")
        if case.id == "bug":
            raise ValueError("boom")
        return f"answer {case.id}"

    ids = ["flaky", "down", "refused", "bug", "fine"]
    data = evals.Dataset(
        name="errors", cases=[Case(id=i, input="q", expected=f"answer {i}") for i in ids]
    )
    target = FakeTarget(behaviour=behave)
    with EvalStore(db) as store:
        summary = await run(data, [target], store, assistant, options=RunOptions(retries=1))
        frame = store.frame([summary.run_id]).set_index("case_id")
    assert dict(target.calls) == {"flaky": 2, "down": 2, "refused": 1, "bug": 1, "fine": 1}
    assert summary.status == "completed" and summary.done == 5 and summary.errors == 3
    assert pd.isna(frame.loc["flaky", "error"]) and frame.loc["flaky", "value"] == 1.0
    assert "HTTP 503" in frame.loc["down", "error"]
    assert "HTTP 400" in frame.loc["refused", "error"]
    assert frame.loc["bug", "error"] == "ValueError: boom"
    assert frame.loc["fine", "value"] == 1.0
    for failed in ("down", "refused", "bug"):
        assert frame.loc[failed, "score_error"].startswith("target failed")


class Exploding:
    """A scorer with a bug: it raises instead of returning a Score."""

    name = "explode"
    spec = ScorerSpec(name="explode")

    async def score(self, case: Case, output: TargetOutput) -> Score:
        raise RuntimeError("scorer bug")


async def test_a_scorer_that_raises_is_a_score_error_and_the_run_goes_on(
    db: Path, assistant: Assistant
) -> None:
    built = evals.scorer_factory(assistant)

    def make(spec: ScorerSpec) -> Scorer:
        return Exploding() if spec.name == "explode" else built(spec)

    with EvalStore(db) as store:
        summary = await run(
            dataset(4, scorers=["explode", "contains"]),
            [FakeTarget()],
            store,
            assistant,
            make_scorer=make,
        )
        frame = store.frame([summary.run_id])
    assert summary.status == "completed" and summary.errors == 0
    exploded = frame[frame["scorer"] == "explode"]
    assert len(exploded) == 4
    assert exploded["value"].isna().all()
    assert set(exploded["score_error"]) == {"RuntimeError: scorer bug"}
    assert set(frame[frame["scorer"] == "contains"]["value"]) == {1.0}


async def test_a_failed_write_ends_the_run_as_failed_and_stops_every_call(
    db: Path, assistant: Assistant
) -> None:
    """A store that cannot write (disk full) fails the run: recorded as failed, with no unit
    left running in the background to call a target for a run that is over."""
    target = FakeTarget(latency=0.005)
    with EvalStore(db) as store:
        write = store.add_results
        writes = 0

        def disk_full(results: list[evals.CaseResult]) -> int:
            nonlocal writes
            writes += 1
            if writes >= 2:
                raise duckdb.IOException("No space left on device (simulated)")
            return write(results)

        store.add_results = disk_full  # type: ignore[method-assign]
        with pytest.raises(duckdb.IOException, match="No space left"):
            await run(
                dataset(200),
                [target],
                store,
                assistant,
                options=RunOptions(concurrency={"fake": 4}),
            )
        assert [task for task in asyncio.all_tasks() if task is not asyncio.current_task()] == []
        assert target.in_flight.now == 0 and target.total_calls < 200
        info = store.run("latest")
    assert info.status == "failed" and info.finished_at is not None
    assert info.n_results == 25  # the one batch written before the disk filled up


# -- resume ---------------------------------------------------------------------------------------


async def test_resume_reruns_only_the_missing_units(db: Path, assistant: Assistant) -> None:
    data = dataset(10)
    names = ["fake", "other"]
    with EvalStore(db) as store:
        first = await run(
            data,
            [FakeTarget("fake"), FakeTarget("other", group="other")],
            store,
            assistant,
            options=RunOptions(repeats=2),
        )
        store.finish_run(first.run_id, "interrupted")
    # What a lost batch leaves: some results (and their scores, written in the same
    # transaction) are missing.
    missing = {("c001", "fake", 0), ("c001", "other", 1), ("c004", "fake", 1), ("c009", "other", 0)}
    delete_units(db, missing)
    execute(db, "DELETE FROM cases")  # a run stored before cases were recorded
    assert rows(db, "SELECT count(*) FROM results") == [(40 - len(missing),)]

    fake, other = FakeTarget("fake"), FakeTarget("other", group="other")
    with EvalStore(db) as store:
        resumed = await run(
            data,
            [other, fake],  # order does not matter
            store,
            assistant,
            resume=first.run_id[:17],  # a unique prefix is enough
            options=RunOptions(repeats=1),  # ignored: the run's own repeats apply
        )
        info = store.run(first.run_id)
    assert resumed.run_id == first.run_id
    assert (resumed.status, resumed.units, resumed.skipped, resumed.done) == (
        "completed",
        len(missing),
        40 - len(missing),
        len(missing),
    )
    assert fake.total_calls + other.total_calls == len(missing)
    rerun = {(c, "fake") for c in fake.calls} | {(c, "other") for c in other.calls}
    assert rerun == {(c, t) for c, t, _ in missing}
    assert rows(db, "SELECT count(*) FROM cases") == [(10,)]  # recorded on resume
    assert info.status == "completed" and info.n_results == 40
    assert_stored_once(db, first.run_id, all_keys(data, names, 2))
    assert rows(db, "SELECT count(*) FROM scores") == [(40,)]


async def test_resuming_a_completed_run_runs_nothing(db: Path, assistant: Assistant) -> None:
    data = dataset(5)
    with EvalStore(db) as store:
        first = await run(data, [FakeTarget()], store, assistant)
        again = FakeTarget()
        summary = await run(data, [again], store, assistant, resume=first.run_id)
        assert (summary.units, summary.skipped, summary.status) == (0, 5, "completed")
        assert again.total_calls == 0
        assert store.run(first.run_id).n_results == 5


async def test_resume_refuses_a_changed_dataset_or_other_targets(
    db: Path, assistant: Assistant
) -> None:
    data = dataset(5)
    with EvalStore(db) as store:
        first = await run(data, [FakeTarget()], store, assistant)
        store.finish_run(first.run_id, "interrupted")
        changed = dataset(6)
        with pytest.raises(EvalError, match="different version of dataset 'demo'"):
            await run(changed, [FakeTarget()], store, assistant, resume=first.run_id)
        edited = evals.Dataset(
            name="demo",
            cases=[data.cases[0].model_copy(update={"expected": "edited"}), *data.cases[1:]],
        )
        with pytest.raises(EvalError, match="different version"):
            await run(edited, [FakeTarget()], store, assistant, resume=first.run_id)
        with pytest.raises(EvalError, match="resume with the same ones"):
            await run(data, [FakeTarget("someone-else")], store, assistant, resume=first.run_id)
        with pytest.raises(EvalError, match="resume with the same ones"):
            await run(
                data,
                [FakeTarget(), FakeTarget("extra", group="x")],
                store,
                assistant,
                resume=first.run_id,
            )
        # a refused resume leaves the run as it was
        assert store.run(first.run_id).status == "interrupted"
        assert store.run(first.run_id).n_results == 5


async def test_a_cancelled_run_is_interrupted_keeps_its_results_and_resumes(
    db: Path, assistant: Assistant
) -> None:
    """Ctrl-C under ``asyncio.run`` cancels the main task: the same as cancelling it here."""
    data = dataset(60)
    target = FakeTarget(latency=0.01)
    reported: list[evals.CaseResult] = []
    enough = asyncio.Event()

    def on_result(result: evals.CaseResult) -> None:
        reported.append(result)
        if len(reported) >= 10:
            enough.set()

    with EvalStore(db) as store:
        task = asyncio.create_task(
            evals.run_eval(
                data,
                [target],
                store=store,
                assistant=assistant,
                make_scorer=evals.scorer_factory(assistant),
                options=RunOptions(concurrency={"fake": 4}),
                on_result=on_result,
            )
        )
        await asyncio.wait_for(enough.wait(), timeout=20)
        task.cancel()
        with pytest.raises(asyncio.CancelledError):
            await asyncio.wait_for(task, timeout=20)
        info = store.run("latest")
        assert info.status == "interrupted" and info.finished_at is not None
        # every result that finished was written (fewer than a batch: the final flush did it)
        assert info.n_results == len(reported) < len(data)
        kept = store.done_keys(info.run_id)
        assert kept == {(r.case_id, r.target, r.repeat) for r in reported}

        again = FakeTarget()
        summary = await run(data, [again], store, assistant, resume=info.run_id)
    assert summary.status == "completed" and summary.skipped == len(kept)
    assert again.total_calls == len(data) - len(kept)
    assert not set(again.calls) & {case for case, _, _ in kept}
    assert_stored_once(db, info.run_id, all_keys(data, ["fake"], 1))


# -- SIGKILL and resume, for real ----------------------------------------------------------------

N_CASES = 200
REPEATS = 2
TOTAL = N_CASES * REPEATS

KILL_SCRIPT = f'''
"""An eval the test kills: {N_CASES} cases x {REPEATS} repeats, 30 ms each, 4 at a time."""
import argparse
import asyncio

import evals
from assistant.agent import build_assistant
from assistant.config import Settings
from evals.targets import CallableTarget


async def answer(case):
    await asyncio.sleep(0.03)  # the workload: a provider's latency
    return f"answer {{case.id}}"


async def main():
    parser = argparse.ArgumentParser()
    parser.add_argument("db")
    parser.add_argument("--resume")
    args = parser.parse_args()
    cases = [
        evals.Case(id=f"c{{i:03d}}", input=f"question {{i}}", expected=f"answer c{{i:03d}}")
        for i in range({N_CASES})
    ]
    data = evals.Dataset(name="kill", cases=cases)
    assistant = build_assistant(Settings())
    done = 0

    def started(run, units):
        print(f"start {{run.run_id}} {{run.n_results}} {{units}}", flush=True)

    def progressed(result):
        nonlocal done
        done += 1
        print(f"done {{done}}", flush=True)

    with evals.EvalStore(args.db) as store:
        summary = await evals.run_eval(
            data,
            [CallableTarget("fake", answer, group="fake")],
            store=store,
            assistant=assistant,
            make_scorer=evals.scorer_factory(assistant),
            options=evals.RunOptions(repeats={REPEATS}, concurrency={{"fake": 4}}),
            resume=args.resume,
            on_start=started,
            on_result=progressed,
        )
    print(f"finished {{summary.status}} {{summary.done}}", flush=True)


asyncio.run(main())
'''


def _start(script: Path, db: Path, resume: str | None) -> tuple[subprocess.Popen[str], LineReader]:
    command = [sys.executable, str(script), str(db)]
    if resume is not None:
        command += ["--resume", resume]
    process = subprocess.Popen(
        command,
        cwd=script.parent,
        env=clean_environ(),
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    assert process.stdout is not None
    return process, LineReader(process.stdout)


def _start_line(reader: LineReader) -> tuple[str, int, int]:
    """The run id, results already kept, and units to run, from the child's first line."""
    _, run_id, kept, units = reader.wait_for(lambda s: s.startswith("start "), 60).split()
    return run_id, int(kept), int(units)


def test_a_run_killed_repeatedly_resumes_to_exactly_one_row_per_unit(tmp_path: Path) -> None:
    script = tmp_path / "kill_eval.py"
    script.write_text(KILL_SCRIPT, encoding="utf-8")
    db = tmp_path / "kill.duckdb"
    chance = random.Random(20260101)  # kill points, not secrets
    kills = 3
    began = time.monotonic()

    run_id: str | None = None
    stored = 0
    for round_ in range(kills):
        process, reader = _start(script, db, run_id)
        try:
            started_id, kept, units = _start_line(reader)
            if run_id is None:
                run_id = started_id
            assert started_id == run_id
            assert kept == stored and kept + units == TOTAL  # nothing lost, nothing twice
            # Kill at a point that varies against the 25-result write batches: mid-batch, or
            # just after one.
            after = chance.randint(15, 80)
            reader.wait_for(lambda s, n=after: s == f"done {n}", timeout=30)
            process.send_signal(signal.SIGKILL)
            assert process.wait(timeout=10) == -signal.SIGKILL
        finally:
            stop(process)
        # the lock died with the process: the store opens, and holds each unit at most once
        with EvalStore(db, read_only=True) as store:
            info = store.run(run_id)
            keys = store.done_keys(run_id)
        assert info.status == "running"  # killed: it never had the chance to say otherwise
        assert info.n_results == len(keys)
        assert len(keys) >= stored, "a kill lost results that were already stored"
        assert len(keys) < TOTAL, f"round {round_}: the run finished before the kill"
        stored = len(keys)
    assert stored > 0

    process, reader = _start(script, db, run_id)
    try:
        _, kept, units = _start_line(reader)
        assert kept == stored and kept + units == TOTAL
        reader.wait_for(lambda s: s.startswith("finished "), timeout=60)
        assert process.wait(timeout=30) == 0
    finally:
        stop(process)
    assert reader.seen[-1] == f"finished completed {units}"

    with EvalStore(db, read_only=True) as store:
        info = store.run(run_id)
        frame = store.frame([run_id])
    assert info.status == "completed" and info.n_results == TOTAL
    expected = {(f"c{i:03d}", "fake", r) for i in range(N_CASES) for r in range(REPEATS)}
    assert_stored_once(db, run_id, expected)
    assert len(frame) == TOTAL  # one score (contains) per result row, none missing
    assert frame["scorer"].eq("contains").all() and frame["value"].eq(1.0).all()
    assert frame["error"].isna().all()
    assert rows(db, "SELECT count(*), count(DISTINCT (case_id, target, repeat)) FROM scores") == [
        (TOTAL, TOTAL)
    ]
    assert time.monotonic() - began < 60
