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
from collections.abc import AsyncIterator
from typing import Any

from fastapi import APIRouter
from fastapi.responses import JSONResponse, StreamingResponse
from langchain_core.language_models import LanguageModelInput
from langchain_core.messages import AIMessageChunk, BaseMessage
from langchain_core.runnables import Runnable

from assistant.log import redact
from assistant.providers import open_stream
from assistant.server.deps import AssistantDep
from assistant.server.errors import to_api_error
from assistant.server.protocol import (
    ChatCompletionRequest,
    ChunkWriter,
    completion_body,
    completion_id,
)

logger = logging.getLogger(__name__)

router = APIRouter(prefix="/v1", tags=["chat"])

DONE = "[DONE]"


def _runnable(
    assistant: AssistantDep, body: ChatCompletionRequest
) -> Runnable[LanguageModelInput, BaseMessage]:
    model = assistant.chat_model(body.model)
    if body.tools and body.tool_choice != "none":
        options: dict[str, Any] = {"tool_choice": body.tool_choice}
        return model.bind_tools(body.tool_schemas(), **options)
    return model


def _as_ai_chunk(message: BaseMessage | None) -> AIMessageChunk | None:
    if message is None or isinstance(message, AIMessageChunk):
        return message
    return AIMessageChunk(content=message.content)


def _event(data: str) -> bytes:
    return b"data: " + data.encode() + b"\n\n"


async def _events(
    writer: ChunkWriter,
    first: AIMessageChunk | None,
    stream: AsyncIterator[BaseMessage],
    include_usage: bool,
    secrets: list[str],
) -> AsyncIterator[bytes]:
    """The server-sent events of one answer; closing this closes the model's stream."""
    yield _event(writer.role())
    try:
        chunk = first
        while chunk is not None:
            frame = writer.delta(chunk)
            if frame is not None:
                yield _event(frame)
            chunk = _as_ai_chunk(await anext(stream, None))
        yield _event(writer.finish())
        if include_usage:
            yield _event(writer.usage())
    except Exception as exc:
        error = to_api_error(exc)
        logger.warning("stream failed after first byte: %s", redact(str(exc), secrets))
        body = error.body()
        body["error"]["message"] = redact(body["error"]["message"], secrets)
        yield _event(json.dumps(body, separators=(",", ":")))
    finally:
        closer = getattr(stream, "aclose", None)
        if closer is not None:
            await closer()
    yield _event(DONE)


@router.post("/chat/completions", response_model=None)
async def create_chat_completion(body: ChatCompletionRequest, assistant: AssistantDep) -> Any:
    """Answer a conversation, whole or as server-sent events."""
    runnable = _runnable(assistant, body)
    messages = body.langchain_messages()
    kwargs = body.sampling().as_kwargs()
    completion = completion_id()
    if not body.stream:
        message = await runnable.ainvoke(messages, **kwargs)
        return JSONResponse(completion_body(completion, body.model, message))

    stream = open_stream(runnable, messages, kwargs)
    try:
        first = await anext(stream, None)
    except BaseException:
        await stream.aclose()  # type: ignore[attr-defined]
        raise
    include_usage = bool(body.stream_options and body.stream_options.include_usage)
    writer = ChunkWriter(completion, body.model)
    return StreamingResponse(
        _events(writer, _as_ai_chunk(first), stream, include_usage, assistant.secrets()),
        media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
