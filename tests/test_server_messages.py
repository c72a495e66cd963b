"""Conversations a client gets wrong are 400s in OpenAI's shape, never a 5xx.

Three shapes crashed the server: a JSON string escape that is not valid Unicode (a lone
surrogate), a ``tool`` message without ``tool_call_id``, and an assistant tool call whose
arguments are not JSON. Each is a 400 naming the field, and hypothesis generates message lists
of every role, content form and tool-call shape (valid or not) to check the whole class. The
model behind the API serialises the conversation to UTF-8 JSON, as an HTTP provider does.
"""

from __future__ import annotations

import json
from typing import Any

import httpx
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from langchain_core.messages import BaseMessage, messages_to_dict

from tests.test_server_protocol import ScriptedChatModel, ScriptedProvider, _client


class WireModel(ScriptedChatModel):
    """Answers "ok" after encoding the conversation as an HTTP provider would."""

    def _encode(self, messages: list[BaseMessage]) -> None:
        json.dumps(messages_to_dict(messages), ensure_ascii=False).encode("utf-8")

    def _generate(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> Any:
        self._encode(messages)
        return super()._generate(messages, *args, **kwargs)

    async def _astream(self, messages: list[BaseMessage], *args: Any, **kwargs: Any) -> Any:
        self._encode(messages)
        async for chunk in super()._astream(messages, *args, **kwargs):
            yield chunk


def _post(body: str, stream: bool = False) -> httpx.Response:
    import asyncio

    async def go() -> httpx.Response:
        async with _client(ScriptedProvider("s", WireModel(pieces=["ok"]))) as client:
            return await client.post(
                "/v1/chat/completions",
                content=body,
                headers={"content-type": "application/json"},
            )

    return asyncio.run(go())


def _error(response: httpx.Response) -> dict[str, Any]:
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert set(error) == {"message", "type", "param", "code"}
    assert error["type"] == "invalid_request_error"
    return dict(error)


def test_a_lone_surrogate_is_a_400_naming_the_field() -> None:
    body = '{"model": "s:m", "messages": [{"role": "user", "content": "hi \\ud800"}]}'
    error = _error(_post(body))
    assert error["param"] == "messages.0.content" and "not valid Unicode" in error["message"]
    parts = '{"model": "s:m", "stream": true, "messages": [{"role": "user", "content": [{"type": "text", "text": "\\udfff"}]}]}'  # noqa: E501
    assert _error(_post(parts))["param"] == "messages.0.content.0.text"


def test_a_tool_message_without_its_call_id_is_a_400() -> None:
    body = {
        "model": "s:m",
        "messages": [{"role": "user", "content": "x"}, {"role": "tool", "content": "42"}],
    }
    error = _error(_post(json.dumps(body)))
    assert error["param"] == "messages.1" and "tool_call_id" in error["message"]


def test_tool_call_arguments_that_are_not_a_json_object_are_a_400() -> None:
    for arguments in ("{oops", "[1, 2]", ""):
        call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": arguments}}
        body = {
            "model": "s:m",
            "messages": [
                {"role": "user", "content": "x"},
                {"role": "assistant", "content": None, "tool_calls": [call]},
                {"role": "tool", "tool_call_id": "c1", "content": "r"},
            ],
        }
        error = _error(_post(json.dumps(body)))
        assert error["param"] == "messages.1" and "arguments" in error["message"]


def test_a_well_formed_tool_round_trip_is_answered() -> None:
    call = {"id": "c1", "type": "function", "function": {"name": "f", "arguments": '{"a": 1}'}}
    body = {
        "model": "s:m",
        "messages": [
            {"role": "user", "content": "x"},
            {"role": "assistant", "content": None, "tool_calls": [call]},
            {"role": "tool", "tool_call_id": "c1", "content": "r"},
        ],
    }
    assert _post(json.dumps(body)).status_code == 200


_text = st.text(max_size=6) | st.sampled_from(["\ud800", "a\udfffb", "", "ok"])
_arguments = st.sampled_from(['{"a": 1}', "{}", "{oops", "[1]", "", "null", '"x"']) | _text
_tool_call = st.fixed_dictionaries(
    {
        "id": _text,
        "type": st.just("function"),
        "function": st.fixed_dictionaries({"name": _text, "arguments": _arguments}),
    }
)
_part = st.fixed_dictionaries({"type": st.just("text"), "text": _text})
_message = st.fixed_dictionaries(
    {"role": st.sampled_from(["system", "developer", "user", "assistant", "tool"])},
    optional={
        "content": st.none() | _text | st.lists(_part, max_size=2),
        "name": _text,
        "tool_calls": st.lists(_tool_call, max_size=2),
        "tool_call_id": _text,
    },
)


@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(messages=st.lists(_message, min_size=1, max_size=4), stream=st.booleans())
def test_no_message_list_gets_a_5xx(messages: list[dict[str, Any]], stream: bool) -> None:
    body = json.dumps({"model": "s:m", "stream": stream, "messages": messages})
    response = _post(body)
    assert response.status_code < 500, response.text
    if response.status_code != 200:
        _error(response)
