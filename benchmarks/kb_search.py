"""Knowledge base search latency at 10k and 100k chunks: BM25, dense and hybrid.

A synthetic corpus (deterministic seed) is written into a real DuckDB store: chunks of about
120 words drawn from a Zipf-distributed vocabulary of 30,000 made-up words, each with a random
unit vector (384 dimensions, like small sentence-embedding models; SmolLM2's are 576).
Queries are 2-5 words drawn the same way. Measured per query, after a warm-up, through
:meth:`KnowledgeBase.search` (what the tool and the CLI call): BM25 (bm25s), dense (numpy
matrix-vector product over the cached matrix, the query vector precomputed) and hybrid (both,
fused by RRF). For comparison, exact cosine search in SQL with DuckDB's
``list_cosine_similarity``. Also reported: the time to build the store, the first search
(BM25 index build and save) and a cold start that loads the saved index.

Target: BM25 p50 under 20 ms at 100k chunks.

    uv run python benchmarks/kb_search.py [--sizes 10000,100000] [--queries 300] [--dim 384]

Writes benchmarks/results/kb_search.json.
"""

from __future__ import annotations

import argparse
import statistics
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

import duckdb
import numpy as np
from _results import write_results
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from assistant.config import KnowledgeSettings  # noqa: E402
from assistant.knowledge import Chunk, DuckDBKnowledgeStore, KnowledgeBase  # noqa: E402

TARGET_BM25_P50_MS = 20.0
SEED = 20_260_101
VOCABULARY = 30_000
WORDS_PER_CHUNK = 120
CHUNKS_PER_DOC = 500


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def summary(values: list[float]) -> dict[str, float]:
    return {
        "p50_ms": round(percentile(values, 0.5), 3),
        "p99_ms": round(percentile(values, 0.99), 3),
        "mean_ms": round(statistics.fmean(values), 3),
    }


def vocabulary(rng: np.random.Generator) -> np.ndarray[Any, Any]:
    letters = np.array(list("abcdefghijklmnopqrstuvwxyz"))
    lengths = rng.integers(4, 10, size=VOCABULARY)
    return np.array(["".join(rng.choice(letters, size=n)) for n in lengths])


def zipf_words(rng: np.random.Generator, words: np.ndarray[Any, Any], n: int) -> list[str]:
    ranks = np.minimum(rng.zipf(1.15, size=n), len(words)) - 1
    return list(words[ranks])


def unit_rows(rng: np.random.Generator, n: int, dim: int) -> np.ndarray[Any, Any]:
    rows = rng.standard_normal((n, dim)).astype(np.float32)
    return rows / np.linalg.norm(rows, axis=1, keepdims=True)


def build_store(path: Path, size: int, dim: int, progress: Progress) -> float:
    rng = np.random.default_rng(SEED)
    words = vocabulary(rng)
    task = progress.add_task(f"store {size:,}", total=size)
    started = time.perf_counter()
    with DuckDBKnowledgeStore(path) as store:
        next_id = 1
        for doc_id, first in enumerate(range(0, size, CHUNKS_PER_DOC), start=1):
            count = min(CHUNKS_PER_DOC, size - first)
            chunks = [
                Chunk(i, f"Section {i}", " ".join(zipf_words(rng, words, WORDS_PER_CHUNK)))
                for i in range(count)
            ]
            store._con.execute(  # bulk path: one document row, chunks through Arrow
                "INSERT INTO documents VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?, now())",
                [
                    doc_id,
                    f"/synthetic/{doc_id}.md",
                    f"synthetic/{doc_id}.md",
                    "markdown",
                    None,
                    f"{doc_id:064x}",
                    0.0,
                    0,
                    count,
                ],
            )
            store.insert_chunks(doc_id, next_id, chunks, unit_rows(rng, count, dim))
            next_id += count
            progress.update(task, advance=count)
        store.set_meta("embeddings_model", "bench:random")
        store.set_meta("version", "1")
    return time.perf_counter() - started


class FixedEmbeddings:
    """Query vectors precomputed, so dense timings measure search, not embedding."""

    def __init__(self, vectors: dict[str, list[float]]) -> None:
        self.vectors = vectors

    def embed_query(self, text: str) -> list[float]:
        return self.vectors[text]

    def embed_documents(self, texts: list[str]) -> list[list[float]]:
        return [self.vectors[text] for text in texts]


def timed(fn: Any, queries: list[str], progress: Progress, label: str) -> list[float]:
    task = progress.add_task(label, total=len(queries))
    times = []
    for query in queries:
        started = time.perf_counter()
        fn(query)
        times.append((time.perf_counter() - started) * 1000)
        progress.update(task, advance=1)
    return times


def measure(
    size: int, n_queries: int, dim: int, folder: Path, progress: Progress
) -> dict[str, Any]:
    path = folder / f"kb_{size}.duckdb"
    build_s = build_store(path, size, dim, progress)
    rng = np.random.default_rng(SEED + 1)
    words = vocabulary(np.random.default_rng(SEED))
    queries = [" ".join(zipf_words(rng, words, int(rng.integers(2, 6)))) for _ in range(n_queries)]
    vectors = {
        q: row.tolist() for q, row in zip(queries, unit_rows(rng, n_queries, dim), strict=True)
    }
    embeddings = FixedEmbeddings(vectors)
    settings = KnowledgeSettings(path=path, embeddings_model="bench:random", top_k=5)
    kb = KnowledgeBase(settings, embeddings=lambda ref: embeddings)  # type: ignore[arg-type,return-value]

    started = time.perf_counter()
    kb.search(queries[0], 5, "bm25")  # loads chunks and vectors, builds and saves BM25
    first_s = time.perf_counter() - started
    started = time.perf_counter()
    KnowledgeBase(settings, embeddings=lambda ref: embeddings).search(queries[0], 5, "bm25")  # type: ignore[arg-type,return-value]
    cold_s = time.perf_counter() - started

    for query in queries[:20]:  # warm-up
        kb.search(query, 5, "hybrid")
    results: dict[str, Any] = {
        "chunks": size,
        "dimension": dim,
        "build_store_s": round(build_s, 2),
        "first_search_s": round(first_s, 2),
        "cold_start_s": round(cold_s, 2),
    }
    for mode in ("bm25", "dense", "hybrid"):
        results[mode] = summary(
            timed(lambda q, m=mode: kb.search(q, 5, m), queries, progress, f"{mode} {size:,}")
        )

    sql_queries = queries[:20]
    with duckdb.connect(str(path), read_only=True) as con:

        def sql(query: str) -> None:
            con.execute(
                "SELECT id FROM chunks ORDER BY list_cosine_similarity(embedding, ?::FLOAT[]) "
                "DESC LIMIT 5",
                [vectors[query]],
            ).fetchall()

        results["duckdb_sql_dense"] = summary(timed(sql, sql_queries, progress, f"sql {size:,}"))
    return results


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n", 1)[0])
    parser.add_argument("--sizes", default="10000,100000")
    parser.add_argument("--queries", type=int, default=300)
    parser.add_argument("--dim", type=int, default=384)
    args = parser.parse_args()
    sizes = [int(s) for s in args.sizes.split(",")]
    console = Console()
    runs = []
    with (
        tempfile.TemporaryDirectory() as tmp,
        Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            console=console,
            transient=True,
        ) as progress,
    ):
        for size in sizes:
            runs.append(measure(size, args.queries, args.dim, Path(tmp), progress))

    table = Table(
        title=f"Knowledge base search ({args.queries} queries, top 5)", title_justify="left"
    )
    for column in (
        "chunks",
        "BM25 p50/p99",
        "dense p50/p99",
        "hybrid p50/p99",
        "SQL dense p50",
        "store build",
        "first search",
        "cold start",
    ):
        table.add_column(column, justify="right")
    for run in runs:
        table.add_row(
            f"{run['chunks']:,}",
            *(
                f"{run[m]['p50_ms']:.2f} / {run[m]['p99_ms']:.2f} ms"
                for m in ("bm25", "dense", "hybrid")
            ),
            f"{run['duckdb_sql_dense']['p50_ms']:.1f} ms",
            f"{run['build_store_s']:.1f} s",
            f"{run['first_search_s']:.1f} s",
            f"{run['cold_start_s']:.1f} s",
        )
    console.print(table)
    largest = max(runs, key=lambda run: run["chunks"])
    met = largest["bm25"]["p50_ms"] < TARGET_BM25_P50_MS
    console.print(
        f"target BM25 p50 < {TARGET_BM25_P50_MS:g} ms at {largest['chunks']:,} chunks: "
        f"{'[green]met[/]' if met else '[red]not met[/]'} ({largest['bm25']['p50_ms']:.2f} ms)"
    )
    write_results(
        ROOT / "benchmarks" / "results" / "kb_search.json",
        {
            "settings": {
                "queries": args.queries,
                "dimension": args.dim,
                "seed": SEED,
                "words_per_chunk": WORDS_PER_CHUNK,
                "vocabulary": VOCABULARY,
            },
            "target_bm25_p50_ms": TARGET_BM25_P50_MS,
            "target_met": met,
            "runs": runs,
        },
    )


if __name__ == "__main__":
    main()
