"""BM25 over the chunks (bm25s: sparse matrices, fast at 100k chunks), always available offline.

The index is built from every chunk's heading and text, saved next to the store
(``<file>.bm25/``) with the store version it was built from, and rebuilt when the store's
version moves on. Tokens are lower-case words of two or more characters, English stop words
removed, lightly stemmed (plural and verb endings), so "chunks" finds "chunk".
"""

from __future__ import annotations

import json
import logging
import re
import shutil
from collections.abc import Iterable
from functools import lru_cache
from pathlib import Path
from typing import Any

import numpy as np

_TOKEN = re.compile(r"(?u)\b\w\w+\b")
_SUFFIXES = ("ations", "ation", "ings", "ing", "ies", "ied", "ed", "es", "s")


@lru_cache(maxsize=1)
def _stopwords() -> frozenset[str]:
    from bm25s.stopwords import STOPWORDS_EN

    return frozenset(STOPWORDS_EN)


@lru_cache(maxsize=65_536)
def stem(word: str) -> str:
    """A light suffix-stripping stem: enough to match plurals and verb forms."""
    for suffix in _SUFFIXES:
        if word.endswith(suffix) and len(word) - len(suffix) >= 3:
            base = word[: -len(suffix)]
            if suffix in ("ies", "ied"):
                return base + "y"
            if suffix == "s" and base.endswith(("s", "u", "i")):
                return word  # "class", "status", "analysis": not plurals
            return base
    return word


def tokenize(text: str) -> list[str]:
    """The BM25 tokens of ``text``."""
    stop = _stopwords()
    return [stem(word) for word in _TOKEN.findall(text.lower()) if word not in stop]


class BM25Index:
    """A BM25 index of chunk ids (see the module docstring)."""

    def __init__(self, retriever: Any, ids: np.ndarray[Any, Any], version: int) -> None:
        self.retriever = retriever
        self.ids = ids
        self.version = version

    @classmethod
    def build(cls, batches: Iterable[list[tuple[int, str]]], version: int) -> BM25Index:
        """Index (id, text) pairs, given in batches."""
        import bm25s

        logging.getLogger("bm25s").setLevel(logging.WARNING)
        ids: list[int] = []
        corpus: list[list[str]] = []
        for batch in batches:
            for chunk_id, text in batch:
                ids.append(chunk_id)
                corpus.append(tokenize(text) or ["\x00"])  # bm25s needs a token per row
        retriever = bm25s.BM25()
        if corpus:
            retriever.index(corpus, show_progress=False)
        return cls(retriever, np.asarray(ids, dtype=np.int64), version)

    def search(self, query: str, k: int) -> list[tuple[int, float]]:
        """Up to ``k`` (chunk id, score) pairs, best first; chunks sharing no term are left out."""
        if not len(self.ids):
            return []
        token_ids = self.retriever.get_tokens_ids(tokenize(query))
        if not token_ids:
            return []
        scores = np.asarray(self.retriever.get_scores(token_ids), dtype=np.float32)
        k = min(k, len(scores))
        top = np.argpartition(-scores, k - 1)[:k]
        top = top[np.argsort(-scores[top], kind="stable")]
        return [(int(self.ids[i]), float(scores[i])) for i in top if scores[i] > 0]

    def save(self, folder: Path) -> None:
        """Write the index to ``folder`` (replacing any older one)."""
        tmp = folder.with_name(folder.name + ".tmp")
        shutil.rmtree(tmp, ignore_errors=True)
        tmp.mkdir(parents=True)
        if len(self.ids):
            self.retriever.save(str(tmp))
        np.save(tmp / "ids.npy", self.ids)
        (tmp / "version.json").write_text(json.dumps({"version": self.version}))
        shutil.rmtree(folder, ignore_errors=True)
        tmp.rename(folder)

    @classmethod
    def load(cls, folder: Path) -> BM25Index | None:
        """The index saved in ``folder``, or ``None`` when there is none (or it is damaged)."""
        import bm25s

        try:
            version = int(json.loads((folder / "version.json").read_text())["version"])
            ids = np.load(folder / "ids.npy")
            retriever = bm25s.BM25.load(str(folder), mmap=False) if len(ids) else bm25s.BM25()
        except (OSError, ValueError, KeyError):
            return None
        return cls(retriever, ids, version)
