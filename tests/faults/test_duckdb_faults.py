"""DuckDB faults through the real CLI: a store file locked by another process, and a corrupt one.

For the eval store (``assistant eval run --db PATH``) and the knowledge base (``assistant kb
ingest/search --kb PATH``): a file another process holds open for writing makes the command
exit non-zero with one line on stderr naming the lock, no traceback, and work once the lock
is released; a file of random bytes is one clear line too, and is left byte for byte as it was.
"""

from __future__ import annotations

import hashlib
import json
import random
from pathlib import Path

import duckdb
import pytest

from tests.faults.support import CliResult, assert_one_clear_line, duckdb_held, run_cli
from tests.scoreboard import Figures

pytestmark = pytest.mark.slow

CASES = 3


def eval_run(tmp_path: Path, db: Path) -> CliResult:
    data = tmp_path / "tiny.jsonl"
    if not data.exists():
        data.write_text(
            "".join(
                json.dumps({"id": f"c{i}", "input": f"say {i}", "expected": f"answer c{i}"}) + "\n"
                for i in range(CASES)
            ),
            encoding="utf-8",
        )
        (tmp_path / "tiny_target.py").write_text(
            "def answer(case):\n    return f'answer {case.id}'\n", encoding="utf-8"
        )
    return run_cli("eval", "run", str(data), "-t", "py:tiny_target:answer", "--db", str(db),
                   cwd=tmp_path)  # fmt: skip


def results(db: Path) -> list[tuple[str, str, int]]:
    with duckdb.connect(str(db), read_only=True) as con:
        rows = con.execute(
            "SELECT case_id, target, repeat FROM results ORDER BY case_id"
        ).fetchall()
    return [(str(c), str(t), int(r)) for c, t, r in rows]


def corrupt(path: Path, seed: int) -> bytes:
    """Fill ``path`` with 64 KiB of random bytes (deterministic); return them."""
    junk = random.Random(seed).randbytes(64 * 1024)
    path.write_bytes(junk)
    return junk


def digest(path: Path) -> str:
    return hashlib.sha256(path.read_bytes()).hexdigest()


# -- the eval store -----------------------------------------------------------------------------


@pytest.mark.scoreboard("fault", "eval store locked by another process")
def test_a_locked_eval_store_is_one_clear_line_then_works(
    tmp_path: Path, scoreboard: Figures
) -> None:
    db = tmp_path / "evals.duckdb"
    with duckdb_held(db):
        refused = eval_run(tmp_path, db)
        line = assert_one_clear_line(refused, "lock")
        assert str(db.name) in line

    done = eval_run(tmp_path, db)

    assert done.code == 0, done.stderr
    assert results(db) == [(f"c{i}", "py:tiny_target:answer", 0) for i in range(CASES)]
    with duckdb.connect(str(db), read_only=True) as con:  # the holder's table survived too
        assert con.execute("SELECT count(*) FROM holder_was_here").fetchone() == (0,)
    scoreboard.record(injected=1, clear_errors=1, tracebacks=0, recovered=1)


@pytest.mark.scoreboard("fault", "eval store file corrupt")
def test_a_corrupt_eval_store_is_one_clear_line_and_left_untouched(
    tmp_path: Path, scoreboard: Figures
) -> None:
    db = tmp_path / "evals.duckdb"
    corrupt(db, seed=9)
    before = digest(db)

    ran = eval_run(tmp_path, db)
    listed = run_cli("eval", "list", "--db", str(db), cwd=tmp_path)

    assert_one_clear_line(ran, str(db.name))
    assert_one_clear_line(listed, str(db.name))
    assert digest(db) == before, "the corrupt store was modified"
    assert sorted(p.name for p in tmp_path.iterdir() if p.name.startswith("evals")) == [
        "evals.duckdb"
    ]  # no write-ahead log or replacement file left behind either
    scoreboard.record(injected=2, clear_errors=2, tracebacks=0, bytes_changed=0)


# -- the knowledge base -------------------------------------------------------------------------


def docs(tmp_path: Path) -> Path:
    folder = tmp_path / "docs"
    folder.mkdir(exist_ok=True)
    (folder / "llamas.md").write_text(
        "# Llamas\n\nLlamas are domesticated South American camelids, used as pack animals.\n",
        encoding="utf-8",
    )
    return folder


@pytest.mark.scoreboard("fault", "knowledge base locked by another process")
def test_a_locked_knowledge_base_is_one_clear_line_then_works(
    tmp_path: Path, scoreboard: Figures
) -> None:
    kb = tmp_path / "kb.duckdb"
    folder = docs(tmp_path)
    with duckdb_held(kb):
        ingest = run_cli("kb", "ingest", str(folder), "--kb", str(kb), cwd=tmp_path)
        search = run_cli("kb", "search", "llamas", "--kb", str(kb), cwd=tmp_path)
        for refused in (ingest, search):
            line = assert_one_clear_line(refused, "lock")
            assert kb.name in line

    ingest = run_cli("kb", "ingest", str(folder), "--kb", str(kb), cwd=tmp_path)
    search = run_cli("kb", "search", "llamas", "--kb", str(kb), cwd=tmp_path)

    assert ingest.code == 0, ingest.stderr
    assert "1 added" in ingest.stdout
    assert search.code == 0, search.stderr
    assert "llamas.md" in search.stdout
    scoreboard.record(injected=2, clear_errors=2, tracebacks=0, recovered=1)


@pytest.mark.scoreboard("fault", "knowledge base file corrupt")
def test_a_corrupt_knowledge_base_is_one_clear_line_and_left_untouched(
    tmp_path: Path, scoreboard: Figures
) -> None:
    kb = tmp_path / "kb.duckdb"
    corrupt(kb, seed=11)
    before = digest(kb)
    folder = docs(tmp_path)

    ingest = run_cli("kb", "ingest", str(folder), "--kb", str(kb), cwd=tmp_path)
    search = run_cli("kb", "search", "llamas", "--kb", str(kb), cwd=tmp_path)

    for refused in (ingest, search):
        assert_one_clear_line(refused, kb.name)
    assert digest(kb) == before, "the corrupt knowledge base was modified"
    scoreboard.record(injected=2, clear_errors=2, tracebacks=0, bytes_changed=0)
