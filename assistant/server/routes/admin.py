"""Admin routes (the admin key only): what each API key used in the current minute."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request

from assistant.server.auth import AdminDep

router = APIRouter(prefix="/v1/admin", tags=["admin"])


@router.get("/usage")
async def usage(request: Request, _admin: AdminDep) -> dict[str, Any]:
    """Requests and tokens of every configured key in the current one-minute window."""
    limiter = request.app.state.rate_limiter
    keys = request.app.state.settings.server.auth.keys
    return {
        "object": "list",
        "data": [
            {
                "key": key.name,
                "requests_per_minute": key.requests_per_minute,
                "tokens_per_minute": key.tokens_per_minute,
                **await limiter.usage(key.name),
            }
            for key in keys
        ],
    }
