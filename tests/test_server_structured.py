"""Structured output (``response_format``) and ``logprobs`` through the API.

The embedded model is tested for real with the openai SDK over HTTP (its grammar makes every
answer parse and validate); an OpenAI-compatible upstream (the fake, on loopback) must receive
both unchanged and its logprobs must come back; models that cannot get a 400, never a silent
ignore; a cached answer replays its logprobs through the same frames.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import Any

import httpx
import jsonschema
import openai
import pytest

from assistant.agent import Assistant
from assistant.cache import response_cache
from assistant.config import Settings
from assistant.providers import ModelCatalog, ProviderRegistry
from assistant.server import create_app
from tests.fakes.fixtures import gateway_over
from tests.fakes.upstream import FakeUpstream, ok
from tests.test_server_protocol import ScriptedChatModel, ScriptedProvider, _client

LOCAL = "local:smollm2"
PERSON = {
    "type": "object",
    "properties": {
        "name": {"type": "string", "maxLength": 20},
        "age": {"type": "integer"},
        "languages": {
            "type": "array",
            "items": {"type": "string", "maxLength": 12},
            "maxItems": 3,
        },
    },
    "required": ["name", "age", "languages"],
    "additionalProperties": False,
}
ASK_PERSON = [{"role": "user", "content": "Describe Ada Lovelace as JSON."}]
SCHEMA_FORMAT: Any = {
    "type": "json_schema",
    "json_schema": {"name": "person", "schema": PERSON, "strict": True},
}


# -- the embedded model, for real -----------------------------------------------------------


@pytest.fixture
def local(server_url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server_url}/v1", api_key="unused", max_retries=0)


@pytest.mark.slow
def test_local_json_schema_answer_parses_and_validates(local: openai.OpenAI) -> None:
    completion = local.chat.completions.create(
        model=LOCAL, messages=ASK_PERSON, response_format=SCHEMA_FORMAT, max_tokens=80, seed=1
    )
    choice = completion.choices[0]
    assert choice.finish_reason == "stop", choice
    jsonschema.validate(json.loads(choice.message.content or ""), PERSON)


@pytest.mark.slow
def test_local_json_schema_streams_and_validates(local: openai.OpenAI) -> None:
    stream = local.chat.completions.create(
        model=LOCAL,
        messages=ASK_PERSON,
        response_format=SCHEMA_FORMAT,
        max_tokens=80,
        temperature=0.9,
        stream=True,
    )
    chunks = list(stream)
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert chunks[-1].choices[0].finish_reason == "stop"
    jsonschema.validate(json.loads(text), PERSON)


@pytest.mark.slow
def test_local_json_object_is_an_object(local: openai.OpenAI) -> None:
    completion = local.chat.completions.create(
        model=LOCAL,
        messages=[{"role": "user", "content": "Give me a JSON object about cats."}],
        response_format={"type": "json_object"},
        max_tokens=60,
        temperature=0,
    )
    if completion.choices[0].finish_reason == "stop":
        assert isinstance(json.loads(completion.choices[0].message.content or ""), dict)
    else:  # cut at max_tokens: still the start of an object
        assert (completion.choices[0].message.content or "").lstrip().startswith("{")


@pytest.mark.slow
def test_local_unsupported_schema_feature_is_a_400_naming_it(local: openai.OpenAI) -> None:
    bad = {"type": "object", "properties": {"x": {"not": {"type": "string"}}}}
    with pytest.raises(openai.BadRequestError) as caught:
        local.chat.completions.create(
            model=LOCAL,
            messages=ASK_PERSON,
            response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": bad}},
        )
    error = caught.value.body
    assert isinstance(error, dict)
    assert error["param"] == "response_format.json_schema.schema"
    assert "not" in error["message"]


@pytest.mark.slow
def test_local_logprobs_whole_and_streamed(local: openai.OpenAI) -> None:
    hello = [{"role": "user", "content": "Say hello."}]
    whole = local.chat.completions.create(
        model=LOCAL, messages=hello, max_tokens=8, temperature=0, logprobs=True, top_logprobs=3
    )
    choice = whole.choices[0]
    assert choice.logprobs is not None and choice.logprobs.content
    entries = choice.logprobs.content
    assert len(entries) == whole.usage.completion_tokens  # type: ignore[union-attr]
    assert "".join(e.token for e in entries) == choice.message.content
    for entry in entries:
        assert entry.logprob <= 0 and len(entry.top_logprobs) == 3
        assert bytes(entry.bytes or []).decode("utf-8", "replace") == entry.token
        ranked = [alt.logprob for alt in entry.top_logprobs]
        assert ranked == sorted(ranked, reverse=True)
        # greedy decoding picks the most likely token
        assert entry.logprob == pytest.approx(ranked[0])

    chunks = list(
        local.chat.completions.create(
            model=LOCAL,
            messages=hello,
            max_tokens=8,
            temperature=0,
            logprobs=True,
            top_logprobs=2,
            stream=True,
        )
    )
    streamed = [e for c in chunks if c.choices and c.choices[0].logprobs
                for e in c.choices[0].logprobs.content or []]  # fmt: skip
    text = "".join(c.choices[0].delta.content or "" for c in chunks if c.choices)
    assert streamed and "".join(e.token for e in streamed) == text
    assert all(len(e.top_logprobs) == 2 for e in streamed)


@pytest.mark.slow
def test_local_top_logprobs_over_20_is_a_400(local: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError):
        local.chat.completions.create(
            model=LOCAL, messages=ASK_PERSON, logprobs=True, top_logprobs=21
        )


# -- passed through to an OpenAI-compatible upstream ----------------------------------------


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream("structured-upstream").start() as server:
        yield server


@pytest.fixture(scope="module")
def gateway(upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with gateway_over(upstream, tmp_path_factory.mktemp("structured"), ["gpt-fake"]) as base_url:
        yield base_url


@pytest.fixture
def sdk(gateway: str, upstream: FakeUpstream) -> openai.OpenAI:
    upstream.reset()
    return openai.OpenAI(base_url=f"{gateway}/v1", api_key="unused", max_retries=0)


def test_response_format_and_logprobs_reach_the_upstream(
    sdk: openai.OpenAI, upstream: FakeUpstream
) -> None:
    upstream.script(ok('{"name": "Ada"}', logprobs=True))
    completion = sdk.chat.completions.create(
        model="fake:gpt-fake",
        messages=ASK_PERSON,
        response_format=SCHEMA_FORMAT,
        logprobs=True,
        top_logprobs=2,
    )
    sent = upstream.requests[-1].body
    assert sent["response_format"] == SCHEMA_FORMAT
    assert sent["logprobs"] is True and sent["top_logprobs"] == 2
    logprobs = completion.choices[0].logprobs
    assert logprobs is not None and logprobs.content
    assert "".join(e.token for e in logprobs.content) == '{"name": "Ada"}'


def test_streamed_logprobs_from_the_upstream_come_through(
    sdk: openai.OpenAI, upstream: FakeUpstream
) -> None:
    upstream.script(ok("one two three", logprobs=True))
    chunks = list(
        sdk.chat.completions.create(
            model="fake:gpt-fake", messages=ASK_PERSON, logprobs=True, stream=True
        )
    )
    tokens = [e.token for c in chunks if c.choices and c.choices[0].logprobs
              for e in c.choices[0].logprobs.content or []]  # fmt: skip
    assert "".join(tokens) == "one two three"


# -- models that cannot, and the cache -------------------------------------------------------


async def test_a_model_without_the_feature_gets_a_400_naming_it() -> None:
    model = ScriptedChatModel(pieces=["plain"])
    async with _client(ScriptedProvider("s", model)) as api:
        for extra, param in [
            ({"response_format": {"type": "json_object"}}, "response_format"),
            ({"logprobs": True}, "logprobs"),
        ]:
            response = await api.post(
                "/v1/chat/completions",
                json={"model": "s:m", "messages": ASK_PERSON, **extra},
            )
            assert response.status_code == 400, response.text
            assert response.json()["error"]["param"] == param
        text_format = {"model": "s:m", "messages": ASK_PERSON, "response_format": {"type": "text"}}
        assert (await api.post("/v1/chat/completions", json=text_format)).status_code == 200
    assert not model.seen_kwargs or all("response_format" not in k for k in model.seen_kwargs)


def _cached_client(provider: ScriptedProvider) -> httpx.AsyncClient:
    settings = Settings()
    registry = ProviderRegistry([provider])
    assistant = Assistant(settings=settings, registry=registry, catalog=ModelCatalog(registry))
    assistant.cache = response_cache(settings.cache.model_copy(update={"enabled": True}))
    app = create_app(settings, assistant)
    return httpx.AsyncClient(transport=httpx.ASGITransport(app=app), base_url="http://t")


class _Capable(ScriptedProvider):
    features = frozenset({"response_format", "logprobs"})


class _WithLogprobs(ScriptedChatModel):
    """Answers with per-piece logprobs in the response metadata, as ChatOpenAI does."""

    def _generate(self, messages: Any, stop: Any = None, run_manager: Any = None, **kw: Any) -> Any:
        result = super()._generate(messages, stop, run_manager, **kw)
        entries = [{"token": p, "logprob": -1.0, "bytes": list(p.encode()), "top_logprobs": []}
                   for p in self.pieces]  # fmt: skip
        result.generations[0].message.response_metadata["logprobs"] = {"content": entries}
        return result


async def test_cached_logprobs_replay_whole_and_streamed() -> None:
    model = _WithLogprobs(pieces=["a", "b"])
    body = {"model": "s:m", "messages": ASK_PERSON, "temperature": 0, "logprobs": True}
    async with _cached_client(_Capable("s", model)) as api:
        first = await api.post("/v1/chat/completions", json=body)
        again = await api.post("/v1/chat/completions", json=body)
        streamed = await api.post("/v1/chat/completions", json={**body, "stream": True})
    assert first.headers["x-cache"] == "miss" and again.headers["x-cache"] == "hit"
    assert len(model.seen) == 1
    assert model.seen_kwargs[0]["logprobs"] is True
    expected = first.json()["choices"][0]["logprobs"]
    assert [e["token"] for e in expected["content"]] == ["a", "b"]
    assert again.json()["choices"][0]["logprobs"] == expected
    assert streamed.headers["x-cache"] == "hit"
    frames = [json.loads(line[6:]) for line in streamed.text.splitlines()
              if line.startswith("data: {")]  # fmt: skip
    replayed = [e for f in frames for c in f["choices"] for e in (c.get("logprobs") or {}).get(
        "content", [])]  # fmt: skip
    assert replayed == expected["content"]


async def test_response_format_is_part_of_the_cache_key() -> None:
    model = ScriptedChatModel(pieces=["{}"])
    body = {"model": "s:m", "messages": ASK_PERSON, "temperature": 0}
    async with _cached_client(_Capable("s", model)) as api:
        await api.post("/v1/chat/completions", json=body)
        shaped = await api.post(
            "/v1/chat/completions", json={**body, "response_format": {"type": "json_object"}}
        )
    assert shaped.headers["x-cache"] == "miss" and len(model.seen) == 2
    assert model.seen_kwargs[1]["response_format"] == {"type": "json_object"}


@pytest.mark.parametrize("stream", [False, True])
def test_response_format_with_tools_reaches_the_upstream_unchanged(
    sdk: openai.OpenAI, upstream: FakeUpstream, stream: bool
) -> None:
    """LangChain would send this through the SDK's ``parse`` helpers, which refuse tools not
    marked strict and rewrite a schema without a ``title``: it must go out as sent."""
    upstream.script(ok('{"name": "Ada"}'))
    weather = {"type": "function", "function": {"name": "get_weather", "parameters": {
        "type": "object", "properties": {"city": {"type": "string"}}}}}  # fmt: skip
    answer = sdk.chat.completions.create(
        model="fake:gpt-fake",
        messages=ASK_PERSON,
        tools=[weather],
        response_format=SCHEMA_FORMAT,
        stream=stream,
    )
    text = (
        "".join(c.choices[0].delta.content or "" for c in answer if c.choices)  # type: ignore[union-attr]
        if stream
        else answer.choices[0].message.content  # type: ignore[union-attr]
    )
    assert text == '{"name": "Ada"}'
    sent = upstream.requests[-1].body
    assert sent["response_format"] == SCHEMA_FORMAT
    assert sent["tools"][0]["function"]["name"] == "get_weather"


# -- images ------------------------------------------------------------------------------------

PICTURE = [
    {
        "role": "user",
        "content": [
            {"type": "text", "text": "What is in this picture?"},
            {"type": "image_url", "image_url": {"url": "data:image/png;base64,iVBORw0KGgo="}},
        ],
    }
]


@pytest.mark.slow
def test_an_image_to_a_model_that_cannot_see_is_a_400(local: openai.OpenAI) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        local.chat.completions.create(model=LOCAL, messages=PICTURE)
    body = caught.value.body
    assert isinstance(body, dict) and body["code"] == "images_not_supported"
    assert "image" in body["message"]


async def test_image_support_is_declared_per_model_and_chains_need_every_member() -> None:
    class Seeing(ScriptedProvider):
        def model_features(self, model: str) -> frozenset[str]:
            return frozenset({"images"}) if model == "eyes" else frozenset()

        def list_models(self) -> list[str]:
            return ["eyes", "m"]

    model = ScriptedChatModel(pieces=["a cat"])
    async with _client(Seeing("s", model), chains={"both": ["s:eyes", "s:m"]}) as api:
        seen = await api.post("/v1/chat/completions", json={"model": "s:eyes", "messages": PICTURE})
        blind = await api.post("/v1/chat/completions", json={"model": "s:m", "messages": PICTURE})
        chain = await api.post("/v1/chat/completions", json={"model": "both", "messages": PICTURE})
    assert seen.status_code == 200
    sent = model.seen[0][0].content
    assert isinstance(sent, list) and any(p.get("type") == "image_url" for p in sent)  # type: ignore[union-attr]
    assert blind.status_code == 400 and blind.json()["error"]["code"] == "images_not_supported"
    assert chain.status_code == 400
    assert len(model.seen) == 1  # the refused requests never reached the model


@pytest.mark.slow
@pytest.mark.parametrize(
    "schema",
    [
        {"enum": []},  # an empty grammar rule crashed llama.cpp (the whole process)
        {"anyOf": []},
        {"type": "object", "properties": {"a": 5}},
        {"type": "string", "pattern": 5},
        {"type": "array", "items": 5},
        {"type": "object", "properties": []},
        {"type": "string", "minLength": 100_000_000},  # a gigabyte grammar
    ],
)
def test_schemas_that_cannot_be_a_grammar_are_400s(
    local: openai.OpenAI, schema: dict[str, Any]
) -> None:
    with pytest.raises(openai.BadRequestError) as caught:
        local.chat.completions.create(
            model=LOCAL,
            messages=ASK_PERSON,
            response_format={"type": "json_schema", "json_schema": {"name": "x", "schema": schema}},
        )
    body = caught.value.body
    assert isinstance(body, dict) and body["code"] == "unsupported_schema"


@pytest.mark.slow
def test_a_client_tool_whose_schema_cannot_be_a_grammar_still_gets_json(
    local: openai.OpenAI,
) -> None:
    tool = {"type": "function", "function": {"name": "f", "parameters": {
        "type": "object", "properties": {"a": {"enum": []}}}}}  # fmt: skip
    answer = local.chat.completions.create(
        model=LOCAL,
        messages=ASK_PERSON,
        tools=[tool],
        tool_choice={"type": "function", "function": {"name": "f"}},
        max_tokens=30,
    )
    assert answer.choices[0].finish_reason in ("tool_calls", "stop", "length")
    assert local.models.list()  # the server is still up
