"""``GET /metrics``: the Prometheus exposition (of every worker, in multiprocess mode).

Unauthenticated, as scrapers expect: serve it on a network only Prometheus reaches, or turn it
off with ``metrics.enabled = false`` (the route is then not mounted: 404). Label values hold no
prompts, keys or user ids.
"""

from __future__ import annotations

from fastapi import APIRouter
from fastapi.responses import Response

from assistant.metrics import CONTENT_TYPE, render
from assistant.server.deps import AssistantDep

router = APIRouter(tags=["metrics"])


@router.get("/metrics", include_in_schema=False)
async def metrics(assistant: AssistantDep) -> Response:
    """Every metric in Prometheus's text format."""
    assert assistant.metrics is not None  # noqa: S101 - mounted only when metrics are on
    return Response(render(assistant.metrics), media_type=CONTENT_TYPE)
