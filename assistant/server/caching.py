"""The response cache in front of raw model calls: what is cacheable, and keys.

A raw-model request is cacheable when the cache is on and the request is deterministic
(``temperature: 0`` or a ``seed``, unless ``cache.only_deterministic`` is off). Agent turns
are cached per model call, inside the agent (``assistant.agent.caching``); here they only get
their :class:`~assistant.agent.CachePolicy`, and ``X-Cache`` says ``hit`` when every model
call of the turn was answered from the cache (for a stream: every call before its first event).
``Cache-Control: no-cache`` (or the body field ``cache_control: "no-cache"``) skips the
lookup, ``no-store`` skips the write; every answer says what happened in ``X-Cache``: ``hit``,
``miss`` or ``bypass``. The key covers the tenant (the API key's name), the model, the
messages, sampling parameters, ``response_format``, logprobs, tools and ``tool_choice``. What
is stored is the :data:`~assistant.server.wire.frames.Answer` (message, finish reason, usage,
logprobs); a hit is replayed with a fresh id by the same writer as a fresh answer, whole or as
a stream. Errors and streams cut off before their finish chunk are never stored.
"""

from __future__ import annotations

from dataclasses import dataclass

from assistant.agent import CachePolicy
from assistant.cache import ResponseCache, request_key
from assistant.server.wire.prepared import PreparedChat

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


def policy(tenant: str, cache_control: str | None, body_field: str | None = None) -> CachePolicy:
    """Whose entries a request uses, and whether it may read (``no-cache``: not) and write
    (``no-store``: not) them, from the ``Cache-Control`` header and the body field."""
    words = f"{cache_control or ''},{body_field or ''}".lower().replace(" ", "").split(",")
    return CachePolicy(tenant=tenant, read="no-cache" not in words, write="no-store" not in words)


def plan(
    cache: ResponseCache | None, request: PreparedChat, tenant: str, cache_control: str | None
) -> CachePlan:
    """Whether and how this raw-model request uses the cache."""
    if cache is None or not cache.cacheable(request.kwargs):
        return BYPASS
    wanted = policy(tenant, cache_control, request.body.cache_control)
    if not (wanted.read or wanted.write):
        return BYPASS
    key = request_key(
        tenant=tenant,
        model=request.model,
        messages=request.wire_messages,
        params={**request.kwargs, "tool_choice": request.body.tool_choice},
        tools=request.tools,
    )
    return CachePlan(key, wanted.read, wanted.write)
