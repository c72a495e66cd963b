"""The response cache in front of raw model calls: what is cacheable, keys, and replays.

A raw-model request is cacheable when the cache is on and the request is deterministic
(``temperature: 0`` or a ``seed``, unless ``cache.only_deterministic`` is off). Agent turns
are cached per model call, inside the agent (``assistant.agent.caching``); here they only get
their :class:`~assistant.agent.CachePolicy`, and ``X-Cache`` says ``hit`` when every model
call of the turn was answered from the cache (for a stream: every call before its first event).
``Cache-Control: no-cache`` (or the body field ``cache_control: "no-cache"``) skips the
lookup, ``no-store`` skips the write; every answer says what happened in ``X-Cache``: ``hit``,
``miss`` or ``bypass``. The key covers the tenant (the API key's name), the model, the
messages, sampling parameters, tools and ``tool_choice``. What is stored is the assistant
message, its finish reason and usage; a hit is replayed with a fresh id, whole or as a proper
stream. Errors and streams cut off before their finish chunk are never stored.
"""

from __future__ import annotations

import json
import time
from collections.abc import AsyncIterator
from dataclasses import dataclass
from typing import Any

from assistant.agent import CachePolicy
from assistant.cache import ResponseCache, request_key
from assistant.server.protocol import ChatCompletionRequest, completion_id

HEADER = "X-Cache"


@dataclass(frozen=True, slots=True)
class CachePlan:
    """What the cache does for one request."""

    key: str | None
    """``None``: the request bypasses the cache."""
    read: bool
    write: bool

    @property
    def label(self) -> str:
        """``X-Cache`` for a request that did not hit."""
        return "miss" if self.key is not None and (self.read or self.write) else "bypass"


BYPASS = CachePlan(None, False, False)


def policy(body: ChatCompletionRequest, tenant: str, cache_control: str | None) -> CachePolicy:
    """Whose entries a request uses, and whether it may read (``no-cache``: not) and write
    (``no-store``: not) them, from the ``Cache-Control`` header and the body field."""
    words = f"{cache_control or ''},{body.cache_control or ''}".lower().replace(" ", "").split(",")
    return CachePolicy(tenant=tenant, read="no-cache" not in words, write="no-store" not in words)


def plan(
    cache: ResponseCache | None,
    body: ChatCompletionRequest,
    kwargs: dict[str, Any],
    tenant: str,
    cache_control: str | None,
) -> CachePlan:
    """Whether and how this raw-model request uses the cache."""
    if cache is None or not cache.cacheable(kwargs):
        return BYPASS
    wanted = policy(body, tenant, cache_control)
    if not (wanted.read or wanted.write):
        return BYPASS
    params = {**kwargs, "tool_choice": body.tool_choice}
    key = request_key(
        tenant=tenant,
        model=body.model,
        messages=[message.model_dump(exclude_none=True) for message in body.messages],
        params=params,
        tools=body.tool_schemas(),
    )
    return CachePlan(key, wanted.read, wanted.write)


def stored_answer(completion: dict[str, Any]) -> bytes:
    """What is kept of a whole completion: the message, finish reason and usage."""
    choice = completion["choices"][0]
    kept = {
        "message": choice["message"],
        "finish_reason": choice["finish_reason"],
        "usage": completion["usage"],
    }
    return json.dumps(kept, separators=(",", ":")).encode()


def replayed_completion(stored: bytes, model: str) -> dict[str, Any]:
    """A whole ``chat.completion`` from a stored answer, with a fresh id."""
    kept = json.loads(stored)
    return {
        "id": completion_id(),
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": kept["message"],
                "logprobs": None,
                "finish_reason": kept["finish_reason"],
            }
        ],
        "usage": kept["usage"],
    }


async def replayed_stream(stored: bytes, model: str, include_usage: bool) -> AsyncIterator[bytes]:
    """A stored answer as server-sent events: role, content, tool calls, finish, usage, done."""
    kept = json.loads(stored)
    ident, created = completion_id(), int(time.time())

    def frame(choices: list[dict[str, Any]], **extra: Any) -> bytes:
        payload = {"id": ident, "object": "chat.completion.chunk", "created": created,
                   "model": model, "choices": choices, **extra}  # fmt: skip
        return b"data: " + json.dumps(payload, separators=(",", ":")).encode() + b"\n\n"

    def delta(values: dict[str, Any], finish: str | None = None) -> bytes:
        return frame([{"index": 0, "delta": values, "finish_reason": finish}])

    message = kept["message"]
    yield delta({"role": "assistant", "content": ""})
    if message.get("content"):
        yield delta({"content": message["content"]})
    for index, call in enumerate(message.get("tool_calls") or []):
        yield delta({"tool_calls": [{"index": index, **call}]})
    yield delta({}, kept["finish_reason"])
    if include_usage:
        yield frame([], usage=kept["usage"])
    yield b"data: [DONE]\n\n"


def streamed_answer(
    text: str, tool_calls: list[dict[str, Any]], finish: str, usage: dict[str, int]
) -> bytes:
    """What is kept of a stream that reached its finish chunk."""
    message: dict[str, Any] = {"role": "assistant", "content": text or None}
    if tool_calls:
        message["tool_calls"] = tool_calls
    else:
        message["content"] = text
    kept = {"message": message, "finish_reason": finish, "usage": usage}
    return json.dumps(kept, separators=(",", ":")).encode()
