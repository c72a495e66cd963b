"""``POST /v1/chat/completions``, whole or streamed, in OpenAI's wire format.

A streamed answer is started before the response is: the first chunk is awaited first, so a
failure before any token (unknown model, provider down, prompt too long) is a proper HTTP
error, and fallbacks still apply. After the first byte, a failure is one ``error`` frame and
then ``[DONE]``. When the client goes away, the stream is closed, which stops generation.

Events are written as bytes straight into Starlette's ``StreamingResponse`` (which also stops
the stream when the client disconnects), and the model is driven through
:func:`~assistant.providers.open_stream` (one LangChain callback layer, not two): sse-starlette's
per-event objects and timeouts plus a second callback layer cost about 40% of the server's time
per token (``benchmarks/local_model.py``).
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from fastapi import APIRouter, Request
from fastapi.responses import JSONResponse, StreamingResponse
from langchain_core.language_models import LanguageModelInput
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.runnables import Runnable

from assistant.agent import AgentEvent, CachePolicy, RunContext
from assistant.log import redact
from assistant.providers import open_stream
from assistant.server import caching
from assistant.server.auth import PrincipalDep
from assistant.server.deps import AssistantDep
from assistant.server.errors import to_api_error
from assistant.server.limits import check_limits
from assistant.server.protocol import (
    ChatCompletionRequest,
    ChunkWriter,
    completion_body,
    completion_id,
)
from assistant.types import TextDelta, ToolFinished, ToolStarted

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/v1", tags=["chat"])

DONE = "[DONE]"

T = TypeVar("T")

Spend = Callable[[int], Awaitable[None]]
"""Counts a finished answer's tokens against the caller's key."""


def _runnable(
    assistant: AssistantDep, body: ChatCompletionRequest
) -> Runnable[LanguageModelInput, BaseMessage]:
    model = assistant.chat_model(body.model)
    if body.tools and body.tool_choice != "none":
        options: dict[str, Any] = {"tool_choice": body.tool_choice}
        return model.bind_tools(body.tool_schemas(), **options)
    return model


def _event(data: str) -> bytes:
    return b"data: " + data.encode() + b"\n\n"


def _model_frames(writer: ChunkWriter, message: BaseMessage) -> list[bytes]:
    chunk = (
        message if isinstance(message, AIMessageChunk) else AIMessageChunk(content=message.content)
    )
    frame = writer.delta(chunk)
    return [] if frame is None else [_event(frame)]


def _agent_frames(writer: ChunkWriter, event: AgentEvent) -> list[bytes]:
    if isinstance(event, TextDelta):
        return [_event(writer.text(event.text))]
    if isinstance(event, ToolStarted):
        arguments = json.dumps(event.args, ensure_ascii=False)
        return [_event(writer.text(f"Calling {event.name}({arguments})\n", reasoning=True))]
    if isinstance(event, ToolFinished):
        outcome = "failed" if event.error else "returned"
        result = event.result if len(event.result) <= 300 else event.result[:299] + "…"
        return [_event(writer.text(f"{event.name} {outcome}: {result}\n", reasoning=True))]
    usage = event.usage
    writer.count(usage.prompt_tokens, usage.completion_tokens)
    return []


async def _events(
    writer: ChunkWriter,
    first: T | None,
    rest: AsyncIterator[T],
    frames: Callable[[ChunkWriter, T], list[bytes]],
    include_usage: bool,
    secrets: list[str],
    on_done: Callable[[int], Awaitable[None]] | None = None,
    on_complete: Callable[[ChunkWriter], Awaitable[None]] | None = None,
) -> AsyncIterator[bytes]:
    """The server-sent events of one answer: role chunk, ``frames`` of each item, finish chunk,
    usage chunk if asked, ``[DONE]``; a failure is one error frame. Closing this closes ``rest``
    (which stops generation). ``on_done`` gets the tokens spent, however the stream ends;
    ``on_complete`` runs only when the answer reached its finish chunk."""
    yield _event(writer.role())
    try:
        item = first
        while item is not None:
            for frame in frames(writer, item):
                yield frame
            item = await anext(rest, None)
        yield _event(writer.finish())
        if include_usage:
            yield _event(writer.usage())
        if on_complete is not None:
            await on_complete(writer)
    except Exception as exc:
        yield _event(_error_frame(exc, secrets))
    finally:
        closer = getattr(rest, "aclose", None)
        if closer is not None:
            await closer()
        if on_done is not None:
            await on_done(writer.tokens)
    yield _event(DONE)


def _error_frame(exc: Exception, secrets: list[str]) -> str:
    error = to_api_error(exc)
    logger.warning("stream failed after first byte: %s", redact(str(exc), secrets))
    body = error.body()
    body["error"]["message"] = redact(body["error"]["message"], secrets)
    return json.dumps(body, separators=(",", ":"))


_AGENT_SETTINGS = frozenset({"temperature", "top_p", "max_tokens", "seed"})
"""Request fields that apply to every model call of an agent turn (over the profile's)."""


async def _agent_completion(
    body: ChatCompletionRequest, assistant: AssistantDep, spend: Spend, policy: CachePolicy
) -> Any:
    """An agent profile answers: the whole turn, or its events as they happen."""
    agent = assistant.agent(body.model)
    messages = body.langchain_messages()
    completion = completion_id()
    overrides = body.sampling().as_kwargs(supported=_AGENT_SETTINGS)
    context = RunContext(model_settings=overrides, cache_policy=policy)
    if not body.stream:
        result = await agent.arun(messages, context=context)
        usage = result.usage
        await spend(usage.total_tokens)
        answer = AIMessage(
            content=result.answer,
            usage_metadata={
                "input_tokens": usage.prompt_tokens,
                "output_tokens": usage.completion_tokens,
                "total_tokens": usage.total_tokens,
            },
        )
        return JSONResponse(
            completion_body(completion, body.model, answer),
            headers={caching.HEADER: result.cache},
        )
    events = aiter(agent.astream(messages, context=context))
    return await _streaming_response(
        body, completion, events, _agent_frames, assistant.secrets(), spend,
        headers=lambda: {caching.HEADER: context.cache_result},
    )  # fmt: skip


async def _streaming_response(
    body: ChatCompletionRequest,
    completion: str,
    items: AsyncIterator[T],
    frames: Callable[[ChunkWriter, T], list[bytes]],
    secrets: list[str],
    spend: Spend,
    on_complete: Callable[[ChunkWriter], Awaitable[None]] | None = None,
    headers: dict[str, str] | Callable[[], dict[str, str]] | None = None,
) -> StreamingResponse:
    """Await the first item before answering (a failure before any output is an HTTP error,
    and fallbacks still apply), then stream the rest as server-sent events.

    ``headers`` may be a function, called once the first item is there."""
    try:
        first = await anext(items, None)
    except BaseException:
        await items.aclose()  # type: ignore[attr-defined]
        raise
    include_usage = bool(body.stream_options and body.stream_options.include_usage)
    writer = ChunkWriter(completion, body.model, keep_answer=on_complete is not None)
    return StreamingResponse(
        _events(writer, first, items, frames, include_usage, secrets, spend, on_complete),
        media_type="text/event-stream",
        headers={
            "Cache-Control": "no-cache",
            "X-Accel-Buffering": "no",
            **((headers() if callable(headers) else headers) or {}),
        },
    )


@router.post("/chat/completions", response_model=None)
async def create_chat_completion(
    body: ChatCompletionRequest,
    assistant: AssistantDep,
    principal: PrincipalDep,
    request: Request,
) -> Any:
    """Answer a conversation, whole or as server-sent events; agent profiles run their agent."""
    check_limits(body, request.app.state.settings.server.limits)
    principal.check_model(body.model)
    limiter = request.app.state.rate_limiter

    async def spend(tokens: int) -> None:
        if not principal.admin:
            await limiter.spend(principal.name, tokens)

    cache_control = request.headers.get("cache-control")
    if assistant.is_agent(body.model):
        policy = caching.policy(body, principal.name, cache_control)
        return await _agent_completion(body, assistant, spend, policy)
    runnable = _runnable(assistant, body)
    messages = body.langchain_messages()
    kwargs = body.sampling().as_kwargs()
    cache = assistant.cache
    plan = caching.plan(cache, body, kwargs, principal.name, cache_control)
    if cache is not None and plan.key is not None and plan.read:
        hit = await cache.get(plan.key)
        if hit is not None:
            return _replay(body, hit)
    headers = {caching.HEADER: plan.label}
    completion = completion_id()
    started = time.perf_counter()
    if not body.stream:
        message = await runnable.ainvoke(messages, **kwargs)
        answer = completion_body(completion, body.model, message)
        await spend(answer["usage"]["total_tokens"])
        if cache is not None and plan.key is not None and plan.write:
            cost = time.perf_counter() - started
            await cache.put(plan.key, caching.stored_answer(answer), cost_s=cost)
        return JSONResponse(answer, headers=headers)

    async def store(writer: ChunkWriter) -> None:
        if cache is not None and plan.key is not None:
            value = caching.streamed_answer(*writer.answer())
            await cache.put(plan.key, value, cost_s=time.perf_counter() - started)

    stream = open_stream(runnable, messages, kwargs)
    on_complete = store if cache is not None and plan.key is not None and plan.write else None
    return await _streaming_response(
        body, completion, stream, _model_frames, assistant.secrets(), spend, on_complete, headers
    )


def _replay(body: ChatCompletionRequest, stored: bytes) -> Any:
    """A cached answer, whole or streamed."""
    headers = {caching.HEADER: "hit"}
    if not body.stream:
        return JSONResponse(caching.replayed_completion(stored, body.model), headers=headers)
    include_usage = bool(body.stream_options and body.stream_options.include_usage)
    return StreamingResponse(
        caching.replayed_stream(stored, body.model, include_usage),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", **headers},
    )
