"""The knowledge base: documents ingested into a store, searched by BM25, vectors, or both.

- :mod:`~assistant.knowledge.extract`: Markdown, text, HTML and PDF to text;
- :mod:`~assistant.knowledge.chunking`: heading-aware chunks with overlap;
- :mod:`~assistant.knowledge.store`: the :class:`KnowledgeStore` protocol and the DuckDB store;
- :mod:`~assistant.knowledge.lexical`, :mod:`~assistant.knowledge.dense`,
  :mod:`~assistant.knowledge.hybrid`: BM25, exact cosine search, reciprocal rank fusion;
- :mod:`~assistant.knowledge.search`: :class:`KnowledgeBase`, what callers hold;
- :mod:`~assistant.knowledge.ingest`: incremental ingestion with a report;
- :mod:`~assistant.knowledge.tool`: the ``knowledge_search`` tool.

This layer sits above the tool framework and providers' types, below the agent: the
composition root wires the tool and the automatic retrieval of agent profiles.
"""

from assistant.knowledge.chunking import Chunk, chunk_text
from assistant.knowledge.extract import Extracted, ExtractionError, extract
from assistant.knowledge.hybrid import reciprocal_rank_fusion
from assistant.knowledge.ingest import Ingestor, IngestReport
from assistant.knowledge.search import KnowledgeBase, SearchHit, SearchMode, format_hits, parse_hits
from assistant.knowledge.store import (
    DocumentRecord,
    DuckDBKnowledgeStore,
    KnowledgeStore,
    StoredChunk,
)
from assistant.knowledge.tool import CITATION_INSTRUCTIONS, TOOL_NAME, knowledge_search_tool

__all__ = [
    "CITATION_INSTRUCTIONS",
    "TOOL_NAME",
    "Chunk",
    "DocumentRecord",
    "DuckDBKnowledgeStore",
    "Extracted",
    "ExtractionError",
    "IngestReport",
    "Ingestor",
    "KnowledgeBase",
    "KnowledgeStore",
    "SearchHit",
    "SearchMode",
    "StoredChunk",
    "chunk_text",
    "extract",
    "format_hits",
    "knowledge_search_tool",
    "parse_hits",
    "reciprocal_rank_fusion",
]
