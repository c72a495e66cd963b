"""``GET /health`` (cheap liveness) and ``GET /ready`` (can this instance serve traffic?)."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from assistant.server.deps import AssistantDep
from assistant.server.ratelimit import RedisCounters

router = APIRouter(tags=["health"])


@router.get("/health")
async def health(assistant: AssistantDep) -> dict[str, Any]:
    """The process is up; the embedded models' load state and queue depth for information."""
    return {"status": "ok", "local_models": assistant.local_model_status()}


@router.get("/ready", response_model=None)
async def ready(assistant: AssistantDep, request: Request) -> JSONResponse:
    """200 when this instance can serve: the default model's provider is usable, the embedded
    models are loaded, and Redis (rate limits, sessions) answers; 503 with the checks if not.

    Meant for load balancers and orchestrators; no provider is called and nothing is loaded.
    """
    checks: dict[str, dict[str, Any]] = {}
    settings = assistant.settings
    default_ok = True
    try:
        assistant.chat_model(settings.default_model)
    except Exception as exc:  # any reason the default model cannot be built
        default_ok = False
        checks["default_model"] = {"ok": False, "model": settings.default_model, "reason": str(exc)}
    else:
        checks["default_model"] = {"ok": True, "model": settings.default_model}
    providers: dict[str, dict[str, Any]] = {}
    for provider in assistant.registry:
        availability = provider.availability()
        providers[provider.name] = {"available": availability.available}
        if availability.reason:
            providers[provider.name]["reason"] = availability.reason
    checks["providers"] = {"ok": default_ok, "providers": providers}
    # a disabled local provider never loads its models: they cannot hold readiness back
    local = assistant.local_model_status() if settings.providers.local.enabled else {}
    checks["local_models"] = {
        "ok": all(state["loaded"] for state in local.values()),
        "models": local,
    }
    counters = request.app.state.rate_limiter.counters
    if isinstance(counters, RedisCounters):
        checks["rate_limit_redis"] = {"ok": await counters.ping()}
    sessions_ping = getattr(assistant.sessions, "ping", None)
    if sessions_ping is not None:
        checks["session_redis"] = {"ok": bool(await sessions_ping())}
    ok = all(check["ok"] for check in checks.values())
    return JSONResponse(
        {"status": "ready" if ok else "not ready", "checks": checks},
        status_code=200 if ok else 503,
    )
