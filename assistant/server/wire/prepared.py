"""A chat request prepared once: LangChain messages, wire messages, tools, call arguments.

Everything downstream (the model call, the cache key, limits, the agent) reads this instead of
serialising the request again.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from langchain_core.messages import BaseMessage, convert_to_messages

from assistant.server.wire.chat import ChatCompletionRequest


@dataclass(frozen=True, slots=True)
class PreparedChat:
    """One chat request, serialised once."""

    body: ChatCompletionRequest
    messages: list[BaseMessage]
    """The conversation as LangChain messages."""
    wire_messages: list[dict[str, Any]]
    """The conversation in OpenAI's format (``None`` fields left out): the cache key's part."""
    tools: list[dict[str, Any]]
    """Offered tools in OpenAI's format."""
    kwargs: dict[str, Any]
    """Everything the model call takes: sampling parameters, ``response_format``,
    ``logprobs`` and ``top_logprobs``."""

    @property
    def model(self) -> str:
        """The model or profile asked for."""
        return self.body.model

    @property
    def stream(self) -> bool:
        """Whether the answer is streamed."""
        return self.body.stream

    @property
    def include_usage(self) -> bool:
        """Whether a stream ends with a usage chunk."""
        options = self.body.stream_options
        return bool(options and options.include_usage)

    @property
    def features(self) -> frozenset[str]:
        """Model features the request needs beyond plain chat (``response_format``,
        ``logprobs``), checked against the model's before any call."""
        needed = set()
        if self.kwargs.get("response_format") is not None:
            needed.add("response_format")
        if self.kwargs.get("logprobs"):
            needed.add("logprobs")
        if any(
            isinstance(message.get("content"), list)
            and any(part.get("type") == "image_url" for part in message["content"])
            for message in self.wire_messages
        ):
            needed.add("images")
        return frozenset(needed)


def prepare_chat(body: ChatCompletionRequest) -> PreparedChat:
    """Serialise ``body`` once."""
    wire_messages = [message.model_dump(exclude_none=True) for message in body.messages]
    for message in wire_messages:
        message.setdefault("content", "")  # assistant turns with tool calls may have none
    kwargs = body.sampling().as_kwargs()
    response_format = body.response_format.wire() if body.response_format else None
    if response_format is not None:
        kwargs["response_format"] = response_format
    if body.logprobs:
        kwargs["logprobs"] = True
        if body.top_logprobs is not None:
            kwargs["top_logprobs"] = body.top_logprobs
    return PreparedChat(
        body=body,
        messages=convert_to_messages(wire_messages),
        wire_messages=wire_messages,
        tools=body.tool_schemas(),
        kwargs=kwargs,
    )
