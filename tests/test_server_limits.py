"""Request limits, hostile input, request ids, paths and CORS (in-process, scripted model).

The corpus below holds malformed and hostile requests: none may get a 5xx, and every error
body must be OpenAI's error object.
"""

from __future__ import annotations

import json
import logging
from collections.abc import AsyncIterator
from typing import Any

import httpx
import pytest

from assistant.config import Settings
from assistant.log import JsonFormatter
from assistant.server import create_app
from tests.fakes.scripted import ScriptedChatModel, ScriptedProvider, reply, scripted_assistant
from tests.scoreboard import Figures

LIMITS = {
    "max_body_bytes": 20_000,
    "max_messages": 8,
    "max_message_chars": 1_000,
    "max_tokens": 512,
    "max_tools": 3,
    "max_tool_bytes": 600,
}


def client(**server: Any) -> httpx.AsyncClient:
    model = ScriptedChatModel(script=[reply("fine")], cycle=True)
    assistant = scripted_assistant(ScriptedProvider("s", model))
    settings = Settings.model_validate({"server": {"limits": LIMITS, **server}})
    app = create_app(settings, assistant)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://testserver")


def chat(**fields: Any) -> dict[str, Any]:
    return {"model": "s:m", "messages": [{"role": "user", "content": "hi"}], **fields}


def tool(name: str = "f", size: int = 0) -> dict[str, Any]:
    return {
        "type": "function",
        "function": {"name": name, "description": "x" * size, "parameters": {"type": "object"}},
    }


def assert_openai_error(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code < 500, (response.status_code, response.text)
    body = response.json()
    assert set(body) == {"error"}, body
    error = body["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert isinstance(error["message"], str) and error["message"]
    assert "Traceback" not in error["message"]
    return dict(error)


async def test_limits_are_400_naming_the_field() -> None:
    cases = [
        (chat(messages=[{"role": "user", "content": "x"}] * 9), "messages", "too_many_messages"),
        (
            chat(messages=[{"role": "user", "content": "x" * 1001}]),
            "messages.0.content",
            "message_too_long",
        ),
        (chat(max_tokens=513), "max_tokens", "max_tokens_too_large"),
        (chat(max_completion_tokens=10_000), "max_completion_tokens", "max_tokens_too_large"),
        (chat(tools=[tool(str(i)) for i in range(4)]), "tools", "too_many_tools"),
        (chat(tools=[tool(size=700)]), "tools.0", "tool_too_large"),
        (chat(n=2), "n", "invalid_request"),
    ]
    async with client() as api:
        for body, param, code in cases:
            response = await api.post("/v1/chat/completions", json=body)
            assert response.status_code == 400, (param, response.text)
            error = assert_openai_error(response)
            assert (error["param"], error["code"]) == (param, code)
        within = chat(max_tokens=512, tools=[tool(str(i)) for i in range(3)])
        assert (await api.post("/v1/chat/completions", json=within)).status_code == 200


async def test_an_oversized_body_is_413_before_it_is_read() -> None:
    async with client() as api:
        big = json.dumps(chat(messages=[{"role": "user", "content": "x" * 30_000}]))
        response = await api.post(
            "/v1/chat/completions", content=big, headers={"content-type": "application/json"}
        )
        assert response.status_code == 413
        assert assert_openai_error(response)["code"] == "request_too_large"


async def test_a_chunked_oversized_body_is_413_too() -> None:
    async def pieces() -> AsyncIterator[bytes]:
        for _ in range(30):
            yield b"x" * 1000  # no Content-Length: counted as it arrives

    async with client() as api:
        response = await api.post("/v1/chat/completions", content=pieces())
        assert response.status_code == 413
        small = json.dumps(chat()).encode()

        async def one_piece() -> AsyncIterator[bytes]:
            yield small

        ok = await api.post(
            "/v1/chat/completions",
            content=one_piece(),
            headers={"content-type": "application/json"},
        )
        assert ok.status_code == 200, ok.text


async def test_doubled_slashes_reach_the_route() -> None:
    async with client() as api:
        assert (await api.get("http://testserver//v1//models")).status_code == 200
        assert (await api.post("/v1//chat/completions", json=chat())).status_code == 200


async def test_request_ids_are_echoed_or_made_and_logged(caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.INFO, logger="assistant.server.access")
    async with client() as api:
        mine = await api.get("/v1/models", headers={"X-Request-ID": "abc-123"})
        assert mine.headers["x-request-id"] == "abc-123"
        made = await api.get("/v1/models", headers={"X-Request-ID": "bad id\n"})
        assert made.headers["x-request-id"].startswith("req_")
        headers = {"X-OpenWebUI-User-Id": "u-42", "X-OpenWebUI-Chat-Id": "c-7"}
        await api.post("/v1/chat/completions", json=chat(), headers=headers)
    records = [r for r in caplog.records if r.name == "assistant.server.access"]
    assert len(records) == 3
    lines = [json.loads(JsonFormatter().format(r)) for r in records]
    assert lines[-1]["openwebui_user_id"] == "u-42" and lines[-1]["openwebui_chat_id"] == "c-7"
    assert lines[-1]["status"] == 200 and lines[-1]["path"] == "/v1/chat/completions"


async def test_cors_is_off_unless_configured() -> None:
    preflight = {
        "Origin": "https://chat.example.com",
        "Access-Control-Request-Method": "POST",
        "Access-Control-Request-Headers": "authorization,content-type",
    }
    async with client() as api:
        response = await api.options("/v1/chat/completions", headers=preflight)
        assert "access-control-allow-origin" not in response.headers
    async with client(cors_origins=["https://chat.example.com"]) as api:
        response = await api.options("/v1/chat/completions", headers=preflight)
        assert response.headers["access-control-allow-origin"] == "https://chat.example.com"
        other = await api.options(
            "/v1/chat/completions", headers={**preflight, "Origin": "https://evil.example"}
        )
        assert other.headers.get("access-control-allow-origin") != "https://evil.example"


# -- the hostile corpus ------------------------------------------------------------------------

RAW_BODIES: list[bytes] = [
    b"",
    b"{",
    b"null",
    b"[]",
    b'"a string"',
    b"42",
    b"\xff\xfe\xfd",
    b'{"model": "s:m", "messages": [{"role": "user", "content": "\xc3\x28"}]}',
    b'{"model": "s:m", "messages": [{"role": "user", "content": "hi"}]',
    b'{"model": "s:m", "messages": [{"role": "user", "content": "hi"}]}}',
    b"{'model': 's:m'}",
    b'{"model": NaN, "messages": []}',
    b'{"model": "s:m", "messages": [{"role": "user", "content": "hi"}], "temperature": Infinity}',
    b"\x00\x00\x00",
    b'{"model": "s:m", "messages": [{"role": "user", "content": "\\u0000\\ud800"}], "x": 1',
    b'{"a":' * 5000 + b"1" + b"}" * 5000,
    b'{"model": "s:m", "messages": ' + b"[" * 3000 + b"]" * 3000 + b"}",
]

JSON_BODIES: list[Any] = [
    {},
    {"model": "s:m"},
    {"messages": [{"role": "user", "content": "hi"}]},
    chat(model=""),
    chat(model=None),
    chat(model=42),
    chat(model=["s:m"]),
    chat(model="nope:model"),
    chat(model="no-colon"),
    chat(model="s:" + "m" * 5000),
    chat(model="../../etc/passwd"),
    chat(messages=[]),
    chat(messages="hi"),
    chat(messages=[None]),
    chat(messages=[{"role": "hacker", "content": "hi"}]),
    chat(messages=[{"content": "hi"}]),
    chat(messages=[{"role": "user", "content": 42}]),
    chat(messages=[{"role": "user", "content": [{"type": "video", "url": "x"}]}]),
    chat(messages=[{"role": "user", "content": [{"type": "text"}]}]),
    chat(messages=[{"role": "tool", "content": "orphan result", "tool_call_id": "nope"}]),
    chat(messages=[{"role": "assistant", "tool_calls": [{"id": "1"}]}]),
    chat(temperature=-1),
    chat(temperature=3),
    chat(temperature="hot"),
    chat(top_p=0),
    chat(top_p=2),
    chat(max_tokens=0),
    chat(max_tokens=-5),
    chat(max_tokens=10**30),
    chat(max_tokens="many"),
    chat(n=0),
    chat(n=100),
    chat(stop=["a", "b", "c", "d", "e"]),
    chat(stop=42),
    chat(seed="seed"),
    chat(seed=2**80),
    chat(presence_penalty=5),
    chat(frequency_penalty=-5),
    chat(stream="yes please"),
    chat(stream_options={"include_usage": "maybe"}),
    chat(user=["not", "a", "user"]),
    chat(tools="calculator"),
    chat(tools=[{"type": "function"}]),
    chat(tools=[{"type": "function", "function": {"name": ""}}]),
    chat(tools=[{"type": "function", "function": {"name": "x" * 100}}]),
    chat(tools=[{"type": "retrieval"}]),
    chat(tool_choice=42),
    chat(tool_choice={"type": "function", "function": {"name": "missing"}}),
    chat(messages=[{"role": "user", "content": "hi"}] * 50),
    chat(messages=[{"role": "user", "content": "x" * 5000}]),
    chat(logit_bias={}, parallel_tool_calls=True, metadata={"k": "v"}),
    chat(logit_bias={"50256": -100}),  # not supported: a 400, not silently ignored
    chat(response_format={"type": "json_object"}),  # the scripted model cannot: a 400
    chat(response_format={"type": "json_schema"}),
    chat(response_format={"type": "xml"}),
    chat(logprobs=True),
    chat(top_logprobs=5),
    chat(logprobs=True, top_logprobs=21),
]


@pytest.mark.scoreboard("hostile", "malformed and hostile request corpus")
async def test_the_hostile_corpus_gets_no_5xx_and_valid_error_bodies(scoreboard: Figures) -> None:
    assert len(RAW_BODIES) + len(JSON_BODIES) >= 60
    statuses: list[int] = []
    async with client() as api:
        for raw in RAW_BODIES:
            response = await api.post(
                "/v1/chat/completions", content=raw, headers={"content-type": "application/json"}
            )
            statuses.append(response.status_code)
            assert response.status_code in (400, 413), (raw[:60], response.text)
            assert_openai_error(response)
        for body in JSON_BODIES:
            response = await api.post("/v1/chat/completions", json=body)
            statuses.append(response.status_code)
            if response.status_code != 200:  # unknown extras are ignored, by design
                assert_openai_error(response)
        for method, path in [("GET", "/v1/chat/completions"), ("DELETE", "/v1/models"),
                             ("GET", "/v1/nope"), ("POST", "/v1/models"),
                             ("GET", "/v1/models/" + "x" * 3000)]:  # fmt: skip
            response = await api.request(method, path)
            statuses.append(response.status_code)
            assert_openai_error(response)
    scoreboard.record(
        tried=len(statuses),
        five_xx=sum(status >= 500 for status in statuses),
        refused_4xx=sum(400 <= status < 500 for status in statuses),
    )
    assert all(status < 500 for status in statuses)
    # only two succeed: unknown extras are ignored, and a lone tool result is passed on
    assert statuses.count(200) == 2
