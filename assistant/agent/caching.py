"""The response cache in front of an agent's model calls.

:class:`ModelCacheMiddleware` sits innermost in the agent's middleware, so it sees each model
call exactly as the model would: the trimmed messages, the system prompt, the tools offered
and the final sampling settings. Its key is ``tenant:profile:version:sha256(...)``: the
profile name is the namespace (``DELETE /v1/cache?model=<profile>`` clears it) and the
version is a hash of the profile's settings, so editing a profile's prompt, tools or model
makes its old entries unreachable (they expire with their TTL). Message ids are left out of
the key (they are random per run) but tool-call ids are kept, and stored answers keep theirs,
so a cached first step leads to a cached second step.

A hit returns the stored answer without calling the model; it is marked
``response_metadata["cache"] == "hit"`` so the trajectory shows it. A failed call stores
nothing, and neither does a run whose :class:`CachePolicy` says ``no-store``.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Awaitable, Callable
from typing import Any

from langchain.agents.middleware import AgentMiddleware, ModelRequest, ModelResponse
from langchain_core.messages import AIMessage, BaseMessage, message_to_dict, messages_from_dict
from langchain_core.utils.function_calling import convert_to_openai_tool

from assistant.agent.middleware import CachePolicy, RunContext, model_name
from assistant.cache import ResponseCache, request_key
from assistant.config import ProfileSettings


def profile_version(profile: ProfileSettings) -> str:
    """A short hash of everything in a profile that shapes its answers."""
    canonical = profile.model_dump_json(exclude={"description", "session_ttl", "cache_ttl"})
    return hashlib.sha256(canonical.encode()).hexdigest()[:12]


def _canonical(message: BaseMessage) -> dict[str, Any]:
    entry: dict[str, Any] = {"type": message.type, "content": message.content}
    if isinstance(message, AIMessage) and message.tool_calls:
        entry["tool_calls"] = [
            {"name": c["name"], "args": c["args"], "id": c.get("id")} for c in message.tool_calls
        ]
    for attribute in ("tool_call_id", "name"):
        if value := getattr(message, attribute, None):
            entry[attribute] = value
    return entry


def _encode(message: AIMessage, seconds: float) -> bytes:
    stored = message_to_dict(message)
    stored["data"]["id"] = None  # a replayed answer gets a new id in each run
    return json.dumps({"message": stored, "seconds": seconds}, separators=(",", ":")).encode()


def _decode(value: bytes) -> AIMessage | None:
    try:
        (message,) = messages_from_dict([json.loads(value)["message"]])
    except (ValueError, KeyError, TypeError):
        return None  # written by another version: a miss
    if not isinstance(message, AIMessage):
        return None
    message.response_metadata = {**message.response_metadata, "cache": "hit"}
    return message


class ModelCacheMiddleware(AgentMiddleware[Any, Any]):
    """Answers an agent's repeated model calls from ``cache`` (namespace: the profile name)."""

    def __init__(self, cache: ResponseCache, namespace: str, profile: ProfileSettings) -> None:
        super().__init__()
        self.cache = cache
        self.namespace = namespace
        self.version = profile_version(profile)
        self.ttl = profile.cache_ttl
        self._tool_schemas: dict[str, dict[str, Any]] = {}

    def _tool_schema(self, tool: Any) -> dict[str, Any]:
        if isinstance(tool, dict):
            return tool
        name = str(tool.name)
        if name not in self._tool_schemas:  # an agent's tools are fixed: convert each once
            self._tool_schemas[name] = convert_to_openai_tool(tool)
        return self._tool_schemas[name]

    def _key(self, request: ModelRequest[Any], policy: CachePolicy) -> str | None:
        params = dict(request.model_settings)
        if not (policy.read or policy.write) or not self.cache.cacheable(params):
            return None
        params["model"] = model_name(request)
        params["tool_choice"] = request.tool_choice
        system = [request.system_prompt] if request.system_prompt else []
        return request_key(
            tenant=policy.tenant,
            model=self.namespace,
            version=self.version,
            messages=[
                *({"type": "system", "content": s} for s in system),
                *(_canonical(m) for m in request.messages),
            ],
            params=params,
            tools=[self._tool_schema(tool) for tool in request.tools],
        )

    async def awrap_model_call(
        self,
        request: ModelRequest[Any],
        handler: Callable[[ModelRequest[Any]], Awaitable[ModelResponse[Any]]],
    ) -> Any:
        context = getattr(request.runtime, "context", None)
        run = context if isinstance(context, RunContext) else None
        policy = run.cache_policy if run is not None else CachePolicy()
        key = self._key(request, policy)
        if key is None:
            return await handler(request)
        value = await self.cache.get(key) if policy.read else None
        if value is not None and (message := _decode(value)) is not None:
            if run is not None:
                run.cache_hits += 1
            return ModelResponse(result=[message])
        if run is not None:
            run.cache_misses += 1
        started = time.perf_counter()
        response = await handler(request)
        answer = next((m for m in response.result if isinstance(m, AIMessage)), None)
        if policy.write and answer is not None:
            seconds = time.perf_counter() - started
            await self.cache.put(key, _encode(answer, seconds), ttl=self.ttl, cost_s=seconds)
        return response
