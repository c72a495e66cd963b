"""What clients send to ``POST /v1/chat/completions``.

Requests are validated strictly where the meaning matters (roles, types, ranges, per-role
message consistency, Unicode) and leniently elsewhere: unknown fields are ignored, ``user``
may be a string or an object, as OpenWebUI and other clients send. Answers are written by
:mod:`assistant.server.wire.frames`.
"""

from __future__ import annotations

import json
from typing import Any, Literal

from langchain_core.messages import BaseMessage, convert_to_messages
from pydantic import ConfigDict, Field, ValidationInfo, field_validator, model_validator

from assistant.server.wire.common import Lenient, UnicodeChecked
from assistant.types import SamplingParams


class TextPart(Lenient):
    """A text part of a multi-part message."""

    type: Literal["text"]
    text: str


class ImagePart(Lenient):
    """An image part (passed on to models that accept images)."""

    type: Literal["image_url"]
    image_url: dict[str, Any]


class FunctionCall(Lenient):
    """A function call inside an assistant's tool call."""

    name: str
    arguments: str


class ToolCallPayload(Lenient):
    """A tool call the assistant made earlier in the conversation."""

    id: str
    type: Literal["function"] = "function"
    function: FunctionCall


class ChatMessage(Lenient):
    """One message of the conversation.

    Each role is checked for what it needs, as OpenAI does: a ``tool`` message answers a call
    (``tool_call_id``), only ``assistant`` messages carry ``tool_calls`` (whose arguments are a
    JSON object), and every other message has ``content``.
    """

    role: Literal["system", "developer", "user", "assistant", "tool"]
    content: str | list[TextPart | ImagePart] | None = None
    name: str | None = None
    tool_calls: list[ToolCallPayload] | None = None
    tool_call_id: str | None = None

    @model_validator(mode="after")
    def _consistent_for_its_role(self) -> ChatMessage:
        if self.role == "tool" and not self.tool_call_id:
            raise ValueError("a 'tool' message needs 'tool_call_id': the id of the call it answers")
        if self.tool_calls is not None and self.role != "assistant":
            raise ValueError(f"'tool_calls' belong to assistant messages, not {self.role} ones")
        if self.content is None and not (self.role == "assistant" and self.tool_calls):
            raise ValueError(
                f"a {self.role} message needs 'content'"
                + (" (or 'tool_calls')" if self.role == "assistant" else "")
            )
        for index, call in enumerate(self.tool_calls or []):
            try:
                arguments = json.loads(call.function.arguments)
            except (ValueError, RecursionError):
                arguments = None
            if not isinstance(arguments, dict):
                raise ValueError(
                    f"tool_calls[{index}].function.arguments must be a JSON object, as text"
                )
        return self


class StreamOptions(Lenient):
    """Options of a streamed answer."""

    include_usage: bool = False


class FunctionDefinition(Lenient):
    """A function a client offers the model."""

    name: str = Field(min_length=1, max_length=64)
    description: str | None = None
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})
    strict: bool | None = None


class ToolDefinition(Lenient):
    """A tool a client offers the model."""

    type: Literal["function"] = "function"
    function: FunctionDefinition


class JsonSchemaFormat(Lenient):
    """``response_format.json_schema``: the schema the answer must follow."""

    name: str = Field(min_length=1, max_length=64, pattern=r"^[A-Za-z0-9_-]+$")
    description: str | None = None
    schema_: dict[str, Any] = Field(
        default_factory=lambda: {"type": "object"}, alias="schema", serialization_alias="schema"
    )
    strict: bool | None = None

    model_config = ConfigDict(extra="ignore", populate_by_name=True)


class ResponseFormat(Lenient):
    """``response_format``: free text, any JSON object, or JSON that follows a schema."""

    type: Literal["text", "json_object", "json_schema"]
    json_schema: JsonSchemaFormat | None = None

    @model_validator(mode="after")
    def _schema_when_asked(self) -> ResponseFormat:
        if self.type == "json_schema" and self.json_schema is None:
            raise ValueError("type 'json_schema' needs 'json_schema': {name, schema, strict}")
        return self

    def wire(self) -> dict[str, Any] | None:
        """As sent to an OpenAI-compatible upstream (``None`` for plain text)."""
        if self.type == "text":
            return None
        return self.model_dump(exclude_none=True, by_alias=True)

    def json_schema_of(self) -> dict[str, Any] | None:
        """The JSON schema the answer must follow (``{"type": "object"}`` for ``json_object``),
        or ``None`` for free text."""
        if self.type == "json_object":
            return {"type": "object"}
        if self.type == "json_schema" and self.json_schema is not None:
            return self.json_schema.schema_
        return None


class ChatCompletionRequest(UnicodeChecked):
    """``POST /v1/chat/completions``."""

    model: str = Field(min_length=1)
    messages: list[ChatMessage] = Field(min_length=1)
    stream: bool = False
    stream_options: StreamOptions | None = None
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, gt=0, le=1)
    max_tokens: int | None = Field(None, ge=1)
    max_completion_tokens: int | None = Field(None, ge=1)
    n: int = Field(1, ge=1, le=1, description="Only one choice per request is supported.")
    stop: str | list[str] | None = None
    seed: int | None = Field(None, ge=-(2**63), le=2**63 - 1)
    presence_penalty: float | None = Field(None, ge=-2, le=2)
    frequency_penalty: float | None = Field(None, ge=-2, le=2)
    user: str | dict[str, Any] | None = None
    metadata: dict[str, Any] | None = Field(
        None, description="Accepted, never forwarded; `metadata.task` marks a background task."
    )
    tools: list[ToolDefinition] | None = None
    tool_choice: str | dict[str, Any] | None = None
    response_format: ResponseFormat | None = None
    logit_bias: dict[str, Any] | None = Field(
        None, description="Not supported: only an empty object is accepted."
    )
    logprobs: bool | None = None
    top_logprobs: int | None = Field(None, ge=0, le=20)
    cache_control: str | None = Field(
        None,
        description="`no-cache` (skip the cache lookup), `no-store` (skip the write), or both.",
    )

    @field_validator("top_logprobs")
    @classmethod
    def _top_logprobs_needs_logprobs(cls, value: int | None, info: ValidationInfo) -> int | None:
        if value is not None and not info.data.get("logprobs"):
            raise ValueError("'top_logprobs' needs 'logprobs': true")
        return value

    @field_validator("logit_bias")
    @classmethod
    def _no_logit_bias(cls, value: dict[str, Any] | None) -> dict[str, Any] | None:
        if value:
            raise ValueError("'logit_bias' is not supported (it would be silently ignored)")
        return value

    @field_validator("stop")
    @classmethod
    def _at_most_four_stops(cls, value: str | list[str] | None) -> str | list[str] | None:
        if isinstance(value, list) and len(value) > 4:
            raise ValueError("at most 4 stop sequences")
        return value

    @field_validator("tool_choice")
    @classmethod
    def _tool_choice_names_an_offered_tool(
        cls, choice: str | dict[str, Any] | None, info: ValidationInfo
    ) -> str | dict[str, Any] | None:
        if choice is None or choice in ("auto", "none"):
            return choice
        names = {tool.function.name for tool in info.data.get("tools") or []}
        if not names:
            raise ValueError("'tool_choice' needs 'tools': offer the tools it may choose from")
        if isinstance(choice, dict):
            function = choice.get("function")
            name = function.get("name") if isinstance(function, dict) else None
            if name not in names:
                raise ValueError(f"'tool_choice' names {name!r}, which is not in 'tools'")
        elif choice != "required" and choice not in names:
            raise ValueError("'tool_choice' must be auto, none, required or a tool's name")
        return choice

    def sampling(self) -> SamplingParams:
        """The request's sampling parameters."""
        stop = [self.stop] if isinstance(self.stop, str) else self.stop
        return SamplingParams(
            temperature=self.temperature,
            top_p=self.top_p,
            max_tokens=self.max_completion_tokens or self.max_tokens,
            stop=tuple(stop) if stop else None,
            seed=self.seed,
            presence_penalty=self.presence_penalty,
            frequency_penalty=self.frequency_penalty,
        )

    def langchain_messages(self) -> list[BaseMessage]:
        """The conversation as LangChain messages."""
        dumped = [message.model_dump(exclude_none=True) for message in self.messages]
        for message in dumped:
            message.setdefault("content", "")  # assistant turns with tool calls may have none
        return convert_to_messages(dumped)

    def tool_schemas(self) -> list[dict[str, Any]]:
        """Offered tools in OpenAI's format."""
        return [tool.model_dump(exclude_none=True) for tool in self.tools or []]
