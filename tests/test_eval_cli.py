"""``assistant eval ...`` as a user runs it: real CLI subprocesses on a real DuckDB store.

Failures are one line on stderr with the right exit code, never a traceback; a run can be
stopped with Ctrl-C (SIGINT) and resumed; and, marked slow, the whole workflow on the real
local model: run twice, list, show, compare, report, export, gate.
"""

from __future__ import annotations

import json
import signal
import subprocess
import sys
import time
from pathlib import Path

import pandas as pd
import pytest

from evals import CaseResult, EvalStore, Score, TargetOutput
from tests.conftest import clean_environ
from tests.evals_support import case_result, run_info, stop

TARGET = "py:fake_target:answer"

FAKE_TARGET = '''
"""A target the CLI imports from the working directory (`py:fake_target:answer`)."""
import asyncio
import os
from pathlib import Path

CALLS = Path(__file__).with_name("calls.log")


async def answer(case):
    with CALLS.open("a", encoding="utf-8") as log:
        log.write(case.id + "\\n")
    await asyncio.sleep(float(os.environ.get("FAKE_LATENCY", "0")))  # a provider's latency
    return f"answer {case.id}"
'''


@pytest.fixture
def env(tmp_path: Path) -> dict[str, str]:
    """The user's environment without ASSISTANT_ settings, the store in ``tmp_path``."""
    return {
        **clean_environ(),
        "ASSISTANT_EVALS__DB": str(tmp_path / "runs.duckdb"),
        "COLUMNS": "200",  # tables wide enough to show whole run ids
    }


def cli(
    *args: str, cwd: Path, env: dict[str, str], timeout: float = 60
) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "assistant.cli", "eval", *args],
        cwd=cwd,
        env=env,
        capture_output=True,
        text=True,
        timeout=timeout,
        check=False,
    )


def one_error_line(result: subprocess.CompletedProcess[str]) -> str:
    """The failure's stderr, checked to be a single ``error:`` line without a traceback."""
    lines = [line for line in result.stderr.splitlines() if line.strip()]
    assert "Traceback" not in result.stderr
    assert len(lines) == 1, result.stderr
    assert lines[0].startswith("error: ")
    return lines[0]


def write_cases(path: Path, n: int) -> Path:
    path.write_text(
        "".join(
            json.dumps(
                {"id": f"c{i:03d}", "input": f"q {i}", "expected": f"answer c{i:03d}"}
                | {"scorers": ["exact"]}
            )
            + "\n"
            for i in range(n)
        ),
        encoding="utf-8",
    )
    return path


# -- failures are one line ---------------------------------------------------------------------


def test_a_bad_dataset_is_exit_2_with_file_and_line(tmp_path: Path, env: dict[str, str]) -> None:
    bad = tmp_path / "bad.jsonl"
    bad.write_text('{"id": "a", "input": "fine"}\n{"id": "b"}\n', "utf-8")
    result = cli("run", "bad.jsonl", "--target", TARGET, cwd=tmp_path, env=env)
    assert result.returncode == 2
    line = one_error_line(result)
    assert "bad.jsonl:2:" in line and "'input'" in line

    # several problems: a summary line, then one line each, every one with its file:line
    bad.write_text('{"id": "a", "input": ""}\n{"id": "b", "inptu": "typo"}\n', "utf-8")
    result = cli("run", "bad.jsonl", "--target", TARGET, cwd=tmp_path, env=env)
    assert result.returncode == 2 and "Traceback" not in result.stderr
    lines = result.stderr.strip().splitlines()
    assert lines[0] == "error: bad.jsonl: 3 problems"
    assert [line.split(": ")[0] for line in lines[1:]] == [
        "bad.jsonl:1",
        "bad.jsonl:2",
        "bad.jsonl:2",
    ]
    assert not (tmp_path / "runs.duckdb").exists()  # nothing ran, nothing stored


def test_an_unknown_target_is_one_line_and_creates_no_store(
    tmp_path: Path, env: dict[str, str]
) -> None:
    write_cases(tmp_path / "cases.jsonl", 2)
    for target in ("nosuch:model", "py:no_such_module:answer"):
        result = cli("run", "cases.jsonl", "--target", target, cwd=tmp_path, env=env)
        assert result.returncode in (1, 2)
        assert target.split(":")[0] in one_error_line(result)
    assert not (tmp_path / "runs.duckdb").exists()


def test_reading_a_missing_store_is_a_clear_error(tmp_path: Path, env: dict[str, str]) -> None:
    for args in (["list"], ["show", "latest"], ["export", "latest", "--csv", "out.csv"]):
        result = cli(*args, cwd=tmp_path, env=env)
        assert result.returncode == 1
        assert "does not exist" in one_error_line(result)
    assert not (tmp_path / "runs.duckdb").exists()


def test_an_unknown_run_is_a_clear_error(tmp_path: Path, env: dict[str, str]) -> None:
    with EvalStore(tmp_path / "runs.duckdb") as store:
        store.create_run(run_info("20260101-000000-aaaaaa"))
        store.add_results([case_result("20260101-000000-aaaaaa", "c1")])
    for args in (
        ["show", "zzz"],
        ["export", "zzz", "--csv", "out.csv"],
        ["report", "zzz", "--html", "out.html"],
        ["gate", "--baseline", "zzz"],
    ):
        result = cli(*args, cwd=tmp_path, env=env)
        assert result.returncode in (1, 2), args
        assert "no run 'zzz'" in one_error_line(result)
    assert not (tmp_path / "out.csv").exists() and not (tmp_path / "out.html").exists()
    # a gate needs a second run to check
    result = cli("gate", "--baseline", "20260101", cwd=tmp_path, env=env)
    assert result.returncode == 2
    assert "give --candidate" in one_error_line(result)


# -- a run through the CLI, stopped and resumed ----------------------------------------------------


def test_run_list_show_and_export_with_a_python_target(tmp_path: Path, env: dict[str, str]) -> None:
    (tmp_path / "fake_target.py").write_text(FAKE_TARGET, encoding="utf-8")
    write_cases(tmp_path / "cases.jsonl", 12)
    result = cli("run", "cases.jsonl", "--target", TARGET, "--repeat", "2", cwd=tmp_path, env=env)
    assert result.returncode == 0, result.stderr
    assert TARGET in result.stdout and "exact" in result.stdout and "1.000" in result.stdout
    assert "24 results" in result.stderr and "0 target errors" in result.stderr

    with EvalStore(tmp_path / "runs.duckdb", read_only=True) as store:
        (run,) = store.runs()
    assert (run.status, run.n_results, run.repeats) == ("completed", 24, 2)

    listed = cli("list", cwd=tmp_path, env=env)
    assert listed.returncode == 0
    assert run.run_id in listed.stdout and "completed" in listed.stdout
    assert "24/24" in listed.stdout

    shown = cli("show", run.run_id[:17], cwd=tmp_path, env=env)
    assert shown.returncode == 0
    assert run.run_id in shown.stderr and "24 results" in shown.stderr
    assert TARGET in shown.stdout

    exported = cli("export", "latest", "--csv", "out/run.csv", cwd=tmp_path, env=env)
    assert exported.returncode == 0, exported.stderr
    frame = pd.read_csv(tmp_path / "out" / "run.csv")
    assert len(frame) == 24 and set(frame["value"]) == {1.0}


def test_show_explains_why_scores_failed(tmp_path: Path, env: dict[str, str]) -> None:
    (tmp_path / "fake_target.py").write_text(FAKE_TARGET, encoding="utf-8")
    cases = [{"id": f"n{i}", "input": "q", "scorers": ["exact"]} for i in range(3)]
    (tmp_path / "cases.jsonl").write_text("".join(json.dumps(c) + "\n" for c in cases))
    assert cli("run", "cases.jsonl", "--target", TARGET, cwd=tmp_path, env=env).returncode == 0
    shown = cli("show", "latest", cwd=tmp_path, env=env)
    assert shown.returncode == 0, shown.stderr
    failures = shown.stdout.split("Why results failed")[1]
    (line,) = [line for line in failures.splitlines() if "exact" in line]
    assert "│     3 │" in line and "reference" in line  # 3 times: no reference answer


LONG_REASON = "wrong argument\n   'unit':   " + "x" * 300


def bfcl_store(path: Path) -> None:
    """A run of two targets on five BFCL-style cases, tagged by category, with reasons."""
    # case, tags, then per target (t1, t2): the score and its reason (None: the scorer failed)
    cases = [
        ("simple-1", "simple", (1.0, "ok"), (0.0, "called get_weather, expected get_forecast")),
        ("simple-2", "simple", (1.0, "ok"), (1.0, "ok")),
        ("parallel-1", "parallel", (1.0, "ok"), (0.0, LONG_REASON)),
        ("parallel-2", "parallel", (0.0, "expected 2 calls, got 1"), (None, None)),
        ("irrelevance-1", "irrelevance", (1.0, "ok"), (0.0, "called a function, none fits")),
    ]
    results = [
        CaseResult(
            run_id="20260101-000000-bbbbbb",
            case_id=case,
            target=target,
            repeat=0,
            output=TargetOutput(output="[]", latency_s=0.01),
            scores=[
                Score("ast", value, reason, error="judge timed out" if value is None else None)
            ],
            tags=["bfcl", category],
        )
        for case, category, *scores in cases
        for target, (value, reason) in zip(("t1", "t2"), scores, strict=True)
    ]
    with EvalStore(path) as store:
        store.create_run(run_info("20260101-000000-bbbbbb", n_cases=5, targets=["t1", "t2"]))
        store.add_results(results)


def table_rows(text: str, title: str) -> list[list[str]]:
    """The body rows (cells stripped) of the rich table printed under ``title``."""
    lines = text.split(title, 1)[1].splitlines()
    end = next(i for i, line in enumerate(lines) if line.startswith("└"))
    return [
        [cell.strip() for cell in line.strip("│").split("│")]
        for line in lines[:end]
        if line.startswith("│")
    ]


def test_show_gives_results_by_tag_and_a_line_per_failed_case(
    tmp_path: Path, env: dict[str, str]
) -> None:
    bfcl_store(tmp_path / "runs.duckdb")
    shown = cli("show", "latest", cwd=tmp_path, env=env)
    assert shown.returncode == 0, shown.stderr
    # per tag, the targets in leaderboard order (t1 0.800 first); Wilson intervals over cases
    assert table_rows(shown.stdout, "By tag") == [
        ["bfcl", "t1", "0.800", "0.38-0.96", "5", "0"],
        ["bfcl", "t2", "0.250", "0.05-0.70", "4", "1"],
        ["irrelevance", "t1", "1.000", "—", "1", "0"],
        ["irrelevance", "t2", "0.000", "—", "1", "0"],
        ["parallel", "t1", "0.500", "0.09-0.91", "2", "0"],
        ["parallel", "t2", "0.000", "—", "1", "1"],
        ["simple", "t1", "1.000", "0.34-1.00", "2", "0"],
        ["simple", "t2", "0.500", "0.09-0.91", "2", "0"],
    ]
    # the errored score is in the error table, not among the failed cases
    errors = table_rows(shown.stdout, "Why results failed")
    assert errors == [["ast", "1", "judge timed out"]]
    failed = table_rows(shown.stdout, "Failed cases")
    assert [row[:3] for row in failed] == [
        ["irrelevance-1", "t2", "ast"],
        ["parallel-1", "t2", "ast"],
        ["parallel-2", "t1", "ast"],
        ["simple-1", "t2", "ast"],
    ]
    reasons = [row[3] for row in failed]
    assert reasons[0] == "called a function, none fits"
    assert reasons[1].startswith("wrong argument 'unit': xxx") and reasons[1].endswith("…")
    assert len(reasons[1]) <= 160  # whitespace collapsed, cut, on one line
    assert reasons[2:] == ["expected 2 calls, got 1", "called get_weather, expected get_forecast"]
    assert "more" not in shown.stdout.split("Failed cases", 1)[1]

    limited = cli("show", "latest", "--failures", "2", cwd=tmp_path, env=env)
    assert limited.returncode == 0, limited.stderr
    assert [row[0] for row in table_rows(limited.stdout, "Failed cases")] == [
        "irrelevance-1",
        "parallel-1",
    ]
    assert "... and 2 more" in limited.stdout

    quiet = cli("show", "latest", "--no-by-tag", "--failures", "0", cwd=tmp_path, env=env)
    assert quiet.returncode == 0, quiet.stderr
    assert "By tag" not in quiet.stdout and "Failed cases" not in quiet.stdout
    assert "Why results failed" in quiet.stdout and "t1" in quiet.stdout


def test_show_without_tags_has_no_by_tag_table(tmp_path: Path, env: dict[str, str]) -> None:
    with EvalStore(tmp_path / "runs.duckdb") as store:
        store.create_run(run_info("20260101-000000-aaaaaa"))
        store.add_results([case_result("20260101-000000-aaaaaa", f"c{i}") for i in range(3)])
    shown = cli("show", "latest", cwd=tmp_path, env=env)
    assert shown.returncode == 0, shown.stderr
    assert "fake" in shown.stdout
    assert "By tag" not in shown.stdout and "Failed cases" not in shown.stdout


def test_ctrl_c_stops_a_run_cleanly_and_it_resumes(tmp_path: Path, env: dict[str, str]) -> None:
    (tmp_path / "fake_target.py").write_text(FAKE_TARGET, encoding="utf-8")
    write_cases(tmp_path / "cases.jsonl", 200)
    calls = tmp_path / "calls.log"
    process = subprocess.Popen(
        [sys.executable, "-m", "assistant.cli", "eval", "run", "cases.jsonl", "-t", TARGET],
        cwd=tmp_path,
        env={**env, "FAKE_LATENCY": "0.05"},
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    try:
        deadline = time.monotonic() + 30
        while not (calls.exists() and len(calls.read_text("utf-8").splitlines()) >= 10):
            assert process.poll() is None, "the run ended before it could be interrupted"
            assert time.monotonic() < deadline, "the run did not start calling the target"
            time.sleep(0.02)  # polling interval for a file to grow, not synchronisation
        process.send_signal(signal.SIGINT)
        _, stderr = process.communicate(timeout=30)
    finally:
        stop(process)
    assert process.returncode == 130, stderr
    assert "Traceback" not in stderr

    with EvalStore(tmp_path / "runs.duckdb", read_only=True) as store:
        (run,) = store.runs()
    assert run.status == "interrupted"
    assert 0 < run.n_results < 200
    assert f"interrupted: resume with --resume {run.run_id}" in stderr

    resumed = cli("run", "cases.jsonl", "-t", TARGET, "--resume", run.run_id, cwd=tmp_path, env=env)
    assert resumed.returncode == 0, resumed.stderr
    assert f"{run.n_results} results kept" in resumed.stderr
    assert f"{200 - run.n_results} results in" in resumed.stderr
    with EvalStore(tmp_path / "runs.duckdb", read_only=True) as store:
        info = store.run(run.run_id)
        keys = store.done_keys(run.run_id)
    assert info.status == "completed" and info.n_results == 200
    assert keys == {(f"c{i:03d}", TARGET, 0) for i in range(200)}


# -- the real local model, end to end ------------------------------------------------------------


@pytest.mark.slow
def test_the_whole_workflow_on_the_local_model(tmp_path: Path, env: dict[str, str]) -> None:
    began = time.monotonic()
    run = ["run", "tool_use", "--target", "local:smollm2", "--limit", "3"]
    for _ in range(2):
        result = cli(*run, cwd=tmp_path, env=env, timeout=120)
        assert result.returncode == 0, result.stderr
        assert "local:smollm2" in result.stdout and "numeric" in result.stdout
    with EvalStore(tmp_path / "runs.duckdb", read_only=True) as store:
        second, first = store.runs()
    for info in (first, second):
        assert info.status == "completed" and info.dataset_name == "tool_use"
        assert info.n_results == 3 and info.targets == ["local:smollm2"]

    listed = cli("list", cwd=tmp_path, env=env)
    assert listed.returncode == 0
    assert first.run_id in listed.stdout and second.run_id in listed.stdout
    assert listed.stdout.count("3/3") == 2

    shown = cli("show", "latest", cwd=tmp_path, env=env)
    assert shown.returncode == 0 and second.run_id in shown.stderr
    assert "tool_called" in shown.stdout and "numeric" in shown.stdout

    compared = cli("compare", first.run_id, second.run_id, cwd=tmp_path, env=env)
    assert compared.returncode == 0, compared.stderr
    assert f"{second.run_id} / local:smollm2 vs {first.run_id}" in compared.stdout
    assert "over 3 paired cases" in compared.stdout
    assert "Cases, worst change first" in compared.stdout
    assert "calc-mul-1" in compared.stdout and "latency p50" in compared.stdout

    reported = cli("report", "latest", "--html", "out.html", cwd=tmp_path, env=env)
    assert reported.returncode == 0, reported.stderr
    page = (tmp_path / "out.html").read_text(encoding="utf-8")
    assert "<svg" in page and "local:smollm2" in page

    exported = cli("export", "latest", "--parquet", "out.parquet", cwd=tmp_path, env=env)
    assert exported.returncode == 0, exported.stderr
    frame = pd.read_parquet(tmp_path / "out.parquet")
    assert len(frame) > 0 and set(frame["run_id"]) == {second.run_id}
    assert set(frame["scorer"]) == {"numeric", "tool_called"}

    gated = cli(
        "gate",
        "--baseline",
        first.run_id,
        "--candidate",
        second.run_id,
        "--max-drop",
        "1.0",
        cwd=tmp_path,
        env=env,
    )
    assert gated.returncode == 0, gated.stdout + gated.stderr
    assert time.monotonic() - began < 120
