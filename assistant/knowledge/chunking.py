"""Cutting a document's text into overlapping chunks that follow its structure.

A chunk never spans two sections: the text is first split at Markdown headings (every format
is extracted with ``#`` headings), then each section's paragraphs are packed into chunks of at
most ``size`` characters. A paragraph longer than that is cut at sentence ends, or else at
spaces. Consecutive chunks of one section share ``overlap`` characters (cut at a word
boundary), so a sentence that straddles a boundary is whole in one of them. Each chunk keeps
its ordinal in the document and the heading path it sits under (``Setup > Docker``).
"""

from __future__ import annotations

import hashlib
import re
from dataclasses import dataclass

_HEADING = re.compile(r"^(#{1,6})\s+(.+?)\s*#*\s*$")
_FENCE = re.compile(r"^\s*(```|~~~)")
_SENTENCE_END = re.compile(r"(?<=[.!?])\s+")


@dataclass(frozen=True, slots=True)
class Chunk:
    """One piece of a document, as stored and searched."""

    ordinal: int
    """Position in the document, from 0."""
    heading: str
    """The heading path the chunk sits under (empty before the first heading)."""
    text: str

    @property
    def sha256(self) -> str:
        """Hash of the text: identical chunks (boilerplate) are found by it."""
        return hashlib.sha256(self.text.encode("utf-8")).hexdigest()


def check_sizes(size: int, overlap: int) -> None:
    """Reject sizes that would make chunks overlap more than they advance."""
    if size < 50:
        raise ValueError(f"chunk size must be at least 50 characters, not {size}")
    if not 0 <= overlap < size // 2:
        raise ValueError(
            f"chunk overlap must be in [0, {size // 2}) for size {size}, not {overlap}"
        )


def _sections(text: str) -> list[tuple[str, str]]:
    """(heading path, body including its heading line) for each section, in order."""
    sections: list[tuple[str, list[str]]] = [("", [])]
    path: list[tuple[int, str]] = []
    in_fence = False
    for line in text.split("\n"):
        if _FENCE.match(line):
            in_fence = not in_fence
        match = None if in_fence else _HEADING.match(line)
        if match:
            level, title = len(match.group(1)), match.group(2).strip()
            path = [(lvl, name) for lvl, name in path if lvl < level] + [(level, title)]
            heading = " > ".join(name for _, name in path)
            previous_lines = sections[-1][1]
            if not "\n".join(previous_lines).strip() or _only_headings(previous_lines):
                # a heading followed directly by a sub-heading: keep both lines together
                sections[-1] = (heading, [*previous_lines, line])
                continue
            sections.append((heading, [line]))
        else:
            sections[-1][1].append(line)
    return [(heading, "\n".join(lines).strip()) for heading, lines in sections if "".join(lines)]


def _only_headings(lines: list[str]) -> bool:
    return all(not line.strip() or _HEADING.match(line) for line in lines)


def _pieces(paragraph: str, size: int) -> list[str]:
    """``paragraph`` cut into pieces of at most ``size`` characters, at sentences or spaces."""
    if len(paragraph) <= size:
        return [paragraph]
    pieces: list[str] = []
    current = ""
    for sentence in _SENTENCE_END.split(paragraph):
        for word_run in _hard_split(sentence, size):
            joined = f"{current} {word_run}" if current else word_run
            if len(joined) <= size:
                current = joined
            else:
                pieces.append(current)
                current = word_run
    if current:
        pieces.append(current)
    return pieces


def _hard_split(text: str, size: int) -> list[str]:
    if len(text) <= size:
        return [text]
    out: list[str] = []
    while len(text) > size:
        cut = text.rfind(" ", 0, size)
        cut = cut if cut > size // 2 else size
        out.append(text[:cut].rstrip())
        text = text[cut:].lstrip()
    if text:
        out.append(text)
    return out


def _tail(text: str, overlap: int) -> str:
    """The last ``overlap`` characters of ``text``, starting at a word."""
    if overlap <= 0 or len(text) <= overlap:
        return "" if overlap <= 0 else text
    tail = text[-overlap:]
    space = tail.find(" ")
    return tail[space + 1 :] if 0 <= space < len(tail) - 1 else tail


def chunk_text(text: str, size: int = 1200, overlap: int = 200) -> list[Chunk]:
    """Chunks of ``text`` (see the module docstring); empty text gives no chunk."""
    check_sizes(size, overlap)
    chunks: list[Chunk] = []
    for heading, body in _sections(text):
        paragraphs = [p.strip() for p in re.split(r"\n\s*\n", body) if p.strip()]
        pieces = [piece for p in paragraphs for piece in _pieces(p, size - overlap)]
        current = ""
        fresh = False  # whether current holds text not yet emitted (beyond the overlap)
        for piece in pieces:
            joined = f"{current}\n\n{piece}" if current else piece
            if len(joined) <= size or not fresh:
                current, fresh = joined, True
                continue
            chunks.append(Chunk(len(chunks), heading, current))
            carried = _tail(current, overlap)
            current = f"{carried} {piece}" if carried else piece
        if current and fresh:
            chunks.append(Chunk(len(chunks), heading, current))
    return chunks
