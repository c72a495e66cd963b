"""``assistant serve`` as a gateway in front of an OpenAI-compatible upstream, used by real
clients: the ``openai`` SDK and LangChain's ``ChatOpenAI`` with client-supplied tools
(streamed and not, then the follow-up ``role: tool`` turn), a recorded OpenWebUI request
sequence, and client disconnects that the upstream must see.

The upstream is the fake OpenAI server of ``tests/fakes/upstream.py`` on loopback; the
gateway is a real uvicorn process configured through environment variables, as a user runs it.
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterator

import httpx
import openai
import pytest
from langchain_openai import ChatOpenAI

from tests.conftest import clean_environ, serving
from tests.fakes.upstream import FakeUpstream, ok, slow_stream, tool_calls

pytestmark = pytest.mark.slow

MODEL = "fake:gpt-fake"
WEATHER = {
    "type": "function",
    "function": {
        "name": "get_weather",
        "description": "The weather in a city.",
        "parameters": {
            "type": "object",
            "properties": {"city": {"type": "string"}},
            "required": ["city"],
        },
    },
}
ASK = [{"role": "user", "content": "What is the weather in Paris?"}]


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream("gateway-upstream").start() as server:
        yield server


@pytest.fixture(scope="module")
def gateway(upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    endpoint = {
        "base_url": upstream.base_url,
        "models": ["gpt-fake"],
        "max_retries": 0,
        "timeout": 30,
    }
    env = {**clean_environ(), "ASSISTANT_PROVIDERS__COMPATIBLE": json.dumps({"fake": endpoint})}
    with serving(tmp_path_factory.mktemp("gateway"), env) as (base_url, _):
        yield base_url


@pytest.fixture
def fresh(upstream: FakeUpstream) -> FakeUpstream:
    upstream.reset()
    return upstream


@pytest.fixture
def sdk(gateway: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{gateway}/v1", api_key="unused", max_retries=0)


# -- client tools through the openai SDK -------------------------------------------------------


def test_tool_calls_come_back_and_the_tool_turn_continues(
    sdk: openai.OpenAI, fresh: FakeUpstream
) -> None:
    fresh.script(tool_calls(("get_weather", {"city": "Paris"})), ok("Sunny, 21 °C."))
    first = sdk.chat.completions.create(
        model=MODEL, messages=ASK, tools=[WEATHER], tool_choice="auto"
    )
    choice = first.choices[0]
    assert choice.finish_reason == "tool_calls"
    (call,) = choice.message.tool_calls or []
    assert call.function.name == "get_weather"
    assert json.loads(call.function.arguments) == {"city": "Paris"}
    sent = fresh.requests[0].body
    assert sent["tools"][0]["function"]["name"] == "get_weather"  # the tools reached upstream

    follow_up = [
        *ASK,
        choice.message.model_dump(exclude_none=True),
        {"role": "tool", "tool_call_id": call.id, "content": '{"sky": "sunny", "celsius": 21}'},
    ]
    second = sdk.chat.completions.create(model=MODEL, messages=follow_up, tools=[WEATHER])
    assert second.choices[0].message.content == "Sunny, 21 °C."
    relayed = fresh.requests[1].body["messages"]
    assert relayed[1]["tool_calls"][0]["id"] == call.id
    assert relayed[2] == {
        "role": "tool",
        "tool_call_id": call.id,
        "content": '{"sky": "sunny", "celsius": 21}',
    }


def test_streamed_tool_calls_merge_by_index(sdk: openai.OpenAI, fresh: FakeUpstream) -> None:
    fresh.script(tool_calls(("get_weather", {"city": "Paris"}), ("get_weather", {"city": "Rome"})))
    stream = sdk.chat.completions.create(
        model=MODEL,
        messages=ASK,
        tools=[WEATHER],
        stream=True,
        stream_options={"include_usage": True},
    )
    calls: dict[int, dict[str, str]] = {}
    finish, usage = None, None
    for chunk in stream:
        usage = chunk.usage or usage
        for choice in chunk.choices:
            finish = choice.finish_reason or finish
            for delta in choice.delta.tool_calls or []:
                entry = calls.setdefault(delta.index, {"id": "", "name": "", "arguments": ""})
                entry["id"] += delta.id or ""
                if delta.function is not None:
                    entry["name"] += delta.function.name or ""
                    entry["arguments"] += delta.function.arguments or ""
    assert finish == "tool_calls"
    assert [json.loads(calls[i]["arguments"]) for i in sorted(calls)] == [
        {"city": "Paris"},
        {"city": "Rome"},
    ]
    assert {c["name"] for c in calls.values()} == {"get_weather"}
    assert all(c["id"] for c in calls.values())
    assert usage is not None and usage.total_tokens == 29


# -- LangChain's ChatOpenAI as a client ---------------------------------------------------------


def test_chat_openai_binds_tools_through_the_gateway(gateway: str, fresh: FakeUpstream) -> None:
    client = ChatOpenAI(
        model=MODEL, base_url=f"{gateway}/v1", api_key="unused", max_retries=0, timeout=30
    )
    bound = client.bind_tools([WEATHER])
    fresh.script(
        tool_calls(("get_weather", {"city": "Oslo"})),
        tool_calls(("get_weather", {"city": "Bergen"})),
        ok("Rain."),
    )
    message = bound.invoke("Weather in Oslo?")
    assert [(c["name"], c["args"]) for c in message.tool_calls] == [
        ("get_weather", {"city": "Oslo"})
    ]
    streamed = None
    for piece in bound.stream("Weather in Bergen?"):
        streamed = piece if streamed is None else streamed + piece
    assert streamed is not None
    assert [(c["name"], c["args"]) for c in streamed.tool_calls] == [
        ("get_weather", {"city": "Bergen"})
    ]
    assert client.invoke("And now?").content == "Rain."


# -- an OpenWebUI session, as it sends it --------------------------------------------------------


def test_an_openwebui_request_sequence(gateway: str, fresh: FakeUpstream) -> None:
    headers = {
        "Authorization": "Bearer sk-whatever-openwebui-holds",  # any key: auth is off here
        "Content-Type": "application/json",
        "X-OpenWebUI-User-Name": "Ada%20Lovelace",
        "X-OpenWebUI-User-Id": "8d5e9b6c-user",
        "X-OpenWebUI-User-Email": "ada@example.com",
        "X-OpenWebUI-User-Role": "user",
        "X-OpenWebUI-Chat-Id": "3f1c-chat",
    }
    with httpx.Client(base_url=gateway, headers=headers, timeout=30) as owui:
        models = owui.get("/v1//models")  # a base URL ending in "/" joined with "/models"
        assert models.status_code == 200
        assert MODEL in {m["id"] for m in models.json()["data"]}

        fresh.script(ok('{"title": "Paris weather"}'), ok("It is sunny in Paris."))
        title = owui.post(
            "/v1/chat/completions",
            json={
                "model": MODEL,
                "messages": [
                    {"role": "user", "content": "### Task:\nGenerate a concise title...\n"}
                ],
                "stream": False,
                "max_tokens": 50,
                "metadata": {"task": "title_generation", "chat_id": "3f1c-chat"},
                "chat_id": "3f1c-chat",
            },
        )
        assert title.status_code == 200, title.text
        assert json.loads(title.json()["choices"][0]["message"]["content"])["title"]

        with owui.stream(
            "POST",
            "/v1/chat/completions",
            json={
                "model": MODEL,
                "messages": [
                    {"role": "system", "content": "You are helpful."},
                    {"role": "user", "content": [{"type": "text", "text": "Weather in Paris?"}]},
                ],
                "stream": True,
                "stream_options": {"include_usage": True},
                "temperature": 0.8,
                "top_p": 0.9,
                "seed": 7,
                "stop": ["<|end|>"],
                "user": {"id": "8d5e9b6c-user", "name": "Ada", "role": "user"},
                "session_id": "sess-1",
                "id": "msg-1",
                "params": {},
                "background_tasks": {"title_generation": True},
            },
        ) as chat:
            assert chat.status_code == 200
            frames = [line[6:] for line in chat.iter_lines() if line.startswith("data: ")]
    assert frames[-1] == "[DONE]"
    events = [json.loads(frame) for frame in frames[:-1]]
    text = "".join(c["delta"].get("content") or "" for e in events for c in e["choices"])
    assert text == "It is sunny in Paris."
    assert events[-1]["choices"] == [] and events[-1]["usage"]["total_tokens"] > 0
    relayed = fresh.requests[-1].body
    assert relayed["temperature"] == 0.8 and relayed["seed"] == 7 and relayed["stop"] == ["<|end|>"]
    assert "session_id" not in relayed and "background_tasks" not in relayed  # not forwarded


# -- disconnects --------------------------------------------------------------------------------


def test_leaving_mid_stream_cancels_the_upstream_request(gateway: str, fresh: FakeUpstream) -> None:
    fresh.script(slow_stream(n_chunks=200, interval=0.05))  # 10 s if nobody leaves
    body = {"model": MODEL, "messages": ASK, "stream": True}
    with httpx.stream("POST", f"{gateway}/v1/chat/completions", json=body, timeout=30) as answer:
        lines = answer.iter_lines()
        received = [next(lines) for _ in range(6)]
        left_at = time.monotonic()
    assert any(line.startswith("data: ") for line in received)
    assert fresh.wait_for_disconnects(1, timeout=5) == 1, "the upstream kept streaming"
    assert fresh.disconnects[0] - left_at < 1.0


def test_leaving_before_the_first_token_cancels_the_upstream_request(
    gateway: str, fresh: FakeUpstream
) -> None:
    # the upstream answers at once (headers, role chunk) but its first token takes 20 s
    fresh.script(slow_stream(first_token_after=20))
    body = {"model": MODEL, "messages": ASK, "stream": True}
    with pytest.raises(httpx.ReadTimeout):
        httpx.post(f"{gateway}/v1/chat/completions", json=body, timeout=0.5)
    gave_up = time.monotonic()
    assert fresh.wait_for_disconnects(1, timeout=5) == 1, "the upstream request was left open"
    assert fresh.disconnects[0] - gave_up < 1.0
    # and the gateway still answers
    fresh.script(ok("still here"))
    reply = httpx.post(
        f"{gateway}/v1/chat/completions", json={"model": MODEL, "messages": ASK}, timeout=30
    )
    assert reply.json()["choices"][0]["message"]["content"] == "still here"
