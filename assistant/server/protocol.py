"""Wire models of the OpenAI chat API: what clients send, and how answers are written.

Requests are validated strictly where the meaning matters (roles, types, ranges) and
leniently elsewhere: unknown fields are ignored, ``user`` may be a string or an object, as
OpenWebUI and other clients send. Responses are built as plain dicts (the hot path of
streaming), shaped exactly like OpenAI's.
"""

from __future__ import annotations

import json
import time
import uuid
from typing import Any, Literal

from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage, convert_to_messages
from langchain_core.messages.ai import UsageMetadata
from pydantic import BaseModel, ConfigDict, Field, ValidationInfo, field_validator, model_validator

from assistant.types import SamplingParams


class UnencodableText(ValueError):
    """A request string UTF-8 cannot encode; ``param`` is where it is (``messages.0.content``)."""

    def __init__(self, param: str) -> None:
        super().__init__(
            "text that is not valid Unicode (an unpaired surrogate escape such as \\ud800)"
        )
        self.param = param or None


class _Lenient(BaseModel):
    model_config = ConfigDict(extra="ignore")


class TextPart(_Lenient):
    """A text part of a multi-part message."""

    type: Literal["text"]
    text: str


class ImagePart(_Lenient):
    """An image part (passed on to models that accept images)."""

    type: Literal["image_url"]
    image_url: dict[str, Any]


class FunctionCall(_Lenient):
    """A function call inside an assistant's tool call."""

    name: str
    arguments: str


class ToolCallPayload(_Lenient):
    """A tool call the assistant made earlier in the conversation."""

    id: str
    type: Literal["function"] = "function"
    function: FunctionCall


class ChatMessage(_Lenient):
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


class StreamOptions(_Lenient):
    """Options of a streamed answer."""

    include_usage: bool = False


class FunctionDefinition(_Lenient):
    """A function a client offers the model."""

    name: str = Field(min_length=1, max_length=64)
    description: str | None = None
    parameters: dict[str, Any] = Field(default_factory=lambda: {"type": "object", "properties": {}})


class ToolDefinition(_Lenient):
    """A tool a client offers the model."""

    type: Literal["function"] = "function"
    function: FunctionDefinition


class ChatCompletionRequest(_Lenient):
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
    tools: list[ToolDefinition] | None = None
    tool_choice: str | dict[str, Any] | None = None
    cache_control: str | None = Field(
        None,
        description="`no-cache` (skip the cache lookup), `no-store` (skip the write), or both.",
    )

    @model_validator(mode="before")
    @classmethod
    def _text_is_unicode(cls, data: Any) -> Any:
        """Reject strings no UTF-8 can carry (a lone surrogate such as ``"\\ud800"`` is valid
        JSON, but no model, provider or cache could take it: a 400, not a crash later)."""
        where = _unencodable(data, ())
        if where is not None:
            raise UnencodableText(".".join(where))
        return data

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


def _unencodable(value: Any, path: tuple[str, ...]) -> tuple[str, ...] | None:
    """The path of the first string (or key) in ``value`` that UTF-8 cannot encode."""
    if isinstance(value, str):
        try:
            value.encode("utf-8")
        except UnicodeEncodeError:
            return path
        return None
    if isinstance(value, dict):
        for key, item in value.items():
            where = (*path, str(key) if isinstance(key, str) else repr(key))
            if isinstance(key, str) and _unencodable(key, ()) is not None:
                return (*path, "(key)")
            found = _unencodable(item, where)
            if found is not None:
                return found
    elif isinstance(value, list):
        for index, item in enumerate(value):
            found = _unencodable(item, (*path, str(index)))
            if found is not None:
                return found
    return None


def completion_id() -> str:
    """A fresh ``chatcmpl-...`` id."""
    return f"chatcmpl-{uuid.uuid4().hex}"


def usage_dict(usage: UsageMetadata | None) -> dict[str, int]:
    """OpenAI's ``usage`` object from LangChain usage metadata."""
    prompt = int(usage["input_tokens"]) if usage else 0
    completion = int(usage["output_tokens"]) if usage else 0
    return {
        "prompt_tokens": prompt,
        "completion_tokens": completion,
        "total_tokens": prompt + completion,
    }


def _tool_calls(message: AIMessage) -> list[dict[str, Any]]:
    return [
        {
            "id": call.get("id") or f"call_{uuid.uuid4().hex[:24]}",
            "type": "function",
            "function": {"name": call["name"], "arguments": json.dumps(call["args"])},
        }
        for call in message.tool_calls
    ]


def _text(message: BaseMessage) -> str:
    content = message.content
    if isinstance(content, str):
        return content
    return "".join(
        block if isinstance(block, str) else str(block.get("text", ""))
        for block in content
        if isinstance(block, str) or block.get("type") == "text"
    )


def finish_reason_of(message: BaseMessage, default: str = "stop") -> str:
    """OpenAI's finish reason for a LangChain message."""
    if isinstance(message, AIMessage) and message.tool_calls:
        return "tool_calls"
    reason = message.response_metadata.get("finish_reason") or message.response_metadata.get(
        "stop_reason"
    )
    mapping = {
        "end_turn": "stop",
        "stop_sequence": "stop",
        "max_tokens": "length",
        "tool_use": "tool_calls",
    }
    reason = mapping.get(str(reason), reason) if reason else default
    return reason if reason in ("stop", "length", "tool_calls", "content_filter") else default


def completion_body(completion: str, model: str, message: BaseMessage) -> dict[str, Any]:
    """A whole ``chat.completion`` object."""
    assistant_message: dict[str, Any] = {"role": "assistant", "content": _text(message)}
    if isinstance(message, AIMessage) and message.tool_calls:
        assistant_message["tool_calls"] = _tool_calls(message)
        assistant_message["content"] = assistant_message["content"] or None
    return {
        "id": completion,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": assistant_message,
                "logprobs": None,
                "finish_reason": finish_reason_of(message),
            }
        ],
        "usage": usage_dict(getattr(message, "usage_metadata", None)),
    }


class ChunkWriter:
    """Writes the ``chat.completion.chunk`` frames of one streamed answer."""

    def __init__(self, completion: str, model: str, *, keep_answer: bool = False) -> None:
        self.completion = completion
        self.model = model
        self.keep_answer = keep_answer
        """Keep the text and tool calls for :meth:`answer` (only when the cache stores it:
        this is the per-token path)."""
        self.created = int(time.time())
        # tracked as chunks pass, rather than merging every chunk (the per-token hot path)
        self._prompt_tokens = 0
        self._completion_tokens = 0
        self._finish_reason: str | None = None
        self._tool_calls = False
        self._pieces: list[str] = []
        self._calls: dict[int, dict[str, Any]] = {}

    def _frame(self, choices: list[dict[str, Any]], **extra: Any) -> str:
        return json.dumps(
            {
                "id": self.completion,
                "object": "chat.completion.chunk",
                "created": self.created,
                "model": self.model,
                "choices": choices,
                **extra,
            },
            separators=(",", ":"),
        )

    def role(self) -> str:
        """The first frame: the assistant role."""
        return self._frame(
            [{"index": 0, "delta": {"role": "assistant", "content": ""}, "finish_reason": None}]
        )

    def delta(self, chunk: AIMessageChunk) -> str | None:
        """A content or tool-call delta, or ``None`` if the chunk carries neither."""
        if chunk.usage_metadata:
            self._prompt_tokens += int(chunk.usage_metadata["input_tokens"])
            self._completion_tokens += int(chunk.usage_metadata["output_tokens"])
        if chunk.response_metadata:
            reason = finish_reason_of(chunk, default="")
            self._finish_reason = reason or self._finish_reason
        delta: dict[str, Any] = {}
        text = _text(chunk)
        if text:
            delta["content"] = text
            if self.keep_answer:
                self._pieces.append(text)
        if chunk.tool_call_chunks:
            self._tool_calls = True
            if self.keep_answer:
                self._merge(chunk.tool_call_chunks)
            delta["tool_calls"] = [
                {
                    "index": call.get("index") or 0,
                    **({"id": call["id"], "type": "function"} if call.get("id") else {}),
                    "function": {
                        **({"name": call["name"]} if call.get("name") else {}),
                        "arguments": call.get("args") or "",
                    },
                }
                for call in chunk.tool_call_chunks
            ]
        if not delta:
            return None
        return self._frame([{"index": 0, "delta": delta, "finish_reason": None}])

    def text(self, text: str, *, reasoning: bool = False) -> str:
        """A plain text delta: the answer's ``content``, or ``reasoning_content`` (shown by
        OpenWebUI and similar clients as the model's working, e.g. which tool ran)."""
        key = "reasoning_content" if reasoning else "content"
        return self._frame([{"index": 0, "delta": {key: text}, "finish_reason": None}])

    def count(self, prompt_tokens: int, completion_tokens: int) -> None:
        """Add tokens that did not arrive on chunks (e.g. an agent's whole run)."""
        self._prompt_tokens += prompt_tokens
        self._completion_tokens += completion_tokens

    def _merge(self, chunks: list[Any]) -> None:
        """Tool-call pieces merged by index, as a client would (kept for the cache)."""
        for piece in chunks:
            call = self._calls.setdefault(
                piece.get("index") or 0,
                {"id": "", "type": "function", "function": {"name": "", "arguments": ""}},
            )
            call["id"] = call["id"] or piece.get("id") or ""
            call["function"]["name"] += piece.get("name") or ""
            call["function"]["arguments"] += piece.get("args") or ""

    def answer(self) -> tuple[str, list[dict[str, Any]], str, dict[str, int]]:
        """What streamed so far: text, merged tool calls, finish reason, usage."""
        reason = "tool_calls" if self._tool_calls else (self._finish_reason or "stop")
        usage = {
            "prompt_tokens": self._prompt_tokens,
            "completion_tokens": self._completion_tokens,
            "total_tokens": self.tokens,
        }
        calls = [self._calls[index] for index in sorted(self._calls)]
        return "".join(self._pieces), calls, reason, usage

    @property
    def tokens(self) -> int:
        """Prompt plus answer tokens seen so far."""
        return self._prompt_tokens + self._completion_tokens

    def finish(self) -> str:
        """The frame that ends the choice."""
        reason = "tool_calls" if self._tool_calls else (self._finish_reason or "stop")
        return self._frame([{"index": 0, "delta": {}, "finish_reason": reason}])

    def usage(self) -> str:
        """The last frame when ``stream_options.include_usage`` is set."""
        prompt, completion = self._prompt_tokens, self._completion_tokens
        usage = {
            "prompt_tokens": prompt,
            "completion_tokens": completion,
            "total_tokens": prompt + completion,
        }
        return self._frame([], usage=usage)
