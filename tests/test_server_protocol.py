"""Wire format and error mapping of the API, with scripted chat models (deterministic)."""

from __future__ import annotations

import json
from collections.abc import AsyncIterator, Iterator
from typing import Any

import httpx
import pytest
from langchain_core.callbacks import AsyncCallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, AIMessageChunk, BaseMessage
from langchain_core.messages.ai import UsageMetadata
from langchain_core.outputs import ChatGeneration, ChatGenerationChunk, ChatResult
from pydantic import Field

from assistant.agent import Assistant
from assistant.config import ResilienceSettings, Settings
from assistant.errors import ProviderHTTPError
from assistant.providers import ModelCatalog, Provider, ProviderRegistry
from assistant.server import create_app
from assistant.types import Availability


class ScriptedChatModel(BaseChatModel):
    """Streams ``pieces``; raises ``fail_with`` after ``fail_after`` pieces (if set)."""

    pieces: list[str]
    fail_after: int | None = None
    fail_with: Exception | None = None
    tool_calls: list[dict[str, Any]] = Field(default_factory=list)
    seen: list[list[BaseMessage]] = Field(default_factory=list)
    seen_kwargs: list[dict[str, Any]] = Field(default_factory=list)

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def _usage(self) -> UsageMetadata:
        return UsageMetadata(
            input_tokens=3, output_tokens=len(self.pieces), total_tokens=3 + len(self.pieces)
        )

    def _generate(
        self, messages: list[BaseMessage], stop: Any = None, run_manager: Any = None, **kwargs: Any
    ) -> ChatResult:
        self.seen.append(messages)
        self.seen_kwargs.append(kwargs)
        if self.fail_with is not None and self.fail_after == 0:
            raise self.fail_with
        message = AIMessage(
            content="".join(self.pieces),
            tool_calls=self.tool_calls,
            usage_metadata=self._usage(),
            response_metadata={"finish_reason": "stop"},
        )
        return ChatResult(generations=[ChatGeneration(message=message)])

    async def _astream(
        self,
        messages: list[BaseMessage],
        stop: Any = None,
        run_manager: AsyncCallbackManagerForLLMRun | None = None,
        **kwargs: Any,
    ) -> AsyncIterator[ChatGenerationChunk]:
        self.seen.append(messages)
        self.seen_kwargs.append(kwargs)
        for index, piece in enumerate(self.pieces):
            if self.fail_with is not None and self.fail_after == index:
                raise self.fail_with
            yield ChatGenerationChunk(message=AIMessageChunk(content=piece))
        yield ChatGenerationChunk(
            message=AIMessageChunk(
                content="",
                usage_metadata=self._usage(),
                response_metadata={"finish_reason": "stop"},
            )
        )

    def bind_tools(self, tools: Any, *, tool_choice: Any = None, **kwargs: Any) -> Any:
        return self.bind(tools=tools, tool_choice=tool_choice)


class ScriptedProvider(Provider):
    def __init__(self, name: str, model: ScriptedChatModel) -> None:
        self.name = name
        self.resilience = ResilienceSettings(max_retries=0)
        self.model = model

    def availability(self) -> Availability:
        return Availability(True)

    def list_models(self) -> list[str]:
        return ["m"]

    def chat_model(self, model: str) -> BaseChatModel:
        return self.model

    def _iter(self) -> Iterator[str]:  # pragma: no cover - unused
        yield from ()


def _client(
    *providers: ScriptedProvider, chains: dict[str, list[str]] | None = None
) -> httpx.AsyncClient:
    settings = Settings(chains=chains or {})
    registry = ProviderRegistry(providers)
    assistant = Assistant(
        settings=settings, registry=registry, catalog=ModelCatalog(registry, settings.chains)
    )
    app = create_app(settings, assistant)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


def _events(body: str) -> list[str]:
    return [line[len("data: ") :] for line in body.splitlines() if line.startswith("data: ")]


async def test_stream_wire_format() -> None:
    model = ScriptedChatModel(pieces=["Hel", "lo", "!"])
    async with _client(ScriptedProvider("s", model)) as client:
        response = await client.post(
            "/v1/chat/completions",
            json={
                "model": "s:m",
                "messages": [{"role": "user", "content": "hi"}],
                "stream": True,
                "stream_options": {"include_usage": True},
            },
        )
    assert response.status_code == 200
    assert response.headers["content-type"].startswith("text/event-stream")
    events = _events(response.text)
    assert events[-1] == "[DONE]"
    frames = [json.loads(event) for event in events[:-1]]
    assert frames[0]["choices"][0]["delta"] == {"role": "assistant", "content": ""}
    assert [f["choices"][0]["delta"]["content"] for f in frames[1:4]] == ["Hel", "lo", "!"]
    assert frames[4]["choices"][0] == {"index": 0, "delta": {}, "finish_reason": "stop"}
    assert frames[5]["choices"] == [] and frames[5]["usage"] == {
        "prompt_tokens": 3,
        "completion_tokens": 3,
        "total_tokens": 6,
    }
    assert {f["object"] for f in frames} == {"chat.completion.chunk"}
    assert len({f["id"] for f in frames}) == 1


async def test_mid_stream_failure_sends_one_error_frame_then_done() -> None:
    failure = ProviderHTTPError("s", 500, "upstream broke")
    model = ScriptedChatModel(pieces=["a", "b", "c"], fail_after=2, fail_with=failure)
    async with _client(ScriptedProvider("s", model)) as client:
        response = await client.post(
            "/v1/chat/completions",
            json={"model": "s:m", "messages": [{"role": "user", "content": "hi"}], "stream": True},
        )
    events = _events(response.text)
    assert events[-1] == "[DONE]"
    error = json.loads(events[-2])["error"]
    assert error["code"] == "upstream_error" and "upstream broke" in error["message"]
    contents = [json.loads(e)["choices"][0]["delta"].get("content") for e in events[1:-2]]
    assert contents == ["a", "b"]


async def test_failure_before_first_token_is_an_http_error() -> None:
    model = ScriptedChatModel(
        pieces=["a"],
        fail_after=0,
        fail_with=ProviderHTTPError("s", 429, "slow down", retry_after=7),
    )
    async with _client(ScriptedProvider("s", model)) as client:
        response = await client.post(
            "/v1/chat/completions",
            json={"model": "s:m", "messages": [{"role": "user", "content": "hi"}], "stream": True},
        )
    assert response.status_code == 429
    assert response.headers["retry-after"] == "7"
    assert response.json()["error"]["type"] == "rate_limit_error"


async def test_stream_falls_back_before_first_token() -> None:
    broken = ScriptedChatModel(
        pieces=["x"], fail_after=0, fail_with=ProviderHTTPError("a", 503, "down")
    )
    healthy = ScriptedChatModel(pieces=["from b"])
    async with _client(
        ScriptedProvider("a", broken),
        ScriptedProvider("b", healthy),
        chains={"safe": ["a:m", "b:m"]},
    ) as client:
        models = (await client.get("/v1/models")).json()["data"]
        assert "safe" in [m["id"] for m in models]
        response = await client.post(
            "/v1/chat/completions",
            json={"model": "safe", "messages": [{"role": "user", "content": "hi"}], "stream": True},
        )
    contents = [
        json.loads(e)["choices"][0]["delta"].get("content")
        for e in _events(response.text)[1:-1]
        if json.loads(e)["choices"]
    ]
    assert "from b" in contents


async def test_non_streaming_tool_calls_in_openai_format() -> None:
    call = {
        "name": "calculator",
        "args": {"expression": "2+2"},
        "id": "call_1",
        "type": "tool_call",
    }
    model = ScriptedChatModel(pieces=[], tool_calls=[call])
    tool = {
        "type": "function",
        "function": {"name": "calculator", "parameters": {"type": "object", "properties": {}}},
    }
    async with _client(ScriptedProvider("s", model)) as client:
        response = await client.post(
            "/v1/chat/completions",
            json={
                "model": "s:m",
                "messages": [{"role": "user", "content": "2+2?"}],
                "tools": [tool],
                "tool_choice": "auto",
            },
        )
    choice = response.json()["choices"][0]
    assert choice["finish_reason"] == "tool_calls"
    assert choice["message"]["content"] is None
    assert choice["message"]["tool_calls"] == [
        {
            "id": "call_1",
            "type": "function",
            "function": {"name": "calculator", "arguments": '{"expression": "2+2"}'},
        }
    ]
    assert model.seen_kwargs[-1]["tool_choice"] == "auto"


async def test_sampling_parameters_reach_the_model_and_conversation_is_converted() -> None:
    model = ScriptedChatModel(pieces=["ok"])
    messages = [
        {"role": "developer", "content": "Be brief."},
        {"role": "user", "content": [{"type": "text", "text": "2+2?"}]},
        {
            "role": "assistant",
            "content": None,
            "tool_calls": [
                {
                    "id": "c1",
                    "type": "function",
                    "function": {"name": "calc", "arguments": '{"e": "2+2"}'},
                }
            ],
        },
        {"role": "tool", "tool_call_id": "c1", "content": "4"},
    ]
    async with _client(ScriptedProvider("s", model)) as client:
        response = await client.post(
            "/v1/chat/completions",
            json={
                "model": "s:m",
                "messages": messages,
                "temperature": 0.2,
                "max_completion_tokens": 9,
                "seed": 5,
                "stop": "END",
            },
        )
    assert response.status_code == 200, response.text
    seen = model.seen[-1]
    assert [m.type for m in seen] == ["system", "human", "ai", "tool"]
    assert seen[2].tool_calls[0]["args"] == {"e": "2+2"}
    kwargs = model.seen_kwargs[-1]
    assert kwargs["temperature"] == 0.2 and kwargs["max_tokens"] == 9 and kwargs["seed"] == 5


@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"messages": [{"role": "user", "content": "x"}]}, "model"),
        ({"model": "s:m", "messages": [{"role": "robot", "content": "x"}]}, "messages.0.role"),
        ({"model": "s:m", "messages": "hello"}, "messages"),
        (
            {"model": "s:m", "messages": [{"role": "user", "content": "x"}], "temperature": 9},
            "temperature",
        ),
        ({"model": "s:m", "messages": [{"role": "user", "content": "x"}], "n": 3}, "n"),
    ],
)
async def test_invalid_requests_are_400_in_openai_shape(body: dict[str, Any], param: str) -> None:
    async with _client(ScriptedProvider("s", ScriptedChatModel(pieces=["x"]))) as client:
        response = await client.post("/v1/chat/completions", json=body)
    assert response.status_code == 400
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error"
    assert error["param"] is not None and error["param"].startswith(param.split(".")[0])


async def test_unknown_route_and_method_use_the_error_shape() -> None:
    async with _client(ScriptedProvider("s", ScriptedChatModel(pieces=["x"]))) as client:
        missing = await client.get("/v1/nothing")
        wrong = await client.get("/v1/chat/completions")
    assert missing.status_code == 404 and missing.json()["error"]["code"] == "not_found"
    assert wrong.status_code == 405 and "error" in wrong.json()


async def test_non_json_body_is_400() -> None:
    async with _client(ScriptedProvider("s", ScriptedChatModel(pieces=["x"]))) as client:
        response = await client.post(
            "/v1/chat/completions",
            content=b"\xff\xfe not json",
            headers={"content-type": "application/json"},
        )
    assert response.status_code == 400
    assert response.json()["error"]["code"] == "invalid_json"


async def test_unexpected_errors_are_a_bare_500_in_openai_shape(
    caplog: pytest.LogCaptureFixture,
) -> None:
    model = ScriptedChatModel(
        pieces=["x"], fail_after=0, fail_with=RuntimeError("secret internals")
    )
    async with _client(ScriptedProvider("s", model)) as client:
        response = await client.post(
            "/v1/chat/completions",
            json={"model": "s:m", "messages": [{"role": "user", "content": "hi"}]},
        )
    assert response.status_code == 500
    error = response.json()["error"]
    assert error["type"] == "server_error" and "secret internals" not in error["message"]
    assert "Traceback" not in caplog.text


async def test_tool_choice_naming_an_absent_tool_is_400(local_assistant: Assistant) -> None:
    app = create_app(local_assistant.settings, local_assistant)
    tool = {
        "type": "function",
        "function": {"name": "calculator", "parameters": {"type": "object", "properties": {}}},
    }
    async with httpx.AsyncClient(
        transport=httpx.ASGITransport(app=app), base_url="http://t"
    ) as client:
        response = await client.post(
            "/v1/chat/completions",
            json={
                "model": "local:smollm2",
                "messages": [{"role": "user", "content": "hi"}],
                "tools": [tool],
                "tool_choice": {"type": "function", "function": {"name": "weather"}},
            },
        )
    assert response.status_code == 400
    assert response.json()["error"]["param"] == "tool_choice"
