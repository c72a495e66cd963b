"""``GET /v1/models``: answers at once, never waiting for a model to load."""

from __future__ import annotations

import time
from typing import Any

from fastapi import APIRouter

from assistant.errors import ModelNotFoundError
from assistant.server.auth import PrincipalDep
from assistant.server.deps import AssistantDep
from assistant.types import ModelInfo

router = APIRouter(prefix="/v1", tags=["models"])

_STARTED = int(time.time())


def _model_object(info: ModelInfo) -> dict[str, Any]:
    return {"id": info.id, "object": "model", "created": _STARTED, "owned_by": info.provider}


@router.get("/models")
async def list_models(assistant: AssistantDep, principal: PrincipalDep) -> dict[str, Any]:
    """Models that can answer now and the key may use (`assistant models` lists them all)."""
    return {
        "object": "list",
        "data": [
            _model_object(info)
            for info in assistant.list_models()
            if info.available and principal.may_use(info.id)
        ],
    }


@router.get("/models/{model_id:path}")
async def retrieve_model(
    model_id: str, assistant: AssistantDep, principal: PrincipalDep
) -> dict[str, Any]:
    """One model, or 404 in OpenAI's error shape."""
    principal.check_model(model_id)
    for info in assistant.list_models():
        if info.id == model_id and info.available:
            return _model_object(info)
    raise ModelNotFoundError(model_id)
