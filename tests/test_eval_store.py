"""The DuckDB eval store on real files: migrations, upgrades, unique results, lookups, exports,
and the clear errors for a file that is locked by another process, corrupt or missing."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import duckdb
import pandas as pd
import pytest

from evals import Case, EvalStore, StoreError
from evals.store import MIGRATIONS
from tests.conftest import clean_environ
from tests.evals_support import LineReader, case_result, execute, rows, run_info, stop

FRAME_COLUMNS = [
    "run_id",
    "case_id",
    "target",
    "repeat",
    "scorer",
    "value",
    "score_error",
    "reason",
    "error",
    "output",
    "latency_s",
    "ttft_s",
    "prompt_tokens",
    "completion_tokens",
    "cost_usd",
    "tags",
    "prompt",
    "expected",
]


@pytest.fixture
def db(tmp_path: Path) -> Path:
    return tmp_path / "store" / "runs.duckdb"


def _old_store(path: Path) -> None:
    """A file as the first released version left it: only migration 1, with one run stored.

    Written with raw SQL (exactly what ``migrate(MIGRATIONS[:1])`` executes), because opening
    an ``EvalStore`` for writing would apply every migration.
    """
    first = MIGRATIONS[0]
    execute(
        path,
        "CREATE TABLE schema_migrations (name TEXT PRIMARY KEY, applied_at TIMESTAMPTZ NOT NULL)",
        *first.statements,
        ("INSERT INTO schema_migrations VALUES (?, TIMESTAMPTZ '2025-06-01 00:00Z')", [first.name]),
        """INSERT INTO runs VALUES ('old-run', TIMESTAMPTZ '2025-06-01 00:00Z', NULL,
            'completed', 'demo', NULL, 'h', 2, '["fake"]', 1, '{}', NULL, '{}')""",
        """INSERT INTO results VALUES
            ('old-run', 'c1', 'fake', 0, 'yes', NULL, 0.5, NULL, 3, 4, NULL, '["a"]', now()),
            ('old-run', 'c2', 'fake', 0, '', 'boom', 0.1, NULL, 0, 0, NULL, '[]', now())""",
        """INSERT INTO scores VALUES ('old-run', 'c1', 'fake', 0, 'exact', 1.0, 'same', NULL),
            ('old-run', 'c2', 'fake', 0, 'exact', NULL, NULL, 'target failed: boom')""",
    )


# -- migrations -----------------------------------------------------------------------------


def test_a_fresh_file_gets_every_migration_in_order(db: Path) -> None:
    with EvalStore(db) as store:
        assert store.applied_migrations() == [m.name for m in MIGRATIONS]
        assert store.pending_migrations() == []
        assert store.migrate() == []  # idempotent: nothing left to apply
    applied_order = rows(db, "SELECT name FROM schema_migrations ORDER BY applied_at, name")
    assert [name for (name,) in applied_order] == [m.name for m in MIGRATIONS]
    with EvalStore(db) as store:  # reopening for writing applies nothing twice
        assert store.applied_migrations() == [m.name for m in MIGRATIONS]
    assert rows(db, "SELECT count(*) FROM schema_migrations") == [(len(MIGRATIONS),)]


def test_an_old_file_is_upgraded_on_open_for_writing_and_keeps_its_rows(db: Path) -> None:
    db.parent.mkdir()
    _old_store(db)
    columns = {name for (name,) in rows(db, "SELECT column_name FROM duckdb_columns()")}
    assert "trajectory" not in columns and "details" not in columns  # really the old schema

    with EvalStore(db) as store:
        assert store.applied_migrations() == [m.name for m in MIGRATIONS]
        assert [run.run_id for run in store.runs()] == ["old-run"]
        assert store.run("old-run").n_results == 2
        frame = store.frame(["old-run"])
        assert list(frame["case_id"]) == ["c1", "c2"]
        assert list(frame["output"]) == ["yes", ""]
        assert frame["tags"].tolist() == [["a"], []]
        assert frame["score_error"].tolist()[1] == "target failed: boom"
        # new rows use the new columns next to the old ones
        store.add_results([case_result("old-run", "c3")])
    assert rows(db, "SELECT case_id, trajectory FROM results ORDER BY case_id") == [
        ("c1", "[]"),
        ("c2", "[]"),
        ("c3", "[]"),
    ]
    assert rows(db, "SELECT case_id, details FROM scores ORDER BY case_id") == [
        ("c1", "{}"),
        ("c2", "{}"),
        ("c3", "{}"),
    ]


def test_an_old_file_opened_read_only_asks_to_open_it_for_writing(db: Path) -> None:
    db.parent.mkdir()
    _old_store(db)
    with pytest.raises(StoreError, match="open it once for writing") as caught:
        EvalStore(db, read_only=True)
    assert MIGRATIONS[1].name in str(caught.value)
    # a read-only open changed nothing: the file is still at version 1
    assert rows(db, "SELECT name FROM schema_migrations") == [(MIGRATIONS[0].name,)]


# -- results ---------------------------------------------------------------------------------


def test_results_are_unique_per_run_case_target_and_repeat(db: Path) -> None:
    with EvalStore(db) as store:
        store.create_run(run_info("r1", targets=["a", "b"], repeats=2))
        stored = store.add_results(
            [
                case_result("r1", "c1", target="a", repeat=0),
                case_result("r1", "c1", target="a", repeat=1),
                case_result("r1", "c1", target="b", repeat=0),
                case_result("r1", "c2", target="a", repeat=0),
            ]
        )
        assert stored == 4
        with pytest.raises((duckdb.ConstraintException, StoreError)):
            store.add_results([case_result("r1", "c1", target="a", repeat=1)])
        # a batch holding one duplicate is refused whole: nothing of it is half-stored
        with pytest.raises((duckdb.ConstraintException, StoreError)):
            store.add_results(
                [case_result("r1", "c9", target="a"), case_result("r1", "c2", target="a")]
            )
        assert store.done_keys("r1") == {
            ("c1", "a", 0),
            ("c1", "a", 1),
            ("c1", "b", 0),
            ("c2", "a", 0),
        }
        assert store.add_results([]) == 0
        # the connection is still usable after the refused writes
        assert store.add_results([case_result("r1", "c9", target="a")]) == 1
    assert rows(db, "SELECT count(*) FROM scores WHERE case_id = 'c9'") == [(1,)]


def test_done_keys_are_per_run(db: Path) -> None:
    with EvalStore(db) as store:
        store.create_run(run_info("r1"))
        store.create_run(run_info("r2", minutes=1))
        assert store.done_keys("r1") == set()
        store.add_results([case_result("r1", "c1"), case_result("r1", "c2", repeat=3)])
        store.add_results([case_result("r2", "c1", target="other")])
        assert store.done_keys("r1") == {("c1", "fake", 0), ("c2", "fake", 3)}
        assert store.done_keys("r2") == {("c1", "other", 0)}
        assert store.done_keys("nope") == set()


# -- runs ------------------------------------------------------------------------------------


def test_runs_are_newest_first_with_their_result_counts(db: Path) -> None:
    with EvalStore(db) as store:
        store.create_run(run_info("20260101-000000-aaaaaa", minutes=0))
        store.create_run(run_info("20260101-000200-cccccc", minutes=2))
        store.create_run(run_info("20260101-000100-bbbbbb", minutes=1))
        store.add_results([case_result("20260101-000000-aaaaaa", f"c{i}") for i in range(3)])
        store.add_results([case_result("20260101-000200-cccccc", "c0")])
        store.finish_run("20260101-000000-aaaaaa", "completed")
        runs = store.runs()
    assert [(r.run_id, r.n_results) for r in runs] == [
        ("20260101-000200-cccccc", 1),
        ("20260101-000100-bbbbbb", 0),
        ("20260101-000000-aaaaaa", 3),
    ]
    oldest = runs[-1]
    assert oldest.status == "completed" and oldest.finished_at is not None
    assert runs[0].status == "running" and runs[0].finished_at is None
    # JSON columns come back as Python values
    assert oldest.targets == ["fake"] and oldest.config == {"timeout": 1.0}
    assert oldest.versions == {"duckdb": duckdb.__version__}


def test_run_lookup_by_latest_prefix_and_ambiguity(db: Path) -> None:
    with EvalStore(db) as store:
        with pytest.raises(StoreError, match="no run"):
            store.run("latest")
        store.create_run(run_info("20260101-000000-aaaaaa", minutes=0))
        store.create_run(run_info("20260101-000100-abcdef", minutes=1))
        store.create_run(run_info("20260101-000100-abd000", minutes=2))
        store.add_results([case_result("20260101-000100-abcdef", "c1")])

        assert store.run("latest").run_id == "20260101-000100-abd000"
        assert store.run("20260101-000000").run_id == "20260101-000000-aaaaaa"
        found = store.run("20260101-000100-abc")
        assert found.run_id == "20260101-000100-abcdef" and found.n_results == 1
        assert store.run("20260101-000100-abcdef").run_id == "20260101-000100-abcdef"
        with pytest.raises(StoreError, match="matches 2 runs: give more of the id"):
            store.run("20260101-000100-ab")
        with pytest.raises(StoreError, match="no run 'zzz'"):
            store.run("zzz")
        with pytest.raises(StoreError, match="matches 3 runs"):
            store.run("2026")


def test_an_exact_id_wins_over_longer_ids_it_prefixes(db: Path) -> None:
    with EvalStore(db) as store:
        store.create_run(run_info("nightly", minutes=0))
        store.create_run(run_info("nightly-2", minutes=1))  # newer, and "nightly" prefixes it
        assert store.run("nightly").run_id == "nightly"
        assert store.run("nightly-").run_id == "nightly-2"


# -- reading and exporting ---------------------------------------------------------------------


def _two_runs(store: EvalStore) -> None:
    store.create_run(run_info("r1"))
    store.create_run(run_info("r2", minutes=1))
    store.add_results(
        [
            case_result("r1", "c1", scores={"exact": 1.0, "contains": 1.0}, tags=["x", "y"]),
            case_result("r1", "c2", scores={"exact": 0.0, "contains": 1.0}),
            case_result("r1", "c3", error="boom", scores={"exact": None}),
            case_result("r1", "c4", scores={}),  # no scorer applied: still one row
            case_result("r2", "c1", scores={"exact": 1.0}),
        ]
    )


def test_frame_has_one_row_per_score(db: Path) -> None:
    with EvalStore(db) as store:
        _two_runs(store)
        frame = store.frame(["r1"])
        everything = store.frame()
    assert list(frame.columns) == FRAME_COLUMNS
    assert len(frame) == 2 + 2 + 1 + 1
    assert set(frame["run_id"]) == {"r1"} and len(everything) == len(frame) + 1
    by_key = {(r.case_id, r.scorer): r for r in frame.itertuples()}
    assert by_key[("c1", "contains")].value == 1.0
    assert by_key[("c2", "exact")].value == 0.0
    assert by_key[("c1", "exact")].tags == ["x", "y"]
    failed = by_key[("c3", "exact")]
    assert failed.error == "boom" and pd.isna(failed.value)
    unscored = frame[frame["case_id"] == "c4"]
    assert len(unscored) == 1 and pd.isna(unscored["scorer"].iloc[0])


def test_cases_are_recorded_once_and_joined_into_the_frame(db: Path) -> None:
    cases = [
        Case(id="c1", input="What is 2+2?", expected="4"),
        Case(id="c2", input=[{"role": "system", "content": "S"}, {"role": "user", "content": "U"}]),
    ]
    with EvalStore(db) as store:
        _two_runs(store)
        store.add_cases("r1", cases)
        store.add_cases("r1", [Case(id="c1", input="changed?")])  # known: kept as first seen
        frame = store.frame(["r1"])
    prompts = frame.drop_duplicates("case_id").set_index("case_id")
    assert prompts.loc["c1", "prompt"] == "What is 2+2?" and prompts.loc["c1", "expected"] == "4"
    assert prompts.loc["c2", "prompt"] == "U" and pd.isna(prompts.loc["c2", "expected"])
    assert pd.isna(prompts.loc["c3", "prompt"])  # a case never recorded: no prompt, still a row
    stored = rows(db, "SELECT input FROM cases WHERE case_id = 'c2'")
    assert json.loads(stored[0][0])[0] == {"role": "system", "content": "S"}


@pytest.mark.parametrize("suffix", ["parquet", "csv"])
def test_export_writes_every_score_row(db: Path, tmp_path: Path, suffix: str) -> None:
    with EvalStore(db) as store:
        _two_runs(store)
        path = store.export("r1", tmp_path / "out" / f"r1.{suffix}")
        expected = len(store.frame(["r1"]))
    assert path.exists()
    back = pd.read_parquet(path) if suffix == "parquet" else pd.read_csv(path)
    assert len(back) == expected == 6
    assert list(back.columns) == FRAME_COLUMNS
    assert set(back["case_id"]) == {"c1", "c2", "c3", "c4"}
    assert '["x", "y"]' in set(back["tags"])  # tags exported as JSON text


def test_export_refuses_an_unknown_format_or_run(db: Path, tmp_path: Path) -> None:
    with EvalStore(db) as store:
        _two_runs(store)
        with pytest.raises(StoreError, match="parquet or csv"):
            store.export("r1", tmp_path / "out.xlsx")
        with pytest.raises(StoreError, match="no run"):
            store.export("nope", tmp_path / "out.csv")
    assert not (tmp_path / "out.xlsx").exists() and not (tmp_path / "out.csv").exists()


# -- files that cannot be opened -----------------------------------------------------------------

HOLDER = """
import sys
from evals import EvalStore
store = EvalStore(sys.argv[1], read_only=sys.argv[2] == "ro")
print("holding", flush=True)
sys.stdin.read()  # until the test closes our stdin
store.close()
"""


def _holder(path: Path, mode: str, tmp_path: Path) -> subprocess.Popen[str]:
    """Another process that opens the store (``rw`` or ``ro``) and holds it until told."""
    process = subprocess.Popen(
        [sys.executable, "-c", HOLDER, str(path), mode],
        cwd=tmp_path,
        env=clean_environ(),
        stdin=subprocess.PIPE,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    LineReader(process.stdout).wait_for(lambda line: line == "holding", timeout=60)  # type: ignore[arg-type]
    return process


def _release(process: subprocess.Popen[str]) -> None:
    assert process.stdin is not None
    process.stdin.close()
    try:
        assert process.wait(timeout=30) == 0
    finally:
        stop(process)


def test_a_store_another_process_writes_is_a_clear_error(db: Path, tmp_path: Path) -> None:
    """DuckDB lets one process open a file for writing and no other process in at all: a
    reader in another process fails to open while a writer is active. That is a StoreError
    saying the store is in use, for readers and writers alike; once released, it opens."""
    with EvalStore(db) as store:
        store.create_run(run_info("r1"))
    writer = _holder(db, "rw", tmp_path)
    try:
        for read_only in (True, False):
            with pytest.raises(StoreError, match="in use by another process") as caught:
                EvalStore(db, read_only=read_only)
            assert str(db) in str(caught.value)
            assert "\n" not in str(caught.value)  # one line
    finally:
        _release(writer)
    with EvalStore(db, read_only=True) as store:
        assert [run.run_id for run in store.runs()] == ["r1"]


def test_readers_share_a_store_but_keep_a_writer_out(db: Path, tmp_path: Path) -> None:
    with EvalStore(db) as store:
        store.create_run(run_info("r1"))
    reader = _holder(db, "ro", tmp_path)
    try:
        with EvalStore(db, read_only=True) as store:  # a second reader is fine
            assert store.run("latest").run_id == "r1"
        with pytest.raises(StoreError, match="in use by another process"):
            EvalStore(db)
    finally:
        _release(reader)
    with EvalStore(db) as store:
        store.finish_run("r1", "completed")


@pytest.mark.parametrize("read_only", [True, False])
def test_a_corrupt_file_is_a_clear_error_and_is_left_alone(db: Path, read_only: bool) -> None:
    db.parent.mkdir()
    junk = os.urandom(64 * 1024)
    db.write_bytes(junk)
    with pytest.raises(StoreError, match=r"cannot be opened \(not a DuckDB file, or corrupt\)"):
        EvalStore(db, read_only=read_only)
    assert db.read_bytes() == junk  # never overwritten: whatever it held is not lost


def test_a_missing_file_read_only_is_a_clear_error_and_is_not_created(db: Path) -> None:
    with pytest.raises(StoreError, match="does not exist"):
        EvalStore(db, read_only=True)
    assert not db.exists() and not db.parent.exists()
    with EvalStore(db) as store:  # for writing, it is created (with its folder)
        assert store.runs() == []
    assert db.exists()
