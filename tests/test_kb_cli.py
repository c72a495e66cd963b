"""``assistant kb``, run as a user runs it (a subprocess): ingest with a report of bad files,
list, search, remove, ``--kb``, and one-line errors with their exit codes."""

from __future__ import annotations

from pathlib import Path

from tests.kb_support import write
from tests.test_cli import _bytecode_cache, clean_env, run  # noqa: F401 - autouse fixture

DOCS = {
    "docs/guide.md": "# Guide\n\nThe deploy script lives in ops/deploy.sh and needs sudo.",
    "docs/faq.txt": "Backups run nightly at 02:00 UTC.",
    "docs/broken.pdf": "%PDF-1.4 this is not really a pdf",
}


def test_ingest_search_list_remove(tmp_path: Path) -> None:
    write(tmp_path, DOCS)
    store = "stores/team.duckdb"

    ingested = run(tmp_path, "kb", "ingest", "docs", "--kb", store)
    assert ingested.returncode == 0, ingested.stderr
    assert "2 added" in ingested.stdout and "1 skipped" in ingested.stdout
    assert "skipped docs/broken.pdf: unreadable PDF" in ingested.stderr
    assert "Traceback" not in ingested.stderr
    assert (tmp_path / store).is_file()

    again = run(tmp_path, "kb", "ingest", "docs", "--kb", store)
    assert "0 added" in again.stdout and "2 unchanged" in again.stdout

    found = run(tmp_path, "kb", "search", "when do backups run", "--kb", store)
    assert found.returncode == 0, found.stderr
    lines = [line for line in found.stdout.splitlines() if "docs/" in line]
    assert "docs/faq.txt#0" in lines[0] and "02:00" in found.stdout

    listed = run(tmp_path, "kb", "list", "--kb", store)
    assert "docs/guide.md" in listed.stdout and "docs/faq.txt" in listed.stdout
    assert "2 documents, 2 chunks; vectors: none" in listed.stderr

    removed = run(tmp_path, "kb", "remove", "docs/faq.txt", "--kb", store)
    assert removed.returncode == 0 and "removed 1 documents" in removed.stdout
    gone = run(tmp_path, "kb", "search", "backups nightly", "--kb", store)
    assert "docs/faq.txt" not in gone.stdout


def test_errors_are_one_line_with_exit_codes(tmp_path: Path) -> None:
    missing = run(tmp_path, "kb", "search", "anything", "--kb", "nowhere.duckdb")
    assert missing.returncode == 1
    assert missing.stderr.strip().splitlines() == [
        "error: no knowledge base at nowhere.duckdb: run `assistant kb ingest PATH`"
    ]
    write(tmp_path, {"a.md": "# A\n\nalpha"})
    assert run(tmp_path, "kb", "ingest", "a.md", "--kb", "k.duckdb").returncode == 0
    unknown = run(tmp_path, "kb", "remove", "zzz.md", "--kb", "k.duckdb")
    assert unknown.returncode == 1 and len(unknown.stderr.strip().splitlines()) == 1
    bad_mode = run(tmp_path, "kb", "search", "alpha", "--mode", "magic", "--kb", "k.duckdb")
    assert bad_mode.returncode == 2 and "--mode must be" in bad_mode.stderr
    (tmp_path / "not_a_kb.duckdb").write_bytes(b"junk" * 100)
    junk = run(tmp_path, "kb", "list", "--kb", "not_a_kb.duckdb")
    assert junk.returncode == 1 and "Traceback" not in junk.stderr
    assert len(junk.stderr.strip().splitlines()) == 1


def test_the_default_store_comes_from_the_settings(tmp_path: Path) -> None:
    write(tmp_path, {"a.md": "# A\n\nalpha beta"})
    env = clean_env(ASSISTANT_KB__PATH=str(tmp_path / "configured.duckdb"))
    result = run(tmp_path, "kb", "ingest", "a.md", env=env)
    assert result.returncode == 0, result.stderr
    assert (tmp_path / "configured.duckdb").is_file()
