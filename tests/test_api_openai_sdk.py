"""The official ``openai`` SDK, sync and async, against ``assistant serve`` under uvicorn."""

from __future__ import annotations

import json
import time

import httpx
import openai
import pytest

pytestmark = pytest.mark.slow

MODEL = "local:smollm2"
HELLO = [{"role": "user", "content": "Say hello."}]


@pytest.fixture
def client(server_url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server_url}/v1", api_key="anything", max_retries=0)


@pytest.fixture
def async_client(server_url: str) -> openai.AsyncOpenAI:
    return openai.AsyncOpenAI(base_url=f"{server_url}/v1", api_key="anything", max_retries=0)


def test_models_lists_the_local_model(client: openai.OpenAI) -> None:
    ids = [model.id for model in client.models.list()]
    assert MODEL in ids
    assert not any(model_id.startswith("openai:") for model_id in ids), (
        "keyless providers are hidden"
    )
    assert client.models.retrieve(MODEL).id == MODEL


def test_chat_completion(client: openai.OpenAI) -> None:
    completion = client.chat.completions.create(model=MODEL, messages=HELLO, max_tokens=12)
    choice = completion.choices[0]
    assert completion.object == "chat.completion" and completion.id.startswith("chatcmpl-")
    assert choice.message.role == "assistant" and choice.message.content
    assert choice.finish_reason in ("stop", "length")
    assert completion.usage is not None
    assert completion.usage.prompt_tokens > 0 and completion.usage.completion_tokens > 0
    assert (
        completion.usage.total_tokens
        == completion.usage.prompt_tokens + completion.usage.completion_tokens
    )


def test_streaming_with_usage(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model=MODEL,
        messages=HELLO,
        max_tokens=12,
        stream=True,
        stream_options={"include_usage": True},
    )
    chunks = list(stream)
    assert chunks[0].choices[0].delta.role == "assistant"
    deltas = [
        c.choices[0].delta.content for c in chunks if c.choices and c.choices[0].delta.content
    ]
    assert len(deltas) >= 3 and "".join(deltas).strip()
    finishes = [
        c.choices[0].finish_reason for c in chunks if c.choices and c.choices[0].finish_reason
    ]
    assert finishes in (["stop"], ["length"])
    last = chunks[-1]
    assert last.choices == [] and last.usage is not None and last.usage.completion_tokens > 0
    assert all(chunk.id == chunks[0].id for chunk in chunks)


def test_streaming_without_usage_has_no_usage_chunk(client: openai.OpenAI) -> None:
    chunks = list(
        client.chat.completions.create(model=MODEL, messages=HELLO, max_tokens=6, stream=True)
    )
    assert all(chunk.choices for chunk in chunks)
    assert chunks[-1].choices[0].finish_reason in ("stop", "length")


async def test_async_chat_and_stream(async_client: openai.AsyncOpenAI) -> None:
    completion = await async_client.chat.completions.create(
        model=MODEL, messages=HELLO, max_tokens=8
    )
    assert completion.choices[0].message.content
    stream = await async_client.chat.completions.create(
        model=MODEL, messages=HELLO, max_tokens=8, stream=True
    )
    text = ""
    async for chunk in stream:
        if chunk.choices and chunk.choices[0].delta.content:
            text += chunk.choices[0].delta.content
    assert text.strip()


def test_unknown_model_is_404(client: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError) as caught:
        client.chat.completions.create(model="nope:model", messages=HELLO)
    assert caught.value.status_code == 404
    assert caught.value.code == "model_not_found"
    with pytest.raises(openai.NotFoundError):
        client.models.retrieve("nope:model")


def test_invalid_body_is_400_not_422(client: openai.OpenAI, server_url: str) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(model=MODEL, messages=[{"role": "wizard", "content": "hi"}])  # type: ignore[list-item]
    assert caught.value.status_code == 400
    response = httpx.post(
        f"{server_url}/v1/chat/completions",
        content=b"{not json",
        headers={"content-type": "application/json"},
    )
    assert response.status_code == 400
    assert set(response.json()["error"]) == {"message", "type", "param", "code"}


def test_prompt_over_context_is_400(client: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        client.chat.completions.create(
            model=MODEL, messages=[{"role": "user", "content": "word " * 5000}]
        )
    assert caught.value.code == "context_length_exceeded"


def test_unavailable_provider_names_the_setting(client: openai.OpenAI) -> None:
    with pytest.raises(openai.APIStatusError) as caught:
        client.chat.completions.create(model="openai:gpt-4o-mini", messages=HELLO)
    assert caught.value.status_code == 503
    assert "ASSISTANT_PROVIDERS__OPENAI__API_KEY" in caught.value.message


def test_unknown_fields_and_user_object_are_accepted(server_url: str) -> None:
    response = httpx.post(
        f"{server_url}/v1/chat/completions",
        json={
            "model": MODEL,
            "messages": HELLO,
            "max_tokens": 4,
            "user": {"id": "u1", "name": "Ada"},
            "some_custom_field": {"x": 1},
            "seed": 3,
            "stop": ["\n\n"],
        },
        timeout=60,
    )
    assert response.status_code == 200, response.text


def test_health_and_openapi_docs(server_url: str) -> None:
    assert httpx.get(f"{server_url}/health").json()["status"] == "ok"
    assert httpx.get(f"{server_url}/docs").status_code == 200
    spec = httpx.get(f"{server_url}/openapi.json").json()
    assert "/v1/chat/completions" in spec["paths"]


def _queue_depth(server_url: str) -> int:
    return int(httpx.get(f"{server_url}/health").json()["local_models"]["smollm2"]["queue_depth"])


def test_client_disconnect_stops_generation(server_url: str) -> None:
    body = {
        "model": MODEL,
        "messages": [{"role": "user", "content": "Tell a very long story."}],
        "max_tokens": 1500,
        "temperature": 0,  # greedy: this prompt then runs the full 1500 tokens (~15 s)
        "stream": True,
    }
    with httpx.stream(
        "POST", f"{server_url}/v1/chat/completions", json=body, timeout=60
    ) as response:
        lines = response.iter_lines()
        received = [next(lines) for _ in range(6)]
    assert any(line.startswith("data: ") for line in received)
    # bounded poll: generation of 1500 tokens would take ~15 s; cancellation must free the worker
    deadline = time.monotonic() + 3
    while _queue_depth(server_url) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _queue_depth(server_url) == 0, "generation kept running after the client left"


def test_client_leaving_a_whole_answer_stops_generation(server_url: str) -> None:
    body = {
        "model": MODEL,
        "messages": [{"role": "user", "content": "Tell a very long story."}],
        "max_tokens": 1500,
        "temperature": 0,  # ~15 s of generation if nobody stops it
    }
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{server_url}/v1/chat/completions", json=body, timeout=1.0)
    deadline = time.monotonic() + 3
    while _queue_depth(server_url) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert _queue_depth(server_url) == 0, "generation kept running after the client left"


WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The current weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
WEATHER_ASK = [{"role": "user", "content": "What is the weather in Paris?"}]


def test_client_tools_on_the_local_model(client: openai.OpenAI) -> None:
    first = client.chat.completions.create(
        model=MODEL, messages=WEATHER_ASK, tools=[WEATHER], tool_choice="required"
    )
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    (call,) = choice.message.tool_calls or []
    assert call.function.name == "get_weather"
    assert set(json.loads(call.function.arguments)) == {"city"}  # grammar-constrained JSON

    follow_up = [
        *WEATHER_ASK,
        choice.message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": "Sunny and 21 degrees."},
    ]
    second = client.chat.completions.create(
        model=MODEL, messages=follow_up, tools=[WEATHER], max_tokens=40
    )
    assert second.choices[0].message.content
    assert (
        not second.choices[0].message.tool_calls or second.choices[0].finish_reason == "tool_calls"
    )


def test_streamed_client_tools_on_the_local_model(client: openai.OpenAI) -> None:
    stream = client.chat.completions.create(
        model=MODEL, messages=WEATHER_ASK, tools=[WEATHER], tool_choice="required", stream=True
    )
    name, arguments, finish = "", "", None
    for chunk in stream:
        for choice in chunk.choices:
            finish = choice.finish_reason or finish
            for delta in choice.delta.tool_calls or []:
                assert delta.index == 0
                if delta.function is not None:
                    name += delta.function.name or ""
                    arguments += delta.function.arguments or ""
    assert finish == "tool_calls" and name == "get_weather"
    assert set(json.loads(arguments)) == {"city"}
