"""``GET /v1/cache/stats`` and ``DELETE /v1/cache`` (the admin key only)."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Query

from assistant.cache import ResponseCache, key_pattern
from assistant.errors import InvalidRequestError
from assistant.server.auth import AdminDep
from assistant.server.deps import AssistantDep

router = APIRouter(prefix="/v1/cache", tags=["cache"])


def _cache(assistant: AssistantDep) -> ResponseCache:
    if assistant.cache is None:
        raise InvalidRequestError(
            "The response cache is off (set ASSISTANT_CACHE__ENABLED=true).", code="cache_disabled"
        )
    return assistant.cache


@router.get("/stats")
async def cache_stats(assistant: AssistantDep, _admin: AdminDep) -> dict[str, Any]:
    """Hits, misses, hit ratio, bytes stored and saved by compression, seconds saved."""
    return await _cache(assistant).describe()


@router.delete("")
async def clear_cache(
    assistant: AssistantDep,
    _admin: AdminDep,
    tenant: Annotated[str | None, Query(description="Only this API key's entries.")] = None,
    model: Annotated[str | None, Query(description="Only this model's entries.")] = None,
) -> dict[str, Any]:
    """Delete cached answers: all of them, or one tenant's and/or one model's."""
    deleted = await _cache(assistant).invalidate(key_pattern(tenant=tenant, model=model))
    return {"deleted": deleted, "tenant": tenant, "model": model}
