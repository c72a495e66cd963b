"""Helpers of the knowledge base tests: a real PDF with text, knowledge bases in tmp folders."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from assistant.config import KnowledgeSettings
from assistant.knowledge import Ingestor, KnowledgeBase


def pdf_bytes(*lines: str) -> bytes:
    """A valid one-page PDF whose text is ``lines`` (Helvetica, one line each)."""
    text = " ".join(f"({line.replace('(', '[').replace(')', ']')}) Tj 0 -16 Td" for line in lines)
    stream = f"BT /F1 12 Tf 72 720 Td {text} ET".encode()
    objects = [
        b"<</Type/Catalog/Pages 2 0 R>>",
        b"<</Type/Pages/Kids[3 0 R]/Count 1>>",
        b"<</Type/Page/Parent 2 0 R/MediaBox[0 0 612 792]/Contents 4 0 R"
        b"/Resources<</Font<</F1 5 0 R>>>>>>",
        b"<</Length " + str(len(stream)).encode() + b">>stream\n" + stream + b"\nendstream",
        b"<</Type/Font/Subtype/Type1/BaseFont/Helvetica>>",
    ]
    out = bytearray(b"%PDF-1.4\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += f"{number} 0 obj\n".encode() + body + b"\nendobj\n"
    xref = len(out)
    out += f"xref\n0 {len(objects) + 1}\n0000000000 65535 f \n".encode()
    for offset in offsets:
        out += f"{offset:010d} 00000 n \n".encode()
    out += f"trailer\n<</Size {len(objects) + 1}/Root 1 0 R>>\nstartxref\n{xref}\n%%EOF\n".encode()
    return bytes(out)


def knowledge_base(tmp_path: Path, **settings: Any) -> KnowledgeBase:
    """A knowledge base stored under ``tmp_path`` (``settings``: ``kb`` section fields)."""
    embeddings = settings.pop("embeddings", None)
    return KnowledgeBase(
        KnowledgeSettings(path=tmp_path / "kb" / "kb.duckdb", **settings), embeddings=embeddings
    )


def write(folder: Path, files: dict[str, str | bytes]) -> Path:
    """Write ``files`` (relative path -> text or bytes) under ``folder``."""
    for name, content in files.items():
        path = folder / name
        path.parent.mkdir(parents=True, exist_ok=True)
        if isinstance(content, bytes):
            path.write_bytes(content)
        else:
            path.write_text(content, encoding="utf-8")
    return folder


def ingest(kb: KnowledgeBase, *paths: Path) -> Any:
    """Ingest and return the report."""
    return Ingestor(kb).ingest(list(paths))
