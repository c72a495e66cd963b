"""The ``knowledge_search`` tool: the top chunks of the knowledge base, with their sources.

The result is plain text the model can quote and cite: one block per chunk, headed
``[n] source#ordinal (heading)``. It works offline with BM25 alone; with an embeddings model
configured it searches hybrid (see :mod:`assistant.knowledge.search`).
"""

from __future__ import annotations

from assistant.knowledge.search import KnowledgeBase, format_hits
from assistant.tools.framework import Tool, make_tool

TOOL_NAME = "knowledge_search"

CITATION_INSTRUCTIONS = (
    "Answer from the knowledge base passages when they are relevant, and cite each passage "
    "you use by its number and source, like [1] docs/setup.md#2. If the passages do not "
    "answer the question, say so."
)
"""Added to a profile's system prompt when it retrieves from the knowledge base."""


def knowledge_search_tool(kb: KnowledgeBase, timeout: float = 30.0) -> Tool:
    """``knowledge_search`` over ``kb`` (unavailable, with the reason, until it is ingested)."""

    def knowledge_search(query: str, top_k: int = 0) -> str:
        """Search the team's documents (the knowledge base) for passages about a question.

        Returns the best passages, each headed by a number and its source (file#chunk) to cite.

        Args:
            query: What to look for, in a few keywords or a question.
            top_k: How many passages to return (0: the configured default).
        """
        k = top_k if 0 < top_k <= 20 else None
        return format_hits(kb.search(query, k))

    return make_tool(
        knowledge_search,
        name=TOOL_NAME,
        timeout=timeout,
        availability=kb.availability,
        example={"query": "How do I run an eval?", "top_k": 3},
    )
