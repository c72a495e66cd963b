"""Knowledge base ingestion: every format, broken files, dedup, incremental re-ingest, removal.

Real DuckDB files in tmp folders; row counts are read back with a separate connection.
"""

from __future__ import annotations

import itertools
import os
from pathlib import Path

import duckdb
import pytest

from assistant.knowledge import chunk_text, extract
from assistant.knowledge.extract import ExtractionError
from tests.kb_support import ingest, knowledge_base, pdf_bytes, write

HTML = """<!doctype html><html><head><title>Alpacas</title><style>p {color: red}</style>
<script>var hidden = "script text";</script></head><body>
<h1>Alpacas</h1><p>Alpacas hum when they are curious &amp; calm.</p>
<h2>Shearing</h2><p>Shearing happens once a year, in spring.</p></body></html>"""


def rows(kb_path: Path, sql: str) -> list[tuple[object, ...]]:
    with duckdb.connect(str(kb_path), read_only=True) as con:
        return con.execute(sql).fetchall()


def test_every_format_is_extracted(tmp_path: Path) -> None:
    docs = write(
        tmp_path / "docs",
        {
            "guide.md": "# Guide\n\nLlamas carry packs across the Andes.\n",
            "notes.txt": "Vicuñas have the finest wool.\r\n",
            "page.html": HTML,
            "paper.pdf": pdf_bytes("Guanacos live in Patagonia.", "They run fast."),
        },
    )
    assert extract(docs / "guide.md").title == "Guide"
    html = extract(docs / "page.html")
    assert html.title == "Alpacas"
    assert "# Alpacas" in html.text and "## Shearing" in html.text  # headings kept for chunking
    assert "curious & calm" in html.text and "script text" not in html.text
    assert "color" not in html.text
    assert "Guanacos live in Patagonia." in extract(docs / "paper.pdf").text
    assert extract(docs / "notes.txt").text == "Vicuñas have the finest wool."

    kb = knowledge_base(tmp_path)
    report = ingest(kb, docs)
    assert sorted(Path(source).name for source in report.added) == [
        "guide.md",
        "notes.txt",
        "page.html",
        "paper.pdf",
    ]
    assert report.failed == []
    formats = dict(rows(kb.path, "SELECT format, count(*) FROM documents GROUP BY format"))
    assert formats == {"markdown": 1, "text": 1, "html": 1, "pdf": 1}
    assert kb.search("Patagonia guanacos")[0].source.endswith("paper.pdf")
    shearing = kb.search("shearing spring")[0]
    assert shearing.source.endswith("page.html") and shearing.chunk.heading == "Alpacas > Shearing"


def test_bad_files_are_reported_and_skipped(tmp_path: Path) -> None:
    docs = write(
        tmp_path / "docs",
        {
            "good.md": "# Good\n\nThe good file about capybaras.\n",
            "garbage.pdf": os.urandom(2048),
            "truncated.pdf": pdf_bytes("Cut short")[:60],
            "latin1.txt": "caf\xe9 cr\xe8me".encode("latin-1"),
            "binary.md": b"\x00\x01\x02 binary",
            "empty.txt": "   \n",
            "unsupported.docx": "not read",
        },
    )
    kb = knowledge_base(tmp_path)
    report = ingest(kb, docs, tmp_path / "missing.md", docs / "unsupported.docx")
    failed = {Path(source).name: reason for source, reason in report.failed}
    assert set(failed) == {
        "garbage.pdf",
        "truncated.pdf",
        "latin1.txt",
        "binary.md",
        "empty.txt",
        "missing.md",
        "unsupported.docx",
    }
    assert failed["garbage.pdf"] == "not a PDF file"
    assert (
        failed["truncated.pdf"].startswith("unreadable PDF") or "no text" in failed["truncated.pdf"]
    )
    assert failed["latin1.txt"].startswith("not UTF-8")
    assert failed["missing.md"] == "no such file or folder"
    assert len(report.added) == 1
    assert rows(kb.path, "SELECT count(*) FROM documents") == [(1,)]


def test_a_permission_denied_file_is_skipped(
    tmp_path: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    # CI runs as root, which reads any file whatever its mode: the denial is injected
    docs = write(tmp_path / "docs", {"secret.md": "# Secret\n", "open.md": "# Open\n\nText."})
    real = Path.read_bytes

    def read_bytes(self: Path) -> bytes:
        if self.name == "secret.md":
            raise PermissionError(13, "Permission denied", str(self))
        return real(self)

    monkeypatch.setattr(Path, "read_bytes", read_bytes)
    report = ingest(knowledge_base(tmp_path), docs)
    assert [(Path(s).name, r) for s, r in report.failed] == [("secret.md", "permission denied")]
    assert len(report.added) == 1


def test_identical_content_is_stored_once(tmp_path: Path) -> None:
    text = "# Same\n\nThe same words in two files.\n"
    docs = write(tmp_path / "docs", {"a.md": text, "copy/b.md": text})
    kb = knowledge_base(tmp_path)
    report = ingest(kb, docs)
    assert len(report.added) == 1 and len(report.duplicates) == 1
    assert Path(report.duplicates[0][0]).name == "b.md"
    assert rows(kb.path, "SELECT count(*) FROM chunks") == [(1,)]


def test_reingest_touches_only_changed_files(tmp_path: Path) -> None:
    long = "\n\n".join(f"Paragraph {i} about topic {i} and its details." * 5 for i in range(20))
    docs = write(tmp_path / "docs", {"big.md": f"# Big\n\n{long}", "small.md": "# Small\n\nOne."})
    kb = knowledge_base(tmp_path, chunk_size=400, chunk_overlap=50)
    first = ingest(kb, docs)
    assert len(first.added) == 2
    big_ids = rows(
        kb.path,
        "SELECT c.id FROM chunks c JOIN documents d ON d.id = c.doc_id "
        "WHERE d.source LIKE '%big.md' ORDER BY c.id",
    )
    assert len(big_ids) > 5
    version = rows(kb.path, "SELECT value FROM meta WHERE key = 'version'")

    again = ingest(kb, docs)
    assert len(again.unchanged) == 2 and again.chunks == 0
    assert rows(kb.path, "SELECT value FROM meta WHERE key = 'version'") == version

    (docs / "small.md").write_text("# Small\n\nOne, now two.\n\nAnd a new paragraph.")
    changed = ingest(kb, docs)
    assert [Path(s).name for s in changed.updated] == ["small.md"]
    assert len(changed.unchanged) == 1 and changed.chunks == 1
    assert (
        rows(
            kb.path,
            "SELECT c.id FROM chunks c JOIN documents d ON d.id = c.doc_id "
            "WHERE d.source LIKE '%big.md' ORDER BY c.id",
        )
        == big_ids
    )  # not re-chunked
    assert kb.search("new paragraph")[0].source.endswith("small.md")

    os.utime(docs / "big.md", (1, 1))  # touched, same content: mtime updated, nothing else
    touched = ingest(kb, docs)
    assert len(touched.unchanged) == 2 and touched.chunks == 0

    (docs / "small.md").unlink()
    vanished = ingest(kb, docs)
    assert [Path(s).name for s in vanished.removed] == ["small.md"]
    assert rows(kb.path, "SELECT count(*) FROM documents") == [(1,)]
    assert all(not hit.source.endswith("small.md") for hit in kb.search("paragraph"))


def test_chunks_follow_headings_and_overlap() -> None:
    sentences = " ".join(f"Sentence number {i} says something." for i in range(60))
    text = f"# Top\n\nIntro.\n\n## Part A\n\n{sentences}\n\n## Part B\n\nShort part.\n"
    chunks = chunk_text(text, size=300, overlap=60)
    assert all(len(c.text) <= 300 for c in chunks)
    assert [c.ordinal for c in chunks] == list(range(len(chunks)))
    part_a = [c for c in chunks if c.heading == "Top > Part A"]
    assert len(part_a) > 3
    for before, after in itertools.pairwise(part_a):
        assert before.text[-30:] in after.text  # consecutive chunks overlap
    assert chunks[-1].heading == "Top > Part B" and chunks[-1].text.startswith("## Part B")
    assert not any("Part A" in c.text and "Part B" in c.text for c in chunks)  # never spans
    with pytest.raises(ValueError, match="overlap"):
        chunk_text(text, size=300, overlap=200)


def test_remove_by_cli_path_semantics(tmp_path: Path) -> None:
    docs = write(tmp_path / "docs", {"a.md": "# A\n\nalpha", "sub/b.md": "# B\n\nbeta"})
    kb = knowledge_base(tmp_path)
    ingest(kb, docs)
    with kb.open(read_only=False) as store:
        assert store.remove_documents([str((docs / "sub" / "b.md").resolve())]) == 1
        assert [Path(d.path).name for d in store.documents()] == ["a.md"]
    assert [hit.text for hit in kb.search("beta alpha")] == ["# A\n\nalpha"]


def test_extract_rejects_unknown_types(tmp_path: Path) -> None:
    path = write(tmp_path, {"x.docx": "x"}) / "x.docx"
    with pytest.raises(ExtractionError, match="unsupported"):
        extract(path)
