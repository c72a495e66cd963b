"""Automatic retrieval: knowledge base passages in the system prompt before each model call.

A profile with ``retrieval = "auto"`` gets :class:`AutoRetrievalMiddleware`: before every
model call it gives the system prompt the knowledge base's top passages for the latest user
message, numbered and with their sources, and the instruction to cite them
(``[1] docs/setup.md#2``). The search runs once per turn, recorded in the trajectory as a
``knowledge_search`` step (``automatic: true``), so evals see exactly which contexts the model
was given; later model calls of the turn reuse it. A failing search (no store yet) never
fails the turn: the model answers without passages and the step is recorded as an error.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Awaitable, Callable
from typing import Any

from langchain.agents.middleware import AgentMiddleware, ModelRequest
from langchain_core.messages import HumanMessage, SystemMessage

from assistant.agent.middleware import RunContext
from assistant.errors import AssistantError
from assistant.knowledge import CITATION_INSTRUCTIONS, TOOL_NAME, KnowledgeBase, format_hits
from assistant.types import ToolCallRecord

logger = logging.getLogger(__name__)


class AutoRetrievalMiddleware(AgentMiddleware[Any, Any]):
    """Adds the knowledge base's best passages for the user's question to the system prompt."""

    def __init__(self, kb: KnowledgeBase, k: int | None = None, max_chars: int = 3000) -> None:
        super().__init__()
        self.kb = kb
        self.k = k or kb.settings.top_k
        self.max_chars = max_chars

    @staticmethod
    def _query(request: ModelRequest[Any]) -> str:
        last = next((m for m in reversed(request.messages) if isinstance(m, HumanMessage)), None)
        return last.text.strip() if last is not None else ""

    def _retrieve(self, query: str) -> tuple[str, bool]:
        """The passages as prompt text, and whether the search failed."""
        try:
            hits = self.kb.search(query, self.k)
        except (AssistantError, ValueError, OSError) as exc:
            logger.warning("automatic retrieval failed: %s", exc)
            return f"knowledge_search failed: {exc}", True
        return format_hits(hits, max_chars=max(200, self.max_chars // max(1, self.k))), False

    @staticmethod
    def _earlier(request: ModelRequest[Any], query: str) -> ToolCallRecord | None:
        """This run's search for ``query``, if an earlier model call of the turn made it."""
        context = getattr(request.runtime, "context", None)
        if not isinstance(context, RunContext):
            return None
        args = {"query": query, "automatic": True}
        return next(
            (
                step
                for step in context.trajectory
                if isinstance(step, ToolCallRecord) and step.name == TOOL_NAME and step.args == args
            ),
            None,
        )

    @staticmethod
    def _record(
        request: ModelRequest[Any], query: str, text: str, failed: bool, started: float
    ) -> None:
        context = getattr(request.runtime, "context", None)
        if isinstance(context, RunContext):
            context.trajectory.append(
                ToolCallRecord(
                    name=TOOL_NAME,
                    args={"query": query, "automatic": True},
                    call_id="auto-retrieval",
                    result=text,
                    latency_s=time.perf_counter() - started,
                    error=failed,
                )
            )

    @staticmethod
    def _apply(request: ModelRequest[Any], text: str, failed: bool) -> ModelRequest[Any]:
        if failed:
            return request
        prompt = request.system_prompt or ""
        addition = f"{CITATION_INSTRUCTIONS}\n\nKnowledge base passages:\n\n{text}"
        return request.override(
            system_message=SystemMessage(f"{prompt}\n\n{addition}" if prompt else addition)
        )

    def wrap_model_call(
        self, request: ModelRequest[Any], handler: Callable[[ModelRequest[Any]], Any]
    ) -> Any:
        query, started = self._query(request), time.perf_counter()
        if not query:
            return handler(request)
        if (earlier := self._earlier(request, query)) is not None:
            return handler(self._apply(request, earlier.result, earlier.error))
        text, failed = self._retrieve(query)
        self._record(request, query, text, failed, started)
        return handler(self._apply(request, text, failed))

    async def awrap_model_call(
        self, request: ModelRequest[Any], handler: Callable[[ModelRequest[Any]], Awaitable[Any]]
    ) -> Any:
        query, started = self._query(request), time.perf_counter()
        if not query:
            return await handler(request)
        # each model call of a turn sees the same passages: search once per turn
        if (earlier := self._earlier(request, query)) is not None:
            return await handler(self._apply(request, earlier.result, earlier.error))
        # the query embedding (a local model) may take a while: keep the event loop free
        text, failed = await asyncio.to_thread(self._retrieve, query)
        self._record(request, query, text, failed, started)
        return await handler(self._apply(request, text, failed))
