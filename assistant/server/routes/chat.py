"""``POST /v1/chat/completions``, whole or streamed, in OpenAI's wire format.

A streamed answer is started before the response is: the first chunk is awaited first, so a
failure before any token (unknown model, provider down, prompt too long) is a proper HTTP
error, and fallbacks still apply. After the first byte, a failure is one ``error`` frame and
then ``[DONE]``. When the client goes away, the stream is closed, which stops generation.

Events are written as bytes straight into Starlette's ``StreamingResponse`` (which also stops
the stream when the client disconnects), and the model is driven through
:func:`~assistant.providers.open_stream` (one LangChain callback layer, not two): sse-starlette's
per-event objects and timeouts plus a second callback layer cost about 40% of the server's time
per token (``benchmarks/local_model.py``). Every frame is written by
:mod:`assistant.server.wire.frames`, fresh or replayed from the cache.
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
from assistant.errors import InvalidRequestError
from assistant.providers import open_stream
from assistant.server import caching
from assistant.server.auth import PrincipalDep
from assistant.server.deps import AssistantDep
from assistant.server.limits import check_limits
from assistant.server.wire import frames
from assistant.server.wire.chat import ChatCompletionRequest
from assistant.server.wire.common import DONE, STREAM_HEADERS
from assistant.server.wire.frames import ChunkWriter
from assistant.server.wire.prepared import PreparedChat, prepare_chat
from assistant.types import TextDelta, ToolFinished, ToolStarted

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/v1", tags=["chat"])

T = TypeVar("T")

Spend = Callable[[int], Awaitable[None]]
"""Counts a finished answer's tokens against the caller's key."""


def _runnable(
    assistant: AssistantDep, request: PreparedChat
) -> Runnable[LanguageModelInput, BaseMessage]:
    model = assistant.chat_model(request.model)
    if request.tools and request.body.tool_choice != "none":
        options: dict[str, Any] = {"tool_choice": request.body.tool_choice}
        return model.bind_tools(request.tools, **options)
    return model


def _check_features(assistant: AssistantDep, request: PreparedChat) -> None:
    """A 400 naming what the model cannot do, before any call (never silently ignored)."""
    needed = request.features
    if not needed:
        return
    missing = sorted(needed - assistant.model_features(request.model))
    if missing:
        raise InvalidRequestError(
            f"Model '{request.model}' does not support '{missing[0]}'.",
            param=missing[0],
            code="unsupported_parameter",
        )


def _model_frames(writer: ChunkWriter, message: BaseMessage) -> list[bytes]:
    chunk = (
        message if isinstance(message, AIMessageChunk) else AIMessageChunk(content=message.content)
    )
    frame = writer.delta(chunk)
    return [] if frame is None else [frame]


def _agent_frames(writer: ChunkWriter, event: AgentEvent) -> list[bytes]:
    if isinstance(event, TextDelta):
        return [writer.text(event.text)]
    if isinstance(event, ToolStarted):
        arguments = json.dumps(event.args, ensure_ascii=False)
        return [writer.text(f"Calling {event.name}({arguments})\n", reasoning=True)]
    if isinstance(event, ToolFinished):
        outcome = "failed" if event.error else "returned"
        result = event.result if len(event.result) <= 300 else event.result[:299] + "…"
        return [writer.text(f"{event.name} {outcome}: {result}\n", reasoning=True)]
    usage = event.usage
    writer.count(usage.prompt_tokens, usage.completion_tokens)
    return []


async def _events(
    writer: ChunkWriter,
    first: T | None,
    rest: AsyncIterator[T],
    to_frames: Callable[[ChunkWriter, T], list[bytes]],
    include_usage: bool,
    secrets: list[str],
    on_done: Callable[[int], Awaitable[None]] | None = None,
    on_complete: Callable[[ChunkWriter], Awaitable[None]] | None = None,
) -> AsyncIterator[bytes]:
    """The server-sent events of one answer: role chunk, the frames of each item, finish
    chunk, usage chunk if asked, ``[DONE]``; a failure is one error frame. Closing this closes
    ``rest`` (which stops generation). ``on_done`` gets the tokens spent, however the stream
    ends; ``on_complete`` runs only when the answer reached its finish chunk."""
    yield writer.role()
    try:
        item = first
        while item is not None:
            for frame in to_frames(writer, item):
                yield frame
            item = await anext(rest, None)
        yield writer.finish()
        if include_usage:
            yield writer.usage()
        if on_complete is not None:
            await on_complete(writer)
    except Exception as exc:
        yield frames.error_frame(exc, secrets)
    finally:
        closer = getattr(rest, "aclose", None)
        if closer is not None:
            await closer()
        if on_done is not None:
            await on_done(writer.tokens)
    yield DONE


_AGENT_SETTINGS = frozenset({"temperature", "top_p", "max_tokens", "seed", "response_format"})
"""Request fields that apply to every model call of an agent turn (over the profile's)."""


async def _agent_completion(
    request: PreparedChat, assistant: AssistantDep, spend: Spend, policy: CachePolicy
) -> Any:
    """An agent profile answers: the whole turn, or its events as they happen."""
    if request.kwargs.get("logprobs"):
        raise InvalidRequestError(
            f"'{request.model}' is an agent profile; logprobs come from raw models "
            "(ask for the model itself).",
            param="logprobs",
            code="unsupported_parameter",
        )
    agent = assistant.agent(request.model)
    ident = frames.completion_id()
    overrides = {k: v for k, v in request.kwargs.items() if k in _AGENT_SETTINGS}
    context = RunContext(model_settings=overrides, cache_policy=policy)
    if not request.stream:
        result = await agent.arun(request.messages, context=context)
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
            frames.completion(ident, request.model, frames.answer_of(answer)),
            headers={caching.HEADER: result.cache},
        )
    events = aiter(agent.astream(request.messages, context=context))
    return await _streaming_response(
        request, ident, events, _agent_frames, assistant.secrets(), spend,
        headers=lambda: {caching.HEADER: context.cache_result},
    )  # fmt: skip


async def _streaming_response(
    request: PreparedChat,
    ident: str,
    items: AsyncIterator[T],
    to_frames: Callable[[ChunkWriter, T], list[bytes]],
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
    writer = ChunkWriter(ident, request.model, keep_answer=on_complete is not None)
    return StreamingResponse(
        _events(
            writer, first, items, to_frames, request.include_usage, secrets, spend, on_complete
        ),
        media_type="text/event-stream",
        headers={**STREAM_HEADERS, **((headers() if callable(headers) else headers) or {})},
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

    prepared = prepare_chat(body)
    cache_control = request.headers.get("cache-control")
    if assistant.is_agent(body.model):
        policy = caching.policy(body, principal.name, cache_control)
        return await _agent_completion(prepared, assistant, spend, policy)
    _check_features(assistant, prepared)
    return await answer_chat(prepared, assistant, spend, principal.name, cache_control)


async def answer_chat(
    request: PreparedChat,
    assistant: AssistantDep,
    spend: Spend,
    tenant: str,
    cache_control: str | None,
) -> Any:
    """A raw model answers a prepared request: from the cache, whole, or streamed."""
    runnable = _runnable(assistant, request)
    cache = assistant.cache
    plan = caching.plan(cache, request, tenant, cache_control)
    if cache is not None and plan.key is not None and plan.read:
        hit = await cache.get(plan.key)
        if hit is not None:
            return _replay(request, frames.decode_answer(hit))
    headers = {caching.HEADER: plan.label}
    ident = frames.completion_id()
    started = time.perf_counter()
    if not request.stream:
        message = await runnable.ainvoke(request.messages, **request.kwargs)
        answer = frames.answer_of(message)
        await spend(answer["usage"]["total_tokens"])
        if cache is not None and plan.key is not None and plan.write:
            cost = time.perf_counter() - started
            await cache.put(plan.key, frames.encode_answer(answer), cost_s=cost)
        return JSONResponse(frames.completion(ident, request.model, answer), headers=headers)

    async def store(writer: ChunkWriter) -> None:
        if cache is not None and plan.key is not None:
            value = frames.encode_answer(writer.answer())
            await cache.put(plan.key, value, cost_s=time.perf_counter() - started)

    stream = open_stream(runnable, request.messages, request.kwargs)
    on_complete = store if cache is not None and plan.key is not None and plan.write else None
    return await _streaming_response(
        request, ident, stream, _model_frames, assistant.secrets(), spend, on_complete, headers
    )


def _replay(request: PreparedChat, answer: frames.Answer) -> Any:
    """A cached answer, whole or streamed, framed like a fresh one (with a fresh id)."""
    headers = {caching.HEADER: "hit"}
    ident = frames.completion_id()
    if not request.stream:
        return JSONResponse(frames.completion(ident, request.model, answer), headers=headers)

    async def replayed() -> AsyncIterator[bytes]:
        for frame in ChunkWriter(ident, request.model).replay(
            answer, include_usage=request.include_usage
        ):
            yield frame

    return StreamingResponse(
        replayed(), media_type="text/event-stream", headers={**STREAM_HEADERS, **headers}
    )
