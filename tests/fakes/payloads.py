"""The OpenAI wire format as the fake upstream writes it: completions, chunks, errors, JSON."""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from tests.fakes.behaviours import Ok

Message = dict[str, Any]
Send = Callable[[Message], Awaitable[None]]


def _hash_vector(text: str) -> list[float]:
    digest = hashlib.sha256(text.encode()).digest()
    return [byte / 255 for byte in digest[:8]]


def _error_type(code: int) -> str:
    return {
        400: "invalid_request_error",
        401: "authentication_error",
        403: "permission_error",
        404: "not_found_error",
        429: "rate_limit_error",
    }.get(code, "server_error" if code >= 500 else "invalid_request_error")


def _error_body(message: str, kind: str) -> dict[str, Any]:
    return {"error": {"message": message, "type": kind, "param": None, "code": None}}


def _usage(behaviour: Ok) -> dict[str, int]:
    return {
        "prompt_tokens": behaviour.prompt_tokens,
        "completion_tokens": behaviour.completion_tokens,
        "total_tokens": behaviour.prompt_tokens + behaviour.completion_tokens,
    }


def _completion(behaviour: Ok, model: str) -> dict[str, Any]:
    return {
        "id": f"chatcmpl-{time.monotonic_ns()}",
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": {"role": "assistant", "content": behaviour.text},
                "logprobs": logprobs_of(behaviour.pieces()) if behaviour.logprobs else None,
                "finish_reason": "stop",
            }
        ],
        "usage": _usage(behaviour),
    }


def logprobs_of(pieces: list[str]) -> dict[str, Any]:
    """OpenAI's ``logprobs`` object for ``pieces``: each one token at -0.5."""
    entries = [
        {"token": piece, "logprob": -0.5, "bytes": list(piece.encode()), "top_logprobs": []}
        for piece in pieces
    ]
    return {"content": entries, "refusal": None}


def _chunk(
    ident: str, model: str, delta: dict[str, Any], finish_reason: str | None = None
) -> dict[str, Any]:
    return {
        "id": ident,
        "object": "chat.completion.chunk",
        "created": int(time.time()),
        "model": model,
        "choices": [{"index": 0, "delta": delta, "finish_reason": finish_reason}],
    }


async def _send_json(
    send: Send, code: int, body: Any, headers: dict[str, str] | None = None
) -> None:
    raw = json.dumps(body).encode()
    header_list = [
        (b"content-type", b"application/json"),
        (b"content-length", str(len(raw)).encode()),
        *((k.lower().encode("latin-1"), v.encode("latin-1")) for k, v in (headers or {}).items()),
    ]
    await send({"type": "http.response.start", "status": code, "headers": header_list})
    await send({"type": "http.response.body", "body": raw, "more_body": False})
