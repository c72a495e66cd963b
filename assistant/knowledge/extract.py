"""Text out of files: Markdown, plain text, HTML and PDF.

:func:`extract` reads one file and returns its text with Markdown-style headings (``# ...``),
so the chunker can split every format on the same section boundaries. A file that cannot be
read or decoded raises :class:`ExtractionError` with a short reason; ingestion reports it and
moves on.
"""

from __future__ import annotations

import html
import re
from dataclasses import dataclass
from html.parser import HTMLParser
from pathlib import Path

FORMATS: dict[str, str] = {
    ".md": "markdown",
    ".markdown": "markdown",
    ".txt": "text",
    ".text": "text",
    ".rst": "text",
    ".html": "html",
    ".htm": "html",
    ".pdf": "pdf",
}
"""File suffixes ingestion reads, and the format each one is read as."""

MAX_FILE_BYTES = 50 * 1024 * 1024
"""Larger files are skipped: one huge file must not stall an ingest."""


class ExtractionError(Exception):
    """A file whose text cannot be extracted (the message says why, in a few words)."""


@dataclass(frozen=True, slots=True)
class Extracted:
    """The text of one file."""

    text: str
    format: str
    title: str | None = None


def format_of(path: Path) -> str | None:
    """The format ``path`` is read as, or ``None`` when ingestion does not read it."""
    return FORMATS.get(path.suffix.lower())


def extract(path: Path, data: bytes | None = None) -> Extracted:
    """The text of ``path`` (``data``: its bytes, when already read)."""
    kind = format_of(path)
    if kind is None:
        raise ExtractionError(f"unsupported file type '{path.suffix or path.name}'")
    if data is None:
        data = read_bytes(path)
    if kind == "pdf":
        return _pdf(data)
    text = _decode(data)
    if kind == "html":
        return _html(text)
    title = _markdown_title(text) if kind == "markdown" else None
    return Extracted(_normalise(text), kind, title)


def read_bytes(path: Path) -> bytes:
    """The file's bytes; unreadable or oversized files raise :class:`ExtractionError`."""
    try:
        size = path.stat().st_size
        if size > MAX_FILE_BYTES:
            raise ExtractionError(f"larger than {MAX_FILE_BYTES // (1024 * 1024)} MB")
        return path.read_bytes()
    except PermissionError:
        raise ExtractionError("permission denied") from None
    except OSError as exc:
        raise ExtractionError(exc.strerror or type(exc).__name__) from None


def _decode(data: bytes) -> str:
    if b"\x00" in data[:8192]:
        raise ExtractionError("binary content in a text file")
    try:
        return data.decode("utf-8-sig")
    except UnicodeDecodeError as exc:
        raise ExtractionError(f"not UTF-8 text (byte {exc.start})") from None


_BLANK_RUNS = re.compile(r"\n[ \t]*\n(?:[ \t]*\n)+")
_TRAILING_SPACE = re.compile(r"[ \t]+\n")


def _normalise(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n")
    text = _TRAILING_SPACE.sub("\n", text)
    return _BLANK_RUNS.sub("\n\n", text).strip()


def _markdown_title(text: str) -> str | None:
    match = re.search(r"^#\s+(.+)$", text, flags=re.MULTILINE)
    return match.group(1).strip() if match else None


_BLOCKS = {"p", "div", "section", "article", "li", "tr", "br", "pre", "blockquote", "table"}
_HEADINGS = {"h1": 1, "h2": 2, "h3": 3, "h4": 4, "h5": 5, "h6": 6}
_SKIPPED = {"script", "style", "noscript", "template", "head"}


class _TextParser(HTMLParser):
    """Visible text of an HTML page, headings as ``#`` lines, blocks as paragraphs."""

    def __init__(self) -> None:
        super().__init__(convert_charrefs=True)
        self.parts: list[str] = []
        self.skipping = 0
        self.title: str | None = None
        self._in_title = False

    def handle_starttag(self, tag: str, attrs: list[tuple[str, str | None]]) -> None:
        if tag == "title":
            self._in_title = True
        if tag in _SKIPPED:
            self.skipping += 1
        elif tag in _HEADINGS:
            self.parts.append("\n\n" + "#" * _HEADINGS[tag] + " ")
        elif tag in _BLOCKS:
            self.parts.append("\n\n" if tag != "li" else "\n- ")

    def handle_endtag(self, tag: str) -> None:
        if tag == "title":
            self._in_title = False
        if tag in _SKIPPED:
            self.skipping = max(0, self.skipping - 1)
        elif tag in _HEADINGS or tag in _BLOCKS:
            self.parts.append("\n\n")

    def handle_data(self, data: str) -> None:
        if self._in_title and self.title is None and data.strip():
            self.title = data.strip()
        if not self.skipping:
            self.parts.append(re.sub(r"\s+", " ", data))


def _html(text: str) -> Extracted:
    parser = _TextParser()
    try:
        parser.feed(text)
        parser.close()
    except Exception as exc:  # html.parser is lenient; anything it still rejects is reported
        raise ExtractionError(f"unparsable HTML: {exc}") from None
    lines = [line.strip() for line in html.unescape("".join(parser.parts)).split("\n")]
    return Extracted(_normalise("\n".join(lines)), "html", parser.title)


def _pdf(data: bytes) -> Extracted:
    import io
    import logging

    from pypdf import PdfReader
    from pypdf.errors import PyPdfError

    logging.getLogger("pypdf").setLevel(logging.ERROR)  # warnings per broken object: noise
    if not data.lstrip()[:5].startswith(b"%PDF"):
        raise ExtractionError("not a PDF file")
    try:
        reader = PdfReader(io.BytesIO(data))
        if reader.is_encrypted:
            raise ExtractionError("encrypted PDF")
        pages = [(page.extract_text() or "").strip() for page in reader.pages]
        title = reader.metadata.title if reader.metadata else None
    except ExtractionError:
        raise
    except (PyPdfError, ValueError, KeyError, TypeError, OSError, RecursionError) as exc:
        raise ExtractionError(f"unreadable PDF: {type(exc).__name__}") from None
    text = "\n\n".join(page for page in pages if page)
    if not text:
        raise ExtractionError("no text in the PDF (scanned images need OCR)")
    return Extracted(_normalise(text), "pdf", str(title) if title else None)
