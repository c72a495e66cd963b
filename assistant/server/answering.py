"""How a prepared request is answered, whatever the endpoint: a raw model (from the cache,
whole, or streamed) or an agent profile; the endpoint only chooses the framing.

A streamed answer is started before the response is: the first chunk is awaited first, so a
failure before any token (unknown model, provider down, prompt too long) is a proper HTTP
error, and fallbacks still apply. After the first byte, a failure is one error event and then
the stream's end. When the client goes away, the stream is closed, which stops generation.

Events are written as bytes straight into Starlette's ``StreamingResponse`` (which also stops
the stream when the client disconnects), and the model is driven through
:func:`~assistant.providers.open_stream` (one LangChain callback layer, not two): sse-starlette's
per-event objects and timeouts plus a second callback layer cost about 40% of the server's time
per token (``benchmarks/local_model.py``). Every frame is written by a
:class:`~assistant.server.wire.frames.Framing` (chat chunks, or the Responses API's events),
fresh or replayed from the cache.
"""

from __future__ import annotations

import json
import logging
import time
from collections.abc import AsyncIterator, Awaitable, Callable
from typing import Any, TypeVar

from fastapi import Request
from fastapi.responses import JSONResponse, StreamingResponse
from langchain_core.language_models import LanguageModelInput
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, ToolCall
from langchain_core.runnables import Runnable

from assistant.agent import AgentEvent, Assistant, CachePolicy, RunContext
from assistant.errors import InvalidRequestError
from assistant.log import redact
from assistant.providers import open_stream
from assistant.server import caching
from assistant.server.auth import Principal
from assistant.server.wire import frames
from assistant.server.wire.common import STREAM_HEADERS
from assistant.server.wire.frames import Framing, StreamWriter
from assistant.server.wire.prepared import PreparedChat
from assistant.types import TextDelta, ToolFinished, ToolStarted

logger = logging.getLogger(__name__)

T = TypeVar("T")

Spend = Callable[[int], Awaitable[None]]
"""Counts a finished answer's tokens against the caller's key."""
OnAnswer = Callable[[frames.Answer], Awaitable[None]]
"""Told each complete answer (whole, or a stream that reached its end)."""


def _runnable(
    assistant: Assistant, request: PreparedChat
) -> Runnable[LanguageModelInput, BaseMessage]:
    model = assistant.chat_model(request.model)
    if request.tools and request.body.tool_choice != "none":
        options: dict[str, Any] = {"tool_choice": request.body.tool_choice}
        return model.bind_tools(request.tools, **options)
    return model


def check_features(assistant: Assistant, request: PreparedChat, ref: str | None = None) -> None:
    """A 400 naming what the model (``ref``, default the request's) cannot do, before any
    call: never silently ignored."""
    needed = request.features
    if not needed:
        return
    ref = ref or request.model
    missing = sorted(needed - assistant.model_features(ref))
    if not missing:
        return
    if missing[0] == "images":
        raise InvalidRequestError(
            f"Model '{ref}' does not take image input, and the messages have image parts. "
            "Send text only, or use a model that sees images (a provider's `image_models` "
            "setting declares them).",
            param="messages",
            code="images_not_supported",
        )
    raise InvalidRequestError(
        f"Model '{ref}' does not support '{missing[0]}'.",
        param=missing[0],
        code="unsupported_parameter",
    )


def _model_frames(writer: StreamWriter, message: BaseMessage) -> list[bytes]:
    chunk = (
        message if isinstance(message, AIMessageChunk) else AIMessageChunk(content=message.content)
    )
    frame = writer.delta(chunk)
    return [] if frame is None else [frame]


def _agent_frames(
    writer: StreamWriter, event: AgentEvent, client_calls: dict[str, int] | None = None
) -> list[bytes]:
    """``client_calls`` (call id to index), when the caller offered tools of its own: a call to
    one of them is the answer's tool call, not the agent's working."""
    if isinstance(event, TextDelta):
        return [writer.text(event.text)]
    if isinstance(event, ToolStarted) and client_calls is not None and event.client:
        index = client_calls.setdefault(event.call_id, len(client_calls))
        piece = {"name": event.name, "args": json.dumps(event.args), "id": event.call_id,
                 "index": index, "type": "tool_call_chunk"}  # fmt: skip
        frame = writer.delta(AIMessageChunk(content="", tool_call_chunks=[piece]))
        return [] if frame is None else [frame]
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
    writer: StreamWriter,
    first: T | None,
    rest: AsyncIterator[T],
    to_frames: Callable[[StreamWriter, T], list[bytes]],
    secrets: list[str],
    on_done: Callable[[int], Awaitable[None]] | None = None,
    on_answer: OnAnswer | None = None,
) -> AsyncIterator[bytes]:
    """The server-sent events of one answer: the start, the frames of each item, the end; a
    failure is one error event. Closing this closes ``rest`` (which stops generation).
    ``on_done`` gets the tokens spent, however the stream ends; ``on_answer`` the answer, only
    when it reached its end."""
    yield writer.start()
    completed = False
    try:
        item = first
        while item is not None:
            for frame in to_frames(writer, item):
                yield frame
            item = await anext(rest, None)
        yield writer.end()
        completed = True
    except Exception as exc:
        yield writer.failed(exc, secrets)
    finally:
        closer = getattr(rest, "aclose", None)
        if closer is not None:
            await closer()
        if on_done is not None:
            await on_done(writer.tokens)
    if completed:
        await tell(on_answer, writer.answer(), secrets)
    closing = writer.close()
    if closing:
        yield closing


async def _streaming_response(
    framing: Framing,
    items: AsyncIterator[T],
    to_frames: Callable[[StreamWriter, T], list[bytes]],
    secrets: list[str],
    spend: Spend,
    on_answer: OnAnswer | None = None,
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
    writer = framing.writer(keep_answer=on_answer is not None)
    return StreamingResponse(
        _events(writer, first, items, to_frames, secrets, spend, on_answer),
        media_type="text/event-stream",
        headers={**STREAM_HEADERS, **((headers() if callable(headers) else headers) or {})},
    )


async def tell(on_answer: OnAnswer | None, answer: frames.Answer, secrets: list[str]) -> None:
    """Hand a complete answer on (cache, session store); a failure there is logged, never the
    client's: the answer was given."""
    if on_answer is None:
        return
    try:
        await on_answer(answer)
    except Exception as exc:
        logger.warning(
            "keeping a finished answer failed: %s: %s",
            type(exc).__name__,
            redact(str(exc), secrets),
        )


def _both(first: OnAnswer | None, second: OnAnswer | None) -> OnAnswer | None:
    if first is None or second is None:
        return first or second

    async def both(answer: frames.Answer) -> None:
        await first(answer)
        await second(answer)

    return both


async def answer_raw(
    request: PreparedChat,
    assistant: Assistant,
    framing: Framing,
    *,
    spend: Spend,
    tenant: str,
    cache_control: str | None,
    on_answer: OnAnswer | None = None,
) -> Any:
    """A raw model answers a prepared request: from the cache, whole, or streamed."""
    check_features(assistant, request)
    runnable = _runnable(assistant, request)
    cache = assistant.cache
    plan = caching.plan(cache, request, tenant, cache_control)
    if cache is not None and plan.key is not None and plan.read:
        hit = await cache.get(plan.key)
        if hit is not None:
            answer = frames.decode_answer(hit)
            await tell(on_answer, answer, assistant.secrets())
            return _replay(request, framing, answer)
    headers = {caching.HEADER: plan.label}
    started = time.perf_counter()
    store: OnAnswer | None = None
    if cache is not None and plan.key is not None and plan.write:
        key = plan.key

        async def store(answer: frames.Answer) -> None:
            value = frames.encode_answer(answer)
            await cache.put(key, value, cost_s=time.perf_counter() - started)

    after = _both(store, on_answer)
    if not request.stream:
        message = await runnable.ainvoke(request.messages, **request.kwargs)
        answer = frames.answer_of(message)
        await spend(answer["usage"]["total_tokens"])
        await tell(after, answer, assistant.secrets())
        return JSONResponse(framing.whole(answer), headers=headers)
    stream = open_stream(runnable, request.messages, request.kwargs)
    return await _streaming_response(
        framing, stream, _model_frames, assistant.secrets(), spend, after, headers
    )


def _replay(request: PreparedChat, framing: Framing, answer: frames.Answer) -> Any:
    """A cached answer, whole or streamed, framed like a fresh one (with a fresh id)."""
    headers = {caching.HEADER: "hit"}
    if not request.stream:
        return JSONResponse(framing.whole(answer), headers=headers)

    async def replayed() -> AsyncIterator[bytes]:
        for frame in framing.writer(keep_answer=False).replay(answer):
            yield frame

    return StreamingResponse(
        replayed(), media_type="text/event-stream", headers={**STREAM_HEADERS, **headers}
    )


def client_calls_of(messages: list[BaseMessage], offered: list[dict[str, Any]]) -> list[ToolCall]:
    """The calls to the caller's own tools that ended an agent's turn (unexecuted)."""
    names = {tool["function"]["name"] for tool in offered}
    final = messages[-1] if messages else None
    if not names or not isinstance(final, AIMessage):
        return []
    return [call for call in final.tool_calls if call["name"] in names]


AGENT_SETTINGS = frozenset({"temperature", "top_p", "max_tokens", "seed", "response_format"})
"""Request fields that apply to every model call of an agent turn (over the profile's)."""


async def answer_agent(
    request: PreparedChat,
    assistant: Assistant,
    framing: Framing,
    *,
    spend: Spend,
    policy: CachePolicy,
    on_answer: OnAnswer | None = None,
) -> Any:
    """An agent profile answers: the whole turn, or its events as they happen."""
    if request.kwargs.get("logprobs"):
        raise InvalidRequestError(
            f"'{request.model}' is an agent profile; logprobs come from raw models "
            "(ask for the model itself).",
            param="logprobs",
            code="unsupported_parameter",
        )
    profile = assistant.settings.profiles.get(request.model)
    if profile is not None:
        check_features(assistant, request, profile.model)
    agent = assistant.agent(request.model)
    overrides = {k: v for k, v in request.kwargs.items() if k in AGENT_SETTINGS}
    offered = request.tools if request.body.tool_choice != "none" else []
    context = RunContext(model_settings=overrides, cache_policy=policy, client_tools=offered)
    if not request.stream:
        result = await agent.arun(request.messages, context=context)
        usage = result.usage
        await spend(usage.total_tokens)
        message = AIMessage(
            content=result.answer,
            tool_calls=client_calls_of(result.messages, offered),
            usage_metadata={
                "input_tokens": usage.prompt_tokens,
                "output_tokens": usage.completion_tokens,
                "total_tokens": usage.total_tokens,
            },
        )
        answer = frames.answer_of(message)
        await tell(on_answer, answer, assistant.secrets())
        return JSONResponse(framing.whole(answer), headers={caching.HEADER: result.cache})
    events = aiter(agent.astream(request.messages, context=context))
    calls: dict[str, int] | None = {} if offered else None

    def to_frames(writer: StreamWriter, event: AgentEvent) -> list[bytes]:
        return _agent_frames(writer, event, calls)

    return await _streaming_response(
        framing, events, to_frames, assistant.secrets(), spend, on_answer,
        headers=lambda: {caching.HEADER: context.cache_result},
    )  # fmt: skip


def spender(request: Request, principal: Principal) -> Spend:
    """Counts a finished answer's tokens against the caller's key (admins are not limited)."""
    limiter = request.app.state.rate_limiter

    async def spend(tokens: int) -> None:
        if not principal.admin:
            await limiter.spend(principal.name, tokens)

    return spend


async def answer(
    prepared: PreparedChat,
    assistant: Assistant,
    framing: Framing,
    *,
    request: Request,
    principal: Principal,
    on_answer: OnAnswer | None = None,
) -> Any:
    """Answer a prepared request the way its model asks: an agent profile runs its agent, a
    raw model answers (from the cache when it can)."""
    spend = spender(request, principal)
    cache_control = request.headers.get("cache-control")
    if assistant.is_agent(prepared.model):
        policy = caching.policy(principal.name, cache_control, prepared.body.cache_control)
        return await answer_agent(
            prepared, assistant, framing, spend=spend, policy=policy, on_answer=on_answer
        )
    return await answer_raw(
        prepared,
        assistant,
        framing,
        spend=spend,
        tenant=principal.name,
        cache_control=cache_control,
        on_answer=on_answer,
    )
