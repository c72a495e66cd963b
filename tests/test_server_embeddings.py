"""``POST /v1/embeddings``: the openai SDK (sync and async) and OpenWebUI's request shape
against the real server with the embedded model; passed through to an OpenAI-compatible
upstream; limits and bad input as 400s."""

from __future__ import annotations

import base64
import json
import struct
from collections.abc import Iterator

import httpx
import numpy as np
import openai
import pytest

from tests.fakes.fixtures import gateway_over
from tests.fakes.upstream import FakeUpstream

LOCAL = "local:smollm2"


@pytest.fixture
def sdk(server_url: str) -> openai.OpenAI:
    return openai.OpenAI(base_url=f"{server_url}/v1", api_key="unused", max_retries=0)


@pytest.mark.slow
def test_sdk_embeds_a_string_a_list_and_token_arrays(sdk: openai.OpenAI) -> None:
    one = sdk.embeddings.create(model=LOCAL, input="The cat sat on the mat.")
    assert one.object == "list" and len(one.data) == 1
    vector = np.array(one.data[0].embedding)
    assert vector.shape == (576,) and np.linalg.norm(vector) == pytest.approx(1.0, abs=1e-3)
    assert one.usage.prompt_tokens > 0

    texts = ["cats purr", "dogs bark", "cats purr"]
    many = sdk.embeddings.create(model=LOCAL, input=texts, encoding_format="float")
    assert [item.index for item in many.data] == [0, 1, 2]
    assert many.data[0].embedding == pytest.approx(many.data[2].embedding)
    assert many.data[0].embedding != pytest.approx(many.data[1].embedding)

    tokens = sdk.embeddings.create(model=LOCAL, input=[[1, 2, 3, 4], [5, 6]])
    assert len(tokens.data) == 2 and tokens.usage.prompt_tokens == 6


@pytest.mark.slow
def test_base64_is_little_endian_float32_of_the_same_vector(server_url: str) -> None:
    body = {"model": LOCAL, "input": "base64 please"}
    floats = httpx.post(f"{server_url}/v1/embeddings", json=body, timeout=60).json()
    packed = httpx.post(
        f"{server_url}/v1/embeddings", json={**body, "encoding_format": "base64"}, timeout=60
    ).json()
    raw = base64.b64decode(packed["data"][0]["embedding"])
    decoded = struct.unpack(f"<{len(raw) // 4}f", raw)
    assert decoded == pytest.approx(floats["data"][0]["embedding"], abs=1e-6)


@pytest.mark.slow
async def test_async_sdk_and_the_cache(server_url: str) -> None:
    client = openai.AsyncOpenAI(base_url=f"{server_url}/v1", api_key="unused", max_retries=0)
    text = "a sentence embedded twice for the cache"
    first = await client.embeddings.with_raw_response.create(model=LOCAL, input=text)
    again = await client.embeddings.with_raw_response.create(model=LOCAL, input=text)
    assert first.headers["x-cache"] == "miss" and again.headers["x-cache"] == "hit"
    assert first.parse().data[0].embedding == again.parse().data[0].embedding
    assert again.parse().usage.prompt_tokens == first.parse().usage.prompt_tokens


@pytest.mark.slow
def test_openwebui_request_shape(server_url: str) -> None:
    """What ``generate_openai_batch_embeddings`` in OpenWebUI's ``retrieval/utils.py`` sends:
    a bearer key, ``{"input": texts, "model": model}`` (plus ``prefix`` when configured), and
    it reads ``data[].embedding``."""
    texts = ["First chunk of a document.", "Second chunk of a document."]
    response = httpx.post(
        f"{server_url}/v1/embeddings",
        headers={"Content-Type": "application/json", "Authorization": "Bearer sk-anything"},
        json={"input": texts, "model": LOCAL, "prefix": "passage: "},
        timeout=60,
    )
    assert response.status_code == 200, response.text
    vectors = [item["embedding"] for item in response.json()["data"]]
    assert len(vectors) == 2 and all(len(v) == 576 for v in vectors)


@pytest.mark.slow
@pytest.mark.parametrize(
    ("body", "param"),
    [
        ({"input": ""}, "input"),
        ({"input": []}, "input"),
        ({"input": ["ok", ""]}, "input"),
        ({"input": [[]]}, "input"),
        ({"input": [-1, 3]}, "input"),
        ({"input": ["a", 3]}, "input"),
        ({"input": "hi", "dimensions": 64}, "dimensions"),
        ({"input": "hi", "encoding_format": "int8"}, "encoding_format"),
        ({"input": ["x"] * 2049}, "input"),
        ({"input": "x" * 40_000}, "input"),
        ({"input": "\ud800"}, "input"),
    ],
)
def test_bad_input_is_a_400_naming_the_field(
    server_url: str, body: dict[str, object], param: str
) -> None:
    raw = json.dumps({"model": LOCAL, **body}).encode()  # lone surrogates stay escaped
    response = httpx.post(
        f"{server_url}/v1/embeddings",
        content=raw,
        headers={"content-type": "application/json"},
        timeout=60,
    )
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["type"] == "invalid_request_error"
    assert (error["param"] or "").startswith(param), error


@pytest.mark.slow
def test_unknown_model_is_a_404(sdk: openai.OpenAI) -> None:
    with pytest.raises(openai.NotFoundError):
        sdk.embeddings.create(model="local:nope", input="hi")


# -- passed through ---------------------------------------------------------------------------


@pytest.fixture(scope="module")
def upstream() -> Iterator[FakeUpstream]:
    with FakeUpstream("embeddings-upstream").start() as server:
        yield server


@pytest.fixture(scope="module")
def gateway(upstream: FakeUpstream, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
    with gateway_over(upstream, tmp_path_factory.mktemp("embeddings"), ["emb-fake"]) as base_url:
        yield base_url


def test_compatible_upstream_gets_the_request_as_sent(gateway: str, upstream: FakeUpstream) -> None:
    upstream.reset()
    client = openai.OpenAI(base_url=f"{gateway}/v1", api_key="unused", max_retries=0)
    result = client.embeddings.create(
        model="fake:emb-fake", input=[[10, 11], [12]], dimensions=8, encoding_format="float"
    )
    sent = upstream.requests[-1].body
    assert sent["model"] == "emb-fake" and sent["input"] == [[10, 11], [12]]
    assert sent["dimensions"] == 8
    assert len(result.data) == 2 and len(result.data[0].embedding) == 8
    assert result.usage.prompt_tokens == 2  # the upstream's count


def test_embedding_calls_are_counted_in_the_model_metrics(
    gateway: str, upstream: FakeUpstream
) -> None:
    client = openai.OpenAI(base_url=f"{gateway}/v1", api_key="unused", max_retries=0)
    client.embeddings.create(model="fake:emb-fake", input=["one", "two", "three"])
    text = httpx.get(f"{gateway}/metrics", timeout=10).text
    requests = [line for line in text.splitlines()
                if line.startswith("assistant_model_requests_total{")
                and 'model="emb-fake"' in line and 'outcome="ok"' in line]  # fmt: skip
    tokens = [line for line in text.splitlines()
              if line.startswith("assistant_model_tokens_total{")
              and 'model="emb-fake"' in line and 'kind="prompt"' in line]  # fmt: skip
    assert requests and float(requests[0].rsplit(" ", 1)[1]) >= 1
    assert tokens and float(tokens[0].rsplit(" ", 1)[1]) >= 3  # the upstream counts one per text


@pytest.mark.slow
@pytest.mark.parametrize("ids", [[10_000_000], [2**70], [49_152]])
def test_token_ids_outside_the_vocabulary_are_400s(server_url: str, ids: list[int]) -> None:
    """An id past the vocabulary aborted the process inside llama.cpp; a huge one wrapped."""
    response = httpx.post(
        f"{server_url}/v1/embeddings", json={"model": LOCAL, "input": ids}, timeout=60
    )
    assert response.status_code == 400, response.text
    assert response.json()["error"]["param"] == "input"
    assert httpx.get(f"{server_url}/health", timeout=10).status_code == 200
