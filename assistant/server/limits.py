"""Size limits of one request (``server.limits``), checked before any model is called."""

from __future__ import annotations

import json

from assistant.config import LimitSettings
from assistant.errors import InvalidRequestError
from assistant.server.wire.chat import ChatCompletionRequest, ImagePart, TextPart


def _chars(content: str | list[TextPart | ImagePart] | None) -> int:
    if content is None:
        return 0
    if isinstance(content, str):
        return len(content)
    return sum(len(part.text) for part in content if isinstance(part, TextPart))


def check_limits(body: ChatCompletionRequest, limits: LimitSettings) -> None:
    """Raise :class:`InvalidRequestError` (400, naming the field) when ``body`` is over a limit."""
    if len(body.messages) > limits.max_messages:
        raise InvalidRequestError(
            f"Too many messages: {len(body.messages)} (at most {limits.max_messages}).",
            param="messages",
            code="too_many_messages",
        )
    for index, message in enumerate(body.messages):
        size = _chars(message.content)
        if size > limits.max_message_chars:
            raise InvalidRequestError(
                f"Message {index} is too long: {size} characters "
                f"(at most {limits.max_message_chars}).",
                param=f"messages.{index}.content",
                code="message_too_long",
            )
    asked = body.max_completion_tokens or body.max_tokens
    if asked is not None and asked > limits.max_tokens:
        param = "max_completion_tokens" if body.max_completion_tokens else "max_tokens"
        raise InvalidRequestError(
            f"'{param}' is {asked}; this server allows at most {limits.max_tokens}.",
            param=param,
            code="max_tokens_too_large",
        )
    tools = body.tools or []
    if len(tools) > limits.max_tools:
        raise InvalidRequestError(
            f"Too many tools: {len(tools)} (at most {limits.max_tools}).",
            param="tools",
            code="too_many_tools",
        )
    for index, tool in enumerate(tools):
        size = len(json.dumps(tool.model_dump(exclude_none=True)))
        if size > limits.max_tool_bytes:
            raise InvalidRequestError(
                f"Tool {index} ('{tool.function.name}') is {size} bytes of JSON "
                f"(at most {limits.max_tool_bytes}).",
                param=f"tools.{index}",
                code="tool_too_large",
            )


def check_embedding_limits(inputs: list[str | list[int]], limits: LimitSettings) -> None:
    """A 400 naming the input over a limit (before any model is called)."""
    if len(inputs) > limits.max_embedding_inputs:
        raise InvalidRequestError(
            f"Too many inputs: {len(inputs)} (at most {limits.max_embedding_inputs}).",
            param="input",
            code="too_many_inputs",
        )
    for index, item in enumerate(inputs):
        tokens = len(item) if isinstance(item, list) else -(-len(item.encode()) // 4)
        if tokens > limits.max_embedding_input_tokens:
            raise InvalidRequestError(
                f"Input {index} is too long: about {tokens} tokens "
                f"(at most {limits.max_embedding_input_tokens}).",
                param=f"input.{index}" if len(inputs) > 1 else "input",
                code="input_too_long",
            )
