"""The one writer of chat answers: whole completions, stream chunks, usage, errors, ``[DONE]``.

An answer is kept as an :data:`Answer` (the assistant message, finish reason, usage and
logprobs): a fresh whole answer is converted to one and written by :func:`completion`, a
stream is written chunk by chunk by :class:`ChunkWriter` (which can rebuild the
:data:`Answer` for the cache), and a cached :data:`Answer` is replayed through the same two
(:func:`completion`, :meth:`ChunkWriter.replay`), so a replay is framed by the code that frames
a fresh answer. Frames are plain dicts dumped once: this is the per-token path.
"""

from __future__ import annotations

import json
import logging
import time
from typing import Any, Protocol

from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.messages.ai import UsageMetadata

from assistant.log import redact
from assistant.server.errors import to_api_error
from assistant.server.wire.common import DONE, event, new_id

logger = logging.getLogger(__name__)

Answer = dict[str, Any]
"""``{"message": {...}, "finish_reason": "stop", "usage": {...}, "logprobs": {...} | None}``:
what is kept of an answer (and stored in the response cache)."""

FINISH_REASONS = frozenset({"stop", "length", "tool_calls", "content_filter"})
_FINISH_MAPPING = {
    "end_turn": "stop",
    "stop_sequence": "stop",
    "max_tokens": "length",
    "tool_use": "tool_calls",
}


def completion_id() -> str:
    """A fresh ``chatcmpl-...`` id."""
    return new_id("chatcmpl")


def usage_dict(usage: UsageMetadata | None) -> dict[str, int]:
    """OpenAI's ``usage`` object from LangChain usage metadata."""
    prompt = int(usage["input_tokens"]) if usage else 0
    completion = int(usage["output_tokens"]) if usage else 0
    return usage_of(prompt, completion)


def usage_of(prompt_tokens: int, completion_tokens: int) -> dict[str, int]:
    """OpenAI's ``usage`` object."""
    return {
        "prompt_tokens": prompt_tokens,
        "completion_tokens": completion_tokens,
        "total_tokens": prompt_tokens + completion_tokens,
    }


def text_of(message: BaseMessage) -> str:
    """The text of a LangChain message (text blocks joined)."""
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
    metadata = message.response_metadata
    reason = metadata.get("finish_reason") or metadata.get("stop_reason")
    reason = _FINISH_MAPPING.get(str(reason), reason) if reason else default
    return reason if reason in FINISH_REASONS else default


def logprobs_of(message: BaseMessage) -> dict[str, Any] | None:
    """OpenAI's ``logprobs`` object (``{"content": [...]}``) carried by a message, if any."""
    found = message.response_metadata.get("logprobs")
    if isinstance(found, dict) and isinstance(found.get("content"), list):
        return {"content": found["content"], "refusal": found.get("refusal")}
    return None


def answer_of(message: BaseMessage) -> Answer:
    """What is kept of a whole LangChain answer."""
    assistant_message: dict[str, Any] = {"role": "assistant", "content": text_of(message)}
    if isinstance(message, AIMessage) and message.tool_calls:
        assistant_message["tool_calls"] = [
            {
                "id": call.get("id") or new_id("call", "_", 12),
                "type": "function",
                "function": {"name": call["name"], "arguments": json.dumps(call["args"])},
            }
            for call in message.tool_calls
        ]
        assistant_message["content"] = assistant_message["content"] or None
    return {
        "message": assistant_message,
        "finish_reason": finish_reason_of(message),
        "usage": usage_dict(getattr(message, "usage_metadata", None)),
        "logprobs": logprobs_of(message),
    }


def completion(ident: str, model: str, answer: Answer) -> dict[str, Any]:
    """A whole ``chat.completion`` object."""
    return {
        "id": ident,
        "object": "chat.completion",
        "created": int(time.time()),
        "model": model,
        "choices": [
            {
                "index": 0,
                "message": answer["message"],
                "logprobs": answer.get("logprobs"),
                "finish_reason": answer["finish_reason"],
            }
        ],
        "usage": answer["usage"],
    }


def encode_answer(answer: Answer) -> bytes:
    """An :data:`Answer` as stored bytes."""
    return json.dumps(answer, separators=(",", ":")).encode()


def decode_answer(stored: bytes) -> Answer:
    """An :data:`Answer` from stored bytes."""
    answer: Answer = json.loads(stored)
    return answer


def error_frame(exc: BaseException, secrets: list[str]) -> bytes:
    """The event that reports a failure after the first byte of a stream (OpenAI's error
    body, secrets redacted)."""
    logger.warning("stream failed after first byte: %s", redact(str(exc), secrets))
    body = to_api_error(exc).body()
    body["error"]["message"] = redact(body["error"]["message"], secrets)
    return event(body)


class StreamWriter(Protocol):
    """Writes the events of one streamed answer in an endpoint's framing (chat chunks, the
    Responses API's typed events), from the same model chunks and agent events."""

    @property
    def tokens(self) -> int:
        """Prompt plus answer tokens seen so far."""
        ...

    def start(self) -> bytes:
        """The first events, before any content."""
        ...

    def delta(self, chunk: AIMessageChunk) -> bytes | None:
        """The events of one model chunk, or ``None`` if it carries nothing to send."""
        ...

    def text(self, text: str, *, reasoning: bool = False) -> bytes:
        """The events of a piece of text (an agent's answer or its working)."""
        ...

    def count(self, prompt_tokens: int, completion_tokens: int) -> None:
        """Add tokens that did not arrive on chunks."""
        ...

    def end(self) -> bytes:
        """The events that complete the answer."""
        ...

    def failed(self, exc: BaseException, secrets: list[str]) -> bytes:
        """The event that reports a failure after the first byte."""
        ...

    def close(self) -> bytes:
        """What ends the stream however it went (``[DONE]`` for chat)."""
        ...

    def answer(self) -> Answer:
        """What streamed, as an :data:`Answer` (when built with ``keep_answer``)."""
        ...

    def replay(self, answer: Answer) -> list[bytes]:
        """A whole stored answer as the events of a stream."""
        ...


class Framing(Protocol):
    """How one endpoint writes answers: a whole object, or a stream writer."""

    def whole(self, answer: Answer) -> dict[str, Any]:
        """The whole answer's JSON object."""
        ...

    def writer(self, *, keep_answer: bool) -> StreamWriter:
        """A writer for a streamed answer."""
        ...


class ChatFraming:
    """Chat completions: ``chat.completion`` objects and ``chat.completion.chunk`` events."""

    def __init__(self, model: str, *, include_usage: bool = False) -> None:
        self.model = model
        self.include_usage = include_usage

    def whole(self, answer: Answer) -> dict[str, Any]:
        """A ``chat.completion`` with a fresh id."""
        return completion(completion_id(), self.model, answer)

    def writer(self, *, keep_answer: bool) -> ChunkWriter:
        """A chunk writer with a fresh id."""
        return ChunkWriter(
            completion_id(), self.model, keep_answer=keep_answer, include_usage=self.include_usage
        )


class ChunkWriter:
    """Writes the ``chat.completion.chunk`` events of one streamed answer."""

    def __init__(
        self, ident: str, model: str, *, keep_answer: bool = False, include_usage: bool = False
    ) -> None:
        self.ident = ident
        self.model = model
        self.include_usage = include_usage
        """End with a usage chunk (``stream_options.include_usage``)."""
        self.keep_answer = keep_answer
        """Keep the text, tool calls and logprobs for :meth:`answer` (only when the cache
        stores it: this is the per-token path)."""
        self.created = int(time.time())
        # tracked as chunks pass, rather than merging every chunk (the per-token hot path)
        self._prompt_tokens = 0
        self._completion_tokens = 0
        self._finish_reason: str | None = None
        self._tool_calls = False
        self._pieces: list[str] = []
        self._calls: dict[int, dict[str, Any]] = {}
        self._logprobs: list[dict[str, Any]] | None = None

    def _frame(self, choices: list[dict[str, Any]], **extra: Any) -> bytes:
        return event(
            {
                "id": self.ident,
                "object": "chat.completion.chunk",
                "created": self.created,
                "model": self.model,
                "choices": choices,
                **extra,
            }
        )

    def _delta(self, delta: dict[str, Any], logprobs: list[dict[str, Any]] | None = None) -> bytes:
        choice: dict[str, Any] = {"index": 0, "delta": delta, "finish_reason": None}
        if logprobs is not None:
            choice["logprobs"] = {"content": logprobs, "refusal": None}
        return self._frame([choice])

    def start(self) -> bytes:
        """The first event: the assistant role."""
        return self._delta({"role": "assistant", "content": ""})

    def delta(self, chunk: AIMessageChunk) -> bytes | None:
        """A content or tool-call delta, or ``None`` if the chunk carries neither."""
        if chunk.usage_metadata:
            self._prompt_tokens += int(chunk.usage_metadata["input_tokens"])
            self._completion_tokens += int(chunk.usage_metadata["output_tokens"])
        logprobs = None
        if chunk.response_metadata:
            reason = finish_reason_of(chunk, default="")
            self._finish_reason = reason or self._finish_reason
            found = logprobs_of(chunk)
            logprobs = found["content"] if found else None
        delta: dict[str, Any] = {}
        text = text_of(chunk)
        if text:
            delta["content"] = text
            if self.keep_answer:
                self._pieces.append(text)
        if chunk.tool_call_chunks:
            self._tool_calls = True
            calls = [
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
            if self.keep_answer:
                self._merge(calls)
            delta["tool_calls"] = calls
        if logprobs and self.keep_answer:
            self._logprobs = (self._logprobs or []) + logprobs
        if not delta and not logprobs:
            return None
        return self._delta(delta, logprobs)

    def text(self, text: str, *, reasoning: bool = False) -> bytes:
        """A plain text delta: the answer's ``content``, or ``reasoning_content`` (shown by
        OpenWebUI and similar clients as the model's working, e.g. which tool ran)."""
        if self.keep_answer and not reasoning:
            self._pieces.append(text)
        return self._delta({"reasoning_content" if reasoning else "content": text})

    def count(self, prompt_tokens: int, completion_tokens: int) -> None:
        """Add tokens that did not arrive on chunks (e.g. an agent's whole run)."""
        self._prompt_tokens += prompt_tokens
        self._completion_tokens += completion_tokens

    def _merge(self, calls: list[dict[str, Any]]) -> None:
        """Tool-call pieces merged by index, as a client would (kept for the cache)."""
        for piece in calls:
            call = self._calls.setdefault(
                piece["index"],
                {"id": "", "type": "function", "function": {"name": "", "arguments": ""}},
            )
            call["id"] = call["id"] or piece.get("id") or ""
            call["function"]["name"] += piece["function"].get("name") or ""
            call["function"]["arguments"] += piece["function"]["arguments"]

    @property
    def finish_reason(self) -> str:
        """The finish reason so far (``tool_calls`` once a call has streamed)."""
        return "tool_calls" if self._tool_calls else (self._finish_reason or "stop")

    def answer(self) -> Answer:
        """What streamed so far, as an :data:`Answer` (needs ``keep_answer``)."""
        text = "".join(self._pieces)
        message: dict[str, Any] = {"role": "assistant", "content": text}
        if self._calls:
            message["tool_calls"] = [self._calls[index] for index in sorted(self._calls)]
            message["content"] = text or None
        return {
            "message": message,
            "finish_reason": self.finish_reason,
            "usage": usage_of(self._prompt_tokens, self._completion_tokens),
            "logprobs": (
                {"content": self._logprobs, "refusal": None} if self._logprobs is not None else None
            ),
        }

    @property
    def tokens(self) -> int:
        """Prompt plus answer tokens seen so far."""
        return self._prompt_tokens + self._completion_tokens

    def end(self) -> bytes:
        """The event that ends the choice, then the usage chunk if asked."""
        finish = self._frame([{"index": 0, "delta": {}, "finish_reason": self.finish_reason}])
        if not self.include_usage:
            return finish
        return finish + self._frame(
            [], usage=usage_of(self._prompt_tokens, self._completion_tokens)
        )

    def failed(self, exc: BaseException, secrets: list[str]) -> bytes:
        """An error frame (OpenAI's error body, secrets redacted)."""
        return error_frame(exc, secrets)

    def close(self) -> bytes:
        """``[DONE]``."""
        return DONE

    def replay(self, answer: Answer) -> list[bytes]:
        """A whole stored answer as the events of a stream, through the same frames."""
        message = answer["message"]
        usage = answer["usage"]
        self._prompt_tokens = int(usage["prompt_tokens"])
        self._completion_tokens = int(usage["completion_tokens"])
        self._finish_reason = answer["finish_reason"]
        logprobs = (answer.get("logprobs") or {}).get("content")
        frames = [self.start()]
        if message.get("content") or logprobs:
            frames.append(self._delta({"content": message.get("content") or ""}, logprobs))
        for index, call in enumerate(message.get("tool_calls") or []):
            self._tool_calls = True
            frames.append(self._delta({"tool_calls": [{"index": index, **call}]}))
        frames.append(self.end())
        frames.append(self.close())
        return frames
