"""The Responses API (``POST /v1/responses``) on the wire: the request, its translation to a
chat request, and the ``response`` object and typed stream events.

A Responses request is translated into the chat request it means (``instructions`` as the
system message, ``input`` items as messages, ``function_call`` / ``function_call_output``
items as an assistant's tool calls and their results, ``text.format`` as ``response_format``,
``max_output_tokens`` as ``max_completion_tokens``) and answered by the same code as chat. Its
answer (:data:`~assistant.server.wire.frames.Answer`) is written as a ``response`` object, or
as the event sequence the openai SDK expects: ``response.created``, ``response.in_progress``,
``response.output_item.added``, ``response.content_part.added``,
``response.output_text.delta`` ... ``.done``, ``response.function_call_arguments.delta`` ...
``.done``, ``response.output_item.done``, ``response.completed`` (or ``error`` and
``response.failed``).
"""

from __future__ import annotations

import time
from typing import Any, Literal

from langchain_core.messages import AIMessageChunk
from pydantic import Field, ValidationError

from assistant.errors import InvalidRequestError
from assistant.log import redact
from assistant.server.errors import to_api_error
from assistant.server.wire.chat import ChatCompletionRequest
from assistant.server.wire.common import Lenient, UnicodeChecked, named_event, new_id
from assistant.server.wire.frames import (
    Answer,
    finish_reason_of,
    logprobs_of,
    text_of,
    usage_of,
)


class FunctionTool(Lenient):
    """A function the model may call (the Responses API's flat tool shape)."""

    type: Literal["function"]
    name: str = Field(min_length=1, max_length=64)
    description: str | None = None
    parameters: dict[str, Any] | None = None
    strict: bool | None = None


class TextFormat(Lenient):
    """``text.format``: free text, any JSON object, or JSON following a schema."""

    type: Literal["text", "json_object", "json_schema"] = "text"
    name: str | None = Field(None, max_length=64)
    description: str | None = None
    schema_: dict[str, Any] | None = Field(None, alias="schema")
    strict: bool | None = None


class TextOptions(Lenient):
    """``text``: the answer's format."""

    format: TextFormat = Field(default_factory=TextFormat)


class ResponsesRequest(UnicodeChecked):
    """What ``client.responses.create`` sends."""

    model: str = Field(min_length=1)
    input: str | list[dict[str, Any]]
    instructions: str | None = None
    tools: list[dict[str, Any]] | None = None
    tool_choice: str | dict[str, Any] | None = None
    max_output_tokens: int | None = Field(None, ge=1)
    temperature: float | None = Field(None, ge=0, le=2)
    top_p: float | None = Field(None, gt=0, le=1)
    text: TextOptions | None = None
    stream: bool = False
    store: bool = True
    previous_response_id: str | None = None
    metadata: dict[str, str] | None = None
    parallel_tool_calls: bool | None = None
    user: str | None = None

    def function_tools(self) -> list[FunctionTool]:
        """The offered tools; only functions are supported (a 400 names any other)."""
        tools = []
        for index, tool in enumerate(self.tools or []):
            kind = tool.get("type")
            if kind != "function":
                raise InvalidRequestError(
                    f"Tool type {kind!r} is not supported here; only 'function' tools are.",
                    param=f"tools[{index}].type",
                    code="unsupported_tool",
                )
            try:
                tools.append(FunctionTool.model_validate(tool))
            except ValidationError as exc:
                raise _invalid(exc, f"tools[{index}]") from None
        return tools

    def chat_messages(self, history: list[dict[str, Any]]) -> list[dict[str, Any]]:
        """The conversation in chat form: the instructions (which, as with OpenAI, are not
        carried over from a previous response), ``history`` (from ``previous_response_id``),
        then the input items."""
        messages: list[dict[str, Any]] = []
        if self.instructions:
            messages.append({"role": "system", "content": self.instructions})
        messages.extend(history)
        if isinstance(self.input, str):
            messages.append({"role": "user", "content": self.input})
            return messages
        for index, item in enumerate(self.input):
            messages.extend(_item_messages(item, index, messages))
        return messages

    def chat_request(self, history: list[dict[str, Any]]) -> ChatCompletionRequest:
        """The chat request this Responses request means."""
        tools = self.function_tools()
        body: dict[str, Any] = {
            "model": self.model,
            "messages": self.chat_messages(history),
            "stream": self.stream,
            "temperature": self.temperature,
            "top_p": self.top_p,
            "max_completion_tokens": self.max_output_tokens,
        }
        if tools:
            body["tools"] = [
                {
                    "type": "function",
                    "function": tool.model_dump(
                        include={"name", "description", "parameters", "strict"}, exclude_none=True
                    ),
                }
                for tool in tools
            ]
        choice = self.tool_choice
        if isinstance(choice, dict) and choice.get("type") == "function":
            choice = {"type": "function", "function": {"name": choice.get("name")}}
        if choice is not None and tools:
            body["tool_choice"] = choice
        text_format = self.text.format if self.text else None
        if text_format is not None and text_format.type == "json_object":
            body["response_format"] = {"type": "json_object"}
        elif text_format is not None and text_format.type == "json_schema":
            body["response_format"] = {
                "type": "json_schema",
                "json_schema": {
                    "name": text_format.name or "answer",
                    "schema": text_format.schema_ or {"type": "object"},
                    "strict": text_format.strict,
                },
            }
        try:
            return ChatCompletionRequest.model_validate(body)
        except ValidationError as exc:
            raise _invalid(exc, "input") from None


def _invalid(exc: ValidationError, where: str) -> InvalidRequestError:
    error = exc.errors()[0]
    path = ".".join(str(part) for part in error.get("loc", ()))
    message = str(error.get("msg", "invalid value")).removeprefix("Value error, ")
    return InvalidRequestError(f"{where}: {message}" + (f" ({path})" if path else ""), param=where)


_TEXT_PARTS = {"input_text", "output_text", "text"}


def _content(content: Any, param: str) -> str | list[dict[str, Any]]:
    if isinstance(content, str):
        return content
    if not isinstance(content, list):
        raise InvalidRequestError("'content' must be a string or a list of parts", param=param)
    parts: list[dict[str, Any]] = []
    for index, part in enumerate(content):
        kind = part.get("type") if isinstance(part, dict) else None
        if kind in _TEXT_PARTS and isinstance(part.get("text"), str):
            parts.append({"type": "text", "text": part["text"]})
        elif kind == "input_image" and isinstance(part.get("image_url"), str):
            image = {"url": part["image_url"], "detail": part.get("detail") or "auto"}
            parts.append({"type": "image_url", "image_url": image})
        else:
            raise InvalidRequestError(
                f"Content part of type {kind!r} is not supported (input_text, output_text, "
                "input_image with an image_url).",
                param=f"{param}[{index}]",
            )
    return parts


def _item_messages(
    item: dict[str, Any], index: int, so_far: list[dict[str, Any]]
) -> list[dict[str, Any]]:
    """The chat messages one input item adds (a ``function_call`` joins the assistant turn
    before it when that turn is one of calls)."""
    param = f"input[{index}]"
    if not isinstance(item, dict):
        raise InvalidRequestError("an input item must be an object", param=param)
    kind = item.get("type") or ("message" if "role" in item else None)
    if kind == "message":
        role = item.get("role")
        if role not in ("user", "assistant", "system", "developer"):
            raise InvalidRequestError(
                f"role {role!r} is not one of user, assistant, system, developer",
                param=f"{param}.role",
            )
        return [{"role": role, "content": _content(item.get("content"), f"{param}.content")}]
    if kind == "function_call":
        for field in ("call_id", "name", "arguments"):
            if not isinstance(item.get(field), str) or not item[field]:
                raise InvalidRequestError(
                    f"a function_call item needs '{field}'", param=f"{param}.{field}"
                )
        call = {
            "id": item["call_id"],
            "type": "function",
            "function": {"name": item["name"], "arguments": item["arguments"]},
        }
        last = so_far[-1] if so_far else None
        if last is not None and last.get("role") == "assistant" and last.get("tool_calls"):
            last["tool_calls"].append(call)
            return []
        return [{"role": "assistant", "content": None, "tool_calls": [call]}]
    if kind == "function_call_output":
        call_id = item.get("call_id")
        if not isinstance(call_id, str) or not call_id:
            raise InvalidRequestError(
                "a function_call_output item needs 'call_id'", param=f"{param}.call_id"
            )
        output = item.get("output")
        text = output if isinstance(output, str) else _content(output, f"{param}.output")
        return [{"role": "tool", "tool_call_id": call_id, "content": text}]
    if kind == "reasoning":
        return []  # a reasoning model's working, sent back by clients: nothing to replay here
    raise InvalidRequestError(
        f"Input item of type {kind!r} is not supported (message, function_call, "
        "function_call_output).",
        param=f"{param}.type",
    )


def response_id() -> str:
    """A fresh ``resp_...`` id."""
    return new_id("resp", "_")


def _usage(usage: dict[str, int]) -> dict[str, Any]:
    return {
        "input_tokens": usage["prompt_tokens"],
        "input_tokens_details": {"cached_tokens": 0},
        "output_tokens": usage["completion_tokens"],
        "output_tokens_details": {"reasoning_tokens": 0},
        "total_tokens": usage["total_tokens"],
    }


class ResponsesFraming:
    """Writes answers as ``response`` objects or the Responses API's typed events."""

    def __init__(self, request: ResponsesRequest, ident: str | None = None) -> None:
        self.request = request
        self.ident = ident or response_id()
        self.created_at = int(time.time())

    def envelope(self, status: str) -> dict[str, Any]:
        """The ``response`` object without its output and usage."""
        request = self.request
        text_format = request.text.format if request.text else None
        return {
            "id": self.ident,
            "object": "response",
            "created_at": self.created_at,
            "status": status,
            "error": None,
            "incomplete_details": None,
            "instructions": request.instructions,
            "max_output_tokens": request.max_output_tokens,
            "model": request.model,
            "output": [],
            "parallel_tool_calls": request.parallel_tool_calls is not False,
            "previous_response_id": request.previous_response_id,
            "reasoning": {"effort": None, "summary": None},
            "store": request.store,
            "temperature": request.temperature,
            "text": {
                "format": (
                    text_format.model_dump(by_alias=True, exclude_none=True)
                    if text_format
                    else {"type": "text"}
                )
            },
            "tool_choice": request.tool_choice or "auto",
            "tools": request.tools or [],
            "top_p": request.top_p,
            "truncation": "disabled",
            "usage": None,
            "user": request.user,
            "metadata": request.metadata or {},
        }

    def whole(self, answer: Answer) -> dict[str, Any]:
        """The finished ``response`` object."""
        status = "incomplete" if answer["finish_reason"] == "length" else "completed"
        body = self.envelope(status)
        body["output"] = output_items(answer)
        body["usage"] = _usage(answer["usage"])
        body["completed_at"] = int(time.time())
        if status == "incomplete":
            body["incomplete_details"] = {"reason": "max_output_tokens"}
        return body

    def writer(self, *, keep_answer: bool) -> ResponseEventWriter:
        """The event writer of this response's stream."""
        return ResponseEventWriter(self)


def _text_entries(answer: Answer) -> list[dict[str, Any]]:
    logprobs = answer.get("logprobs") or {}
    return list(logprobs.get("content") or [])


def output_items(answer: Answer, ids: list[str] | None = None) -> list[dict[str, Any]]:
    """The ``output`` of a finished answer: its message, then its function calls."""
    message = answer["message"]
    items: list[dict[str, Any]] = []
    ids = list(ids or [])
    if message.get("content"):
        items.append(
            {
                "type": "message",
                "id": ids.pop(0) if ids else new_id("msg", "_"),
                "status": "completed",
                "role": "assistant",
                "content": [
                    {
                        "type": "output_text",
                        "text": message["content"],
                        "annotations": [],
                        "logprobs": _text_entries(answer),
                    }
                ],
            }
        )
    for call in message.get("tool_calls") or []:
        items.append(
            {
                "type": "function_call",
                "id": ids.pop(0) if ids else new_id("fc", "_"),
                "call_id": call["id"],
                "name": call["function"]["name"],
                "arguments": call["function"]["arguments"],
                "status": "completed",
            }
        )
    return items


class ResponseEventWriter:
    """The typed events of one streamed response (see the module docstring)."""

    def __init__(self, framing: ResponsesFraming) -> None:
        self.framing = framing
        self._sequence = 0
        self._prompt_tokens = 0
        self._completion_tokens = 0
        self._finish_reason: str | None = None
        self._text: list[str] = []
        self._logprobs: list[dict[str, Any]] = []
        self._message_id: str | None = None
        self._calls: dict[int, dict[str, Any]] = {}
        self._order: list[str] = []
        """Output item ids in the order they were added."""

    def _event(self, kind: str, **fields: Any) -> bytes:
        payload = {"type": kind, "sequence_number": self._sequence, **fields}
        self._sequence += 1
        return named_event(kind, payload)

    @property
    def tokens(self) -> int:
        """Prompt plus answer tokens seen so far."""
        return self._prompt_tokens + self._completion_tokens

    def start(self) -> bytes:
        """``response.created`` and ``response.in_progress``."""
        envelope = self.framing.envelope("in_progress")
        return self._event("response.created", response=envelope) + self._event(
            "response.in_progress", response=envelope
        )

    def _text_delta(self, text: str, logprobs: list[dict[str, Any]]) -> bytes:
        out = b""
        if self._message_id is None:
            self._message_id = new_id("msg", "_")
            self._order.append(self._message_id)
            item = {"type": "message", "id": self._message_id, "status": "in_progress",
                    "role": "assistant", "content": []}  # fmt: skip
            out += self._event(
                "response.output_item.added", output_index=len(self._order) - 1, item=item
            )
            out += self._event(
                "response.content_part.added",
                item_id=self._message_id,
                output_index=len(self._order) - 1,
                content_index=0,
                part={"type": "output_text", "text": "", "annotations": [], "logprobs": []},
            )
        self._text.append(text)
        self._logprobs.extend(logprobs)
        return out + self._event(
            "response.output_text.delta",
            item_id=self._message_id,
            output_index=self._order.index(self._message_id),
            content_index=0,
            delta=text,
            logprobs=logprobs,
        )

    def delta(self, chunk: AIMessageChunk) -> bytes | None:
        """The events of one model chunk."""
        if chunk.usage_metadata:
            self._prompt_tokens += int(chunk.usage_metadata["input_tokens"])
            self._completion_tokens += int(chunk.usage_metadata["output_tokens"])
        logprobs: list[dict[str, Any]] = []
        if chunk.response_metadata:
            self._finish_reason = finish_reason_of(chunk, default="") or self._finish_reason
            found = logprobs_of(chunk)
            logprobs = found["content"] if found else []
        out = b""
        text = text_of(chunk)
        if text or logprobs:
            out += self._text_delta(text, logprobs)
        for piece in chunk.tool_call_chunks:
            out += self._call_delta(piece.get("index") or 0, piece)
        return out or None

    def _call_delta(self, index: int, piece: Any) -> bytes:
        out = b""
        call = self._calls.get(index)
        if call is None:
            call = {
                "type": "function_call",
                "id": new_id("fc", "_"),
                "call_id": piece.get("id") or new_id("call", "_"),
                "name": piece.get("name") or "",
                "arguments": "",
                "status": "in_progress",
            }
            self._calls[index] = call
            self._order.append(call["id"])
            out += self._event(
                "response.output_item.added", output_index=len(self._order) - 1, item=dict(call)
            )
        elif piece.get("name"):
            call["name"] += piece["name"]
        arguments = piece.get("args") or ""
        if arguments:
            call["arguments"] += arguments
            out += self._event(
                "response.function_call_arguments.delta",
                item_id=call["id"],
                output_index=self._order.index(call["id"]),
                delta=arguments,
            )
        return out

    def text(self, text: str, *, reasoning: bool = False) -> bytes:
        """An agent's answer text (its working is not part of a response's output)."""
        return b"" if reasoning or not text else self._text_delta(text, [])

    def count(self, prompt_tokens: int, completion_tokens: int) -> None:
        """Add tokens that did not arrive on chunks."""
        self._prompt_tokens += prompt_tokens
        self._completion_tokens += completion_tokens

    def answer(self) -> Answer:
        """What streamed, as an :data:`Answer`."""
        text = "".join(self._text)
        message: dict[str, Any] = {"role": "assistant", "content": text}
        if self._calls:
            message["content"] = text or None
            message["tool_calls"] = [
                {
                    "id": call["call_id"],
                    "type": "function",
                    "function": {"name": call["name"], "arguments": call["arguments"]},
                }
                for _, call in sorted(self._calls.items())
            ]
        reason = "tool_calls" if self._calls else (self._finish_reason or "stop")
        return {
            "message": message,
            "finish_reason": reason,
            "usage": usage_of(self._prompt_tokens, self._completion_tokens),
            "logprobs": {"content": self._logprobs, "refusal": None} if self._logprobs else None,
        }

    def end(self) -> bytes:
        """Close every open item, then ``response.completed``."""
        out = b""
        answer = self.answer()
        if self._message_id is not None:
            index = self._order.index(self._message_id)
            text = "".join(self._text)
            part = {"type": "output_text", "text": text, "annotations": [],
                    "logprobs": self._logprobs}  # fmt: skip
            out += self._event(
                "response.output_text.done",
                item_id=self._message_id,
                output_index=index,
                content_index=0,
                text=text,
                logprobs=self._logprobs,
            )
            out += self._event(
                "response.content_part.done",
                item_id=self._message_id,
                output_index=index,
                content_index=0,
                part=part,
            )
            item = {"type": "message", "id": self._message_id, "status": "completed",
                    "role": "assistant", "content": [part]}  # fmt: skip
            out += self._event("response.output_item.done", output_index=index, item=item)
        for _, call in sorted(self._calls.items()):
            index = self._order.index(call["id"])
            out += self._event(
                "response.function_call_arguments.done",
                item_id=call["id"],
                output_index=index,
                name=call["name"],
                arguments=call["arguments"],
            )
            done = {**call, "status": "completed"}
            out += self._event("response.output_item.done", output_index=index, item=done)
        whole = self.framing.whole(answer)
        whole["output"] = output_items(answer, ids=list(self._order))
        kind = "response.incomplete" if whole["status"] == "incomplete" else "response.completed"
        return out + self._event(kind, response=whole)

    def failed(self, exc: BaseException, secrets: list[str]) -> bytes:
        """An ``error`` event, then ``response.failed``."""
        error = to_api_error(exc)
        message = redact(error.message, secrets)
        failed = self.framing.envelope("failed")
        failed["error"] = {"code": error.code or error.type, "message": message}
        return self._event(
            "error", code=error.code, message=message, param=error.param
        ) + self._event("response.failed", response=failed)

    def close(self) -> bytes:
        """Nothing: a Responses stream has no ``[DONE]``."""
        return b""

    def replay(self, answer: Answer) -> list[bytes]:
        """A stored answer as the events of a stream."""
        usage = answer["usage"]
        frames = [self.start()]
        message = answer["message"]
        entries = _text_entries(answer)
        if message.get("content") or entries:
            frames.append(self._text_delta(message.get("content") or "", entries))
        for index, call in enumerate(message.get("tool_calls") or []):
            piece = {"id": call["id"], "name": call["function"]["name"],
                     "args": call["function"]["arguments"]}  # fmt: skip
            frames.append(self._call_delta(index, piece))
        self._prompt_tokens = int(usage["prompt_tokens"])
        self._completion_tokens = int(usage["completion_tokens"])
        self._finish_reason = answer["finish_reason"]
        frames.append(self.end())
        return frames
