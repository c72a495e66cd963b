"""The scoreboard: marked tests write their lines, and the page shows every category's
outcomes and figures, the load results and how to reproduce them."""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path
from typing import Any

import pytest

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT / "tools"))
import scoreboard as board  # noqa: E402

sys.path.remove(str(ROOT / "tools"))

MARKED = """
import pytest

@pytest.mark.scoreboard("fault", "upstream answers 500")
def test_survives(scoreboard, monkeypatch, tmp_path):
    monkeypatch.chdir(tmp_path)  # as the suite's autouse fixture does
    scoreboard.record(injected=3, survived=3)

@pytest.mark.scoreboard("hostile", "oversized body")
def test_breaks():
    assert False, "a 5xx"

def test_unmarked():
    pass
"""


def test_marked_tests_write_one_line_each(tmp_path: Path) -> None:
    (tmp_path / "test_marked.py").write_text(MARKED)
    (tmp_path / "conftest.py").write_text('pytest_plugins = ["tests.scoreboard"]\n')
    out = tmp_path / "scores.jsonl"
    subprocess.run(  # a relative path, while the marked test changes directory
        [sys.executable, "-m", "pytest", "-q", "-p", "no:cacheprovider", "--rootdir", tmp_path,
         "-o", "addopts=", "--scoreboard=scores.jsonl", str(tmp_path)],
        cwd=tmp_path, capture_output=True, timeout=120, check=False,
        env={**os.environ, "PYTHONPATH": str(ROOT)},
    )  # fmt: skip
    lines = [json.loads(line) for line in out.read_text().splitlines()]
    assert [(r["category"], r["name"], r["outcome"]) for r in lines] == [
        ("fault", "upstream answers 500", "passed"),
        ("hostile", "oversized body", "failed"),
    ]
    assert lines[0]["figures"] == {"injected": 3, "survived": 3}


def record(category: str, name: str, outcome: str = "passed", **figures: Any) -> dict[str, Any]:
    return {"category": category, "name": name, "test": f"tests/x.py::{name}",
            "outcome": outcome, "seconds": 0.1, "figures": figures}  # fmt: skip


def test_the_page_shows_each_category_its_counts_and_figures() -> None:
    records = [
        record("fault", "Redis frozen", lost=0, duplicated=0),
        record("fault", "upstream 500", "failed"),
        record("hostile", "oversized body", tried=68, five_xx=0),
        record("secret", "canary keys"),
    ]
    load = {
        "mode": "quick",
        "knee_rps": 120.0,
        "soak": {"offered_rps": 84, "achieved_rps": 83.9, "requests": 10080, "seconds": 120,
                 "p50_ms": 59, "p99_ms": 126, "errors": 0, "rss_start_mb": 213.8,
                 "rss_end_mb": 213.5, "rss_growth_pct": -0.1},
        "verdict": {"target": "zero errors and memory growth under 10%", "met": True},
    }  # fmt: skip
    page = board.render(records, load, seconds=42)
    assert "3 of 4 checks passed, 1 failed, in 42 s." in page
    assert "## Faults injected" in page and "**1 of 2 passed**, 1 failed." in page
    assert "| Redis frozen | ✅ survived | lost: 0, duplicated: 0 |" in page
    assert "| upstream 500 | ❌ failed | — |" in page
    assert "| oversized body | ✅ survived | tried: 68, five xx: 0 |" in page
    assert "## Secrets" in page and "## Scanning" not in page  # no scan results: no section
    assert "| knee | 120.0 req/s |" in page and "| errors | 0 |" in page
    assert "213.8 → 213.5 MB (-0.1 %)" in page and "**✅ held**" in page
    assert "make scoreboard" in page


def test_without_load_results_the_page_says_how_to_get_them() -> None:
    page = board.render([record("fault", "x")], None, seconds=None)
    assert "No load results yet" in page and " in " not in page.splitlines()[4]


def test_the_page_is_rewritten_from_the_last_results(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    scores, page = tmp_path / "scores.jsonl", tmp_path / "reliability.md"
    ok, failed = record("fault", "x"), record("fault", "x", "failed")
    scores.write_text(json.dumps(ok) + "\n" + json.dumps(ok) + "\n")  # one test, run twice
    monkeypatch.setattr(board, "SCORES", scores)
    monkeypatch.setattr(board, "PAGE", page)
    monkeypatch.setattr(board, "LOAD", tmp_path / "none.json")
    assert board.main(["--from-results"]) == 0
    assert "1 of 1 checks passed" in page.read_text() and "runs: 2" in page.read_text()
    scores.write_text(json.dumps(ok) + "\n" + json.dumps(failed) + "\n")
    assert board.main(["--from-results"]) == 1  # a failed run fails the check and the command
