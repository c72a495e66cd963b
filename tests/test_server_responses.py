"""``POST /v1/responses`` with the official openai SDK (sync and async, whole and streamed)
against the real server and the embedded model: text, a function call round trip (by
``previous_response_id`` and by sending the items back), structured output, and the 400s."""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import jsonschema
import openai
import pytest

from tests.fakes.fixtures import gateway_over
from tests.fakes.upstream import FakeUpstream, ok, tool_calls

pytestmark = pytest.mark.slow

LOCAL = "local:smollm2"
WEATHER: Any = {
    "type": "function",
    "name": "get_weather",
    "description": "The current weather in a city.",
    "parameters": {
        "type": "object",
        "properties": {"city": {"type": "string", "maxLength": 20}},
        "required": ["city"],
    },
}
FORCE_WEATHER: Any = {"type": "function", "name": "get_weather"}


@pytest.fixture
def sdk(server_url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server_url}/v1", api_key="unused", max_retries=0)


def test_a_whole_text_response(sdk: openai.OpenAI) -> None:
    response = sdk.responses.create(
        model=LOCAL, input="Say hello.", instructions="Be brief.", max_output_tokens=16
    )
    assert response.object == "response" and response.id.startswith("resp_")
    assert response.status in ("completed", "incomplete")
    assert response.output_text.strip()
    (message,) = response.output
    assert message.type == "message" and message.role == "assistant"
    assert response.usage is not None and response.usage.output_tokens > 0
    assert response.usage.total_tokens == response.usage.input_tokens + response.usage.output_tokens
    assert response.instructions == "Be brief." and response.model == LOCAL


def test_a_streamed_text_response_has_the_typed_event_sequence(sdk: openai.OpenAI) -> None:
    events = list(
        sdk.responses.create(model=LOCAL, input="Say hello.", max_output_tokens=12, stream=True)
    )
    kinds = [event.type for event in events]
    assert kinds[:2] == ["response.created", "response.in_progress"]
    assert kinds[2:4] == ["response.output_item.added", "response.content_part.added"]
    assert kinds[-4:-1] == [
        "response.output_text.done",
        "response.content_part.done",
        "response.output_item.done",
    ]
    assert kinds[-1] in ("response.completed", "response.incomplete")
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    final = events[-1].response  # type: ignore[union-attr]
    assert deltas and final.output_text == deltas
    assert [e.sequence_number for e in events] == list(range(len(events)))
    assert final.id == events[0].response.id  # type: ignore[union-attr]


def test_function_call_round_trip_streamed_by_previous_response_id(sdk: openai.OpenAI) -> None:
    stream = sdk.responses.create(
        model=LOCAL,
        input="What is the weather in Paris?",
        tools=[WEATHER],
        tool_choice=FORCE_WEATHER,
        stream=True,
    )
    events = list(stream)
    kinds = [event.type for event in events]
    assert "response.function_call_arguments.delta" in kinds
    assert "response.function_call_arguments.done" in kinds
    first = events[-1].response  # type: ignore[union-attr]
    (call,) = [item for item in first.output if item.type == "function_call"]
    assert call.name == "get_weather"
    arguments = json.loads(call.arguments)
    assert isinstance(arguments.get("city"), str)

    follow = sdk.responses.create(
        model=LOCAL,
        previous_response_id=first.id,
        input=[
            {
                "type": "function_call_output",
                "call_id": call.call_id,
                "output": '{"sky": "sunny", "celsius": 21}',
            }
        ],
        tools=[WEATHER],
        max_output_tokens=24,
        stream=True,
    )
    answer = list(follow)[-1].response  # type: ignore[union-attr]
    assert answer.previous_response_id == first.id
    assert answer.output_text.strip()
    assert not [item for item in answer.output if item.type == "function_call"]


async def test_function_call_round_trip_async_with_items_sent_back(server_url: str) -> None:
    client = openai.AsyncOpenAI(base_url=f"{server_url}/v1", api_key="unused", max_retries=0)
    ask = {"role": "user", "content": "What is the weather in Rome?"}
    first = await client.responses.create(
        model=LOCAL, input=[ask], tools=[WEATHER], tool_choice=FORCE_WEATHER, store=False
    )
    (call,) = [item for item in first.output if item.type == "function_call"]
    second = await client.responses.create(
        model=LOCAL,
        input=[
            ask,
            {
                "type": "function_call",
                "call_id": call.call_id,
                "name": call.name,
                "arguments": call.arguments,
            },
            {"type": "function_call_output", "call_id": call.call_id, "output": "Rainy, 14 C"},
        ],
        tools=[WEATHER],
        max_output_tokens=24,
    )
    assert second.output_text.strip()
    stream = await client.responses.create(
        model=LOCAL, input="Say hello.", max_output_tokens=12, stream=True
    )
    events = [event async for event in stream]
    deltas = "".join(e.delta for e in events if e.type == "response.output_text.delta")
    assert deltas and events[-1].response.output_text == deltas  # type: ignore[union-attr]
    with pytest.raises(openai.BadRequestError) as caught:  # store=False: nothing to continue
        await client.responses.create(
            model=LOCAL, previous_response_id=first.id, input="And tomorrow?"
        )
    assert caught.value.body["param"] == "previous_response_id"  # type: ignore[index]


def test_text_format_json_schema(sdk: openai.OpenAI) -> None:
    schema = {
        "type": "object",
        "properties": {"city": {"type": "string", "maxLength": 20}, "rain": {"type": "boolean"}},
        "required": ["city", "rain"],
    }
    response = sdk.responses.create(
        model=LOCAL,
        input="Is it raining in Oslo? Answer as JSON.",
        text={"format": {"type": "json_schema", "name": "rain", "schema": schema}},
        max_output_tokens=40,
        temperature=0,
    )
    jsonschema.validate(json.loads(response.output_text), schema)


@pytest.mark.parametrize(
    ("extra", "param"),
    [
        ({"previous_response_id": "resp_nope"}, "previous_response_id"),
        ({"tools": [{"type": "web_search"}]}, "tools[0].type"),
        ({"input": [{"type": "computer_call_output", "call_id": "x"}]}, "input[0].type"),
        ({"input": [{"role": "wizard", "content": "hi"}]}, "input[0].role"),
        ({"input": [{"type": "function_call_output"}]}, "input[0].call_id"),
        (
            {"input": [{"role": "user", "content": [{"type": "input_audio"}]}]},
            "input[0].content[0]",
        ),
        ({"max_output_tokens": 0}, "max_output_tokens"),
    ],
)
def test_bad_requests_are_400s_naming_the_field(
    sdk: openai.OpenAI, extra: dict[str, Any], param: str
) -> None:
    body: dict[str, Any] = {"model": LOCAL, "input": "hi", **extra}
    with pytest.raises(openai.BadRequestError) as caught:
        sdk.responses.create(**body)
    assert caught.value.body["param"] == param  # type: ignore[index]


# -- translated for an OpenAI-compatible upstream --------------------------------------------


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream("responses-upstream").start() as server:
        yield server


@pytest.fixture(scope="module")
def gateway(upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with gateway_over(upstream, tmp_path_factory.mktemp("responses"), ["gpt-fake"]) as base_url:
        yield base_url


def test_the_upstream_gets_the_chat_request_it_means(gateway: str, upstream: FakeUpstream) -> None:
    upstream.reset()
    upstream.script(tool_calls(("get_weather", {"city": "Paris"})), ok("Sunny."))
    client = openai.OpenAI(base_url=f"{gateway}/v1", api_key="unused", max_retries=0)
    first = client.responses.create(
        model="fake:gpt-fake",
        instructions="You are terse.",
        input="Weather in Paris?",
        tools=[WEATHER],
        max_output_tokens=50,
    )
    sent = upstream.requests[-1].body
    assert sent["messages"][0] == {"role": "system", "content": "You are terse."}
    assert sent["messages"][1] == {"role": "user", "content": "Weather in Paris?"}
    assert sent["tools"][0]["function"]["name"] == "get_weather"
    assert sent["max_completion_tokens"] == 50 or sent.get("max_tokens") == 50
    (call,) = [item for item in first.output if item.type == "function_call"]
    assert json.loads(call.arguments) == {"city": "Paris"}

    second = client.responses.create(
        model="fake:gpt-fake",
        previous_response_id=first.id,
        input=[{"type": "function_call_output", "call_id": call.call_id, "output": "sunny"}],
    )
    assert second.output_text == "Sunny."
    relayed = upstream.requests[-1].body["messages"]
    assert [m["role"] for m in relayed] == ["user", "assistant", "tool"]  # no instructions
    assert relayed[1]["tool_calls"][0]["id"] == call.call_id
    assert relayed[2] == {"role": "tool", "tool_call_id": call.call_id, "content": "sunny"}
