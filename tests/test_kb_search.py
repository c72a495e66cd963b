"""Knowledge base search: quality on a labelled mini-corpus, RRF, dense and hybrid search,
index persistence, and dense search with the real embedded model's embeddings."""

from __future__ import annotations

import zlib
from pathlib import Path
from typing import Any

import numpy as np
import pytest
from langchain_core.embeddings import Embeddings

from assistant.errors import KnowledgeBaseError
from assistant.knowledge import KnowledgeBase, format_hits, parse_hits, reciprocal_rank_fusion
from assistant.knowledge.lexical import tokenize
from tests.kb_support import ingest, knowledge_base, write

CORPUS = {
    "animals/llamas.md": "# Llamas\n\nLlamas are pack animals of the Andes. They carry loads "
    "of about a quarter of their body weight and spit when annoyed.",
    "animals/bees.md": "# Bees\n\nHoney bees communicate the direction of flowers with a "
    "waggle dance inside the hive.",
    "space/mars.md": "# Mars\n\nMars has the tallest volcano in the solar system, Olympus Mons, "
    "about 22 kilometres high.",
    "space/moon.md": "# Moon\n\nThe Moon is tidally locked: the same side always faces Earth.",
    "cooking/bread.md": "# Bread\n\nSourdough bread rises thanks to wild yeast and lactic "
    "bacteria in the starter, fed with flour and water.",
    "cooking/pasta.md": "# Pasta\n\nCook pasta in salted boiling water; reserve a cup of the "
    "starchy water to finish the sauce.",
    "computing/git.md": "# Git\n\nA git rebase replays your commits on top of another branch; "
    "a merge records both histories with a merge commit.",
    "computing/dns.md": "# DNS\n\nThe domain name system resolves host names to IP addresses "
    "through recursive resolvers and authoritative servers.",
    "history/rome.md": "# Rome\n\nThe Roman aqueducts carried water into cities by gravity "
    "over long distances.",
    "health/sleep.md": "# Sleep\n\nAdults need seven to nine hours of sleep; deep sleep helps "
    "memory consolidation.",
}

LABELLED = [  # (question, the file that answers it)
    ("How much weight can a llama carry?", "llamas.md"),
    ("How do bees tell each other where flowers are?", "bees.md"),
    ("What is the highest volcano in the solar system?", "mars.md"),
    ("Why do we always see the same side of the moon?", "moon.md"),
    ("What makes sourdough rise?", "bread.md"),
    ("Should I salt the water for cooking pasta?", "pasta.md"),
    ("What is the difference between git rebase and merge?", "git.md"),
    ("How are host names turned into IP addresses?", "dns.md"),
    ("How did Roman aqueducts move water?", "rome.md"),
    ("How many hours of sleep does an adult need?", "sleep.md"),
]

RECALL_AT_5_THRESHOLD = 0.8
"""The stated quality bar of BM25 alone on the mini-corpus (it scores 1.0 today)."""


class WordEmbeddings(Embeddings):
    """Deterministic bag-of-words vectors (hashed): similar texts get similar vectors."""

    def __init__(self, dimension: int = 256) -> None:
        self.dimension = dimension
        self.calls = 0

    def _vector(self, text: str) -> list[float]:
        vector = np.zeros(self.dimension, dtype=np.float32)
        for token in tokenize(text):
            vector[zlib.crc32(token.encode()) % self.dimension] += 1.0
        return vector.tolist()

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        self.calls += 1
        return [self._vector(text) for text in texts]

    def embed_query(self, text: str) -> list[float]:
        return self._vector(text)


def corpus_kb(tmp_path: Path, **settings: Any) -> KnowledgeBase:
    kb = knowledge_base(tmp_path, **settings)
    report = ingest(kb, write(tmp_path / "corpus", CORPUS))
    assert len(report.added) == len(CORPUS)
    return kb


def recall_at_5(kb: KnowledgeBase, mode: str = "auto") -> float:
    found = 0
    for question, answer_file in LABELLED:
        hits = kb.search(question, 5, mode)  # type: ignore[arg-type]
        found += any(hit.source.endswith(answer_file) for hit in hits)
    return found / len(LABELLED)


def test_bm25_recall_at_5_on_the_labelled_corpus(tmp_path: Path) -> None:
    kb = corpus_kb(tmp_path)
    assert recall_at_5(kb, "bm25") >= RECALL_AT_5_THRESHOLD
    top = kb.search("llama carry weight", 3)
    assert top[0].source.endswith("llamas.md") and top[0].rank == 1
    assert top[0].score > (top[1].score if len(top) > 1 else 0)
    assert kb.search("zzzz qqqq") == []  # no shared term: nothing, rather than noise


def test_reciprocal_rank_fusion() -> None:
    fused = reciprocal_rank_fusion([["a", "b", "c"], ["c", "a", "d"]], k=60)
    assert [item for item, _ in fused] == ["a", "c", "b", "d"]
    assert fused[0][1] == pytest.approx(1 / 61 + 1 / 62)
    assert fused[3][1] == pytest.approx(1 / 63)
    assert [i for i, _ in reciprocal_rank_fusion([["x", "y"], ["y", "x"]])] == ["x", "y"]  # tie
    assert reciprocal_rank_fusion([]) == []


def test_dense_and_hybrid_search(tmp_path: Path) -> None:
    embeddings = WordEmbeddings()
    kb = corpus_kb(tmp_path, embeddings_model="fake:words", embeddings=lambda ref: embeddings)
    with kb.open() as store:
        assert store.get_meta("embeddings_model") == "fake:words"
        _ids, matrix = store.embedding_matrix()
    assert matrix.shape == (len(CORPUS), 256)
    assert kb.has_vectors()
    assert kb.search("volcano solar system", 1, "dense")[0].source.endswith("mars.md")
    assert recall_at_5(kb, "hybrid") >= RECALL_AT_5_THRESHOLD
    assert recall_at_5(kb, "dense") >= 0.5

    lexical_only = knowledge_base(tmp_path)  # same file, no embeddings model configured
    with pytest.raises(KnowledgeBaseError, match="needs vectors"):
        lexical_only.search("volcano", 3, "hybrid")
    assert lexical_only.search("volcano", 3)[0].source.endswith("mars.md")  # auto: BM25


def test_a_new_embeddings_model_reembeds(tmp_path: Path) -> None:
    first, second = WordEmbeddings(64), WordEmbeddings(32)
    kb = corpus_kb(tmp_path, embeddings_model="fake:a", embeddings=lambda ref: first)
    switched = knowledge_base(tmp_path, embeddings_model="fake:b", embeddings=lambda ref: second)
    report = ingest(switched, tmp_path / "corpus")
    assert report.embedded == len(CORPUS) and second.calls >= 1
    with switched.open() as store:
        assert store.embedding_matrix()[1].shape == (len(CORPUS), 32)
    assert kb.search("moon side", 1)[0].source.endswith("moon.md")  # old model: BM25 fallback


def test_index_is_saved_and_rebuilt_when_the_store_changes(tmp_path: Path) -> None:
    kb = corpus_kb(tmp_path)
    kb.search("llamas")
    assert (kb.index_folder / "version.json").is_file()
    fresh = knowledge_base(tmp_path)  # a new process: loads the saved index
    assert fresh.search("llamas", 1)[0].source.endswith("llamas.md")
    write(tmp_path / "corpus", {"animals/alpacas.md": "# Alpacas\n\nAlpacas hum softly."})
    ingest(kb, tmp_path / "corpus")
    assert fresh.search("alpacas hum", 1)[0].source.endswith("alpacas.md")


def test_hits_format_for_the_model_and_parse_back(tmp_path: Path) -> None:
    hits = corpus_kb(tmp_path).search("git rebase merge", 2)
    text = format_hits(hits)
    assert text.startswith("[1] ") and "git.md#0 (Git)" in text
    parsed = parse_hits(text)
    assert [citation for citation, _ in parsed] == [hit.citation for hit in hits]
    assert parsed[0][1] == hits[0].text
    assert format_hits([]) == "No matching passages in the knowledge base."


def test_searching_a_missing_store_names_the_fix(tmp_path: Path) -> None:
    kb = knowledge_base(tmp_path)
    assert not kb.availability().available
    with pytest.raises(KnowledgeBaseError, match="assistant kb ingest"):
        kb.search("anything")


@pytest.mark.slow
def test_dense_search_with_the_embedded_models_embeddings(
    tmp_path: Path, local_assistant: Any
) -> None:
    kb = knowledge_base(
        tmp_path, embeddings_model="local:smollm2", embeddings=local_assistant.embeddings
    )
    few = {name: CORPUS[name] for name in ("space/mars.md", "cooking/bread.md", "computing/dns.md")}
    report = ingest(kb, write(tmp_path / "few", few))
    assert report.embedded == 3 and report.embedding_error is None
    with kb.open() as store:
        _, matrix = store.embedding_matrix()
    assert matrix.shape[0] == 3 and matrix.shape[1] >= 64
    assert np.allclose(np.linalg.norm(matrix, axis=1), 1.0, atol=1e-3)
    hit = kb.search("Olympus Mons volcano on Mars", 1, "dense")[0]
    assert hit.source.endswith("mars.md")
    assert kb.search("sourdough starter yeast", 1, "hybrid")[0].source.endswith("bread.md")
