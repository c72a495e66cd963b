"""``POST /v1/embeddings``: vectors from the provider serving the model, cached like chat.

Local models embed in-process (mean-pooled, normalised); OpenAI-compatible providers and
Ollama get the request passed through. The same key checks, rate limits (tokens counted), size
limits (``server.limits.max_embedding_inputs`` and ``max_embedding_input_tokens``) and response
cache (``X-Cache``; ``Cache-Control: no-cache`` / ``no-store``) apply as for chat. Vectors are
deterministic, so every request is cacheable.
"""

from __future__ import annotations

import json
from typing import Any

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse

from assistant.cache import request_key
from assistant.errors import InvalidRequestError
from assistant.server import caching
from assistant.server.answering import spender
from assistant.server.auth import PrincipalDep
from assistant.server.deps import AssistantDep
from assistant.server.limits import check_embedding_limits
from assistant.server.wire.embeddings import EmbeddingRequest, embedding_list

router = APIRouter(prefix="/v1", tags=["embeddings"])


@router.post("/embeddings", response_model=None)
async def create_embeddings(
    body: EmbeddingRequest, assistant: AssistantDep, principal: PrincipalDep, request: Request
) -> Any:
    """Embed a text, texts, or token arrays."""
    inputs = body.inputs()
    check_embedding_limits(inputs, request.app.state.settings.server.limits)
    principal.check_model(body.model)
    wanted = caching.policy(principal.name, request.headers.get("cache-control"))
    cache = assistant.cache
    key = None
    if cache is not None and (wanted.read or wanted.write):
        key = request_key(
            tenant=principal.name,
            model=body.model,
            messages=[{"embedding_input": item} for item in inputs],
            params={"endpoint": "embeddings", "dimensions": body.dimensions},
        )
    if cache is not None and key is not None and wanted.read:
        hit = await cache.get(key)
        if hit is not None:
            kept = json.loads(hit)
            answer = embedding_list(body.model, kept["vectors"], body.encoding_format, 0)
            answer["usage"] = kept["usage"]
            return JSONResponse(answer, headers={caching.HEADER: "hit"})
    batch = await assistant.create_embeddings(body.model, inputs, body.dimensions)
    if len(batch.vectors) != len(inputs):
        raise InvalidRequestError(
            f"'{body.model}' returned {len(batch.vectors)} vectors for {len(inputs)} inputs",
            param="input",
        )
    await spender(request, principal)(batch.prompt_tokens)
    answer = embedding_list(body.model, batch.vectors, body.encoding_format, batch.prompt_tokens)
    label = "bypass" if key is None else "miss"
    if cache is not None and key is not None and wanted.write:
        stored = {"vectors": batch.vectors, "usage": answer["usage"]}
        await cache.put(key, json.dumps(stored, separators=(",", ":")).encode())
    return JSONResponse(answer, headers={caching.HEADER: label})
