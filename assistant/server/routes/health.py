"""``GET /health``: cheap liveness, no provider calls, no model load."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter

from assistant.server.deps import AssistantDep

router = APIRouter(tags=["health"])


@router.get("/health")
async def health(assistant: AssistantDep) -> dict[str, Any]:
    """The process is up; the embedded models' load state and queue depth for information."""
    return {"status": "ok", "local_models": assistant.local_model_status()}
