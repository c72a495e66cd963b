"""SIGKILL of a real ``assistant eval run``, 1 to 5 times, then ``--resume`` to completion.

The run's target is a Python function (``py:slow_target:answer``) that takes a few
milliseconds per case and appends the unit it answered to a log file, so the test knows how
far the run got and kills it at a point drawn from a seeded generator. After every kill the
store holds each (case, target, repeat) at most once and never fewer than before; after the
resume it holds every one exactly once, with one score each, and the run is ``completed``.
"""

from __future__ import annotations

import json
import random
import signal
import subprocess
import sys
import time
from functools import partial
from pathlib import Path

import duckdb
import pytest

from tests.conftest import clean_environ
from tests.faults.support import wait_for
from tests.scoreboard import Figures

pytestmark = pytest.mark.slow

N_CASES = 100
REPEATS = 2
TOTAL = N_CASES * REPEATS
TARGET = "py:slow_target:answer"

SLOW_TARGET = '''
"""An eval target that takes a little time and logs each unit it answers."""
import asyncio
import os


async def answer(case):
    await asyncio.sleep(0.03)  # a provider's latency
    with open(os.environ["FAULTS_ANSWER_LOG"], "a", encoding="utf-8") as log:
        log.write(case.id + "\\n")
    return f"answer {case.id}"
'''


def _prepare(folder: Path) -> Path:
    (folder / "slow_target.py").write_text(SLOW_TARGET, encoding="utf-8")
    data = folder / "kill.jsonl"
    data.write_text(
        "".join(
            json.dumps(
                {"id": f"c{i:03d}", "input": f"question {i}", "expected": f"answer c{i:03d}"}
            )
            + "\n"
            for i in range(N_CASES)
        ),
        encoding="utf-8",
    )
    return data


def _start(folder: Path, data: Path, db: Path, resume: str | None) -> subprocess.Popen[bytes]:
    command = [sys.executable, "-m", "assistant.cli", "eval", "run", str(data), "-t", TARGET,
               "--repeat", str(REPEATS), "--db", str(db)]  # fmt: skip
    if resume is not None:
        command += ["--resume", resume]
    return subprocess.Popen(
        command,
        cwd=folder,
        env={**clean_environ(), "FAULTS_ANSWER_LOG": str(folder / "answers.log")},
        stdout=subprocess.DEVNULL,
        stderr=subprocess.PIPE,
    )


def _answered(folder: Path) -> int:
    log = folder / "answers.log"
    return len(log.read_text(encoding="utf-8").splitlines()) if log.exists() else 0


def _reached(folder: Path, answers: int, process: subprocess.Popen[bytes]) -> bool:
    """The run answered ``answers`` units in all, or ended."""
    return _answered(folder) >= answers or process.poll() is not None


def _stored(db: Path) -> tuple[list[tuple[str, str, str]], list[tuple[str, str, int]]]:
    """The runs (id, status, finished?) and every stored result key."""
    with duckdb.connect(str(db), read_only=True) as con:
        runs = con.execute("SELECT run_id, status, finished_at FROM runs").fetchall()
        keys = con.execute("SELECT case_id, target, repeat FROM results").fetchall()
    return (
        [(str(r), str(s), str(f)) for r, s, f in runs],
        [(str(c), str(t), int(n)) for c, t, n in keys],
    )


@pytest.mark.parametrize("kills", [1, 3, 5])
@pytest.mark.scoreboard("fault", "SIGKILL of an eval run, then resume")
def test_an_eval_run_killed_then_resumed_stores_every_unit_once(
    tmp_path: Path, scoreboard: Figures, kills: int
) -> None:
    data = _prepare(tmp_path)
    db = tmp_path / "evals.duckdb"
    chance = random.Random(1000 + kills)  # kill points: deterministic, not secrets
    began = time.monotonic()
    run_id: str | None = None
    stored = 0
    for round_ in range(kills):  # bounded: `kills` rounds, each bounded in time below
        process = _start(tmp_path, data, db, run_id)
        try:
            at = _answered(tmp_path) + chance.randint(10, 35)  # units into this attempt
            reached = partial(_reached, tmp_path, at, process)
            wait_for(reached, 60, interval=0.01, what=f"round {round_}: {at} answers")
            assert process.poll() is None, f"round {round_}: the run ended before the kill"
            process.send_signal(signal.SIGKILL)
            assert process.wait(timeout=10) == -signal.SIGKILL
        finally:
            if process.poll() is None:
                process.kill()
                process.wait(timeout=10)
        runs, keys = _stored(db)
        assert len(runs) == 1, f"a resume started a new run: {runs}"
        run_id, status, _ = runs[0]
        assert status == "running"  # killed: it never had the chance to say otherwise
        assert len(keys) == len(set(keys)), "a unit was stored twice"
        assert len(keys) >= stored, "a kill lost results that were already stored"
        assert len(keys) < TOTAL
        stored = len(keys)

    final = _start(tmp_path, data, db, run_id)
    try:
        _, stderr = final.communicate(timeout=90)
    finally:
        if final.poll() is None:
            final.kill()
            final.wait(timeout=10)
    assert final.returncode == 0, stderr.decode(errors="replace")[-2000:]

    runs, keys = _stored(db)
    assert [(r, s) for r, s, _ in runs] == [(run_id, "completed")]
    expected = {(f"c{i:03d}", TARGET, r) for i in range(N_CASES) for r in range(REPEATS)}
    assert len(keys) == TOTAL and set(keys) == expected  # none lost, none twice
    with duckdb.connect(str(db), read_only=True) as con:
        scores = con.execute(
            "SELECT count(*), count(DISTINCT (case_id, target, repeat)) FROM scores"
        ).fetchone()
    assert scores == (TOTAL, TOTAL)
    answered = _answered(tmp_path)
    assert answered >= TOTAL  # units answered but killed before being stored ran again
    scoreboard.record(
        kills=kills,
        units=TOTAL,
        stored_before_resume=stored,
        answered=answered,
        lost=0,
        duplicated=0,
        seconds=round(time.monotonic() - began, 1),
    )
