"""Embeddings from the provider layer: any OpenAI-compatible endpoint, and the local GGUF model."""

from __future__ import annotations

import math
from typing import Any

import numpy as np
import pytest

from assistant import build_assistant
from assistant.config import Settings
from assistant.errors import ModelNotFoundError, ProviderUnavailableError
from tests.fakes.fixtures import Build, endpoint
from tests.fakes.upstream import FakeUpstream


async def test_compatible_endpoint_serves_embeddings(
    fake_upstream: FakeUpstream, build: Build
) -> None:
    assistant = build(vllm=endpoint(fake_upstream, api_key="sk-embed-secret"))
    embeddings = assistant.embeddings("vllm:bge-small")
    vectors = await embeddings.aembed_documents(["alpha", "beta", "alpha"])
    assert len(vectors) == 3 and len(vectors[0]) == 8
    assert vectors[0] == vectors[2] != vectors[1]
    assert embeddings.embed_query("alpha") == vectors[0]
    request = fake_upstream.requests[0]
    assert request.path == "/v1/embeddings"
    assert request.body["model"] == "bge-small"
    assert request.headers["authorization"] == "Bearer sk-embed-secret"
    # No tokenizing with tiktoken (it downloads its tables): texts go out as texts.
    assert request.body["input"] == ["alpha", "beta", "alpha"]


def test_embeddings_errors_name_what_to_fix() -> None:
    assistant = build_assistant(Settings())
    try:
        with pytest.raises(ModelNotFoundError, match="no provider 'nope'"):
            assistant.embeddings("nope:model")
        with pytest.raises(ProviderUnavailableError, match="ASSISTANT_PROVIDERS__OPENAI__API_KEY"):
            assistant.embeddings("openai:text-embedding-3-small")
        with pytest.raises(ModelNotFoundError, match="local has no model 'missing'"):
            assistant.embeddings("local:missing")
    finally:
        assistant.close()


def test_anthropic_has_no_embeddings_endpoint() -> None:
    assistant = build_assistant(
        Settings.model_validate({"providers": {"anthropic": {"api_key": "sk-ant-x"}}})
    )
    try:
        with pytest.raises(ModelNotFoundError, match="has no embeddings endpoint"):
            assistant.embeddings("anthropic:claude-haiku-4-5")
    finally:
        assistant.close()


def cosine(a: list[float], b: list[float]) -> float:
    return float(np.dot(a, b))  # vectors come normalised


@pytest.mark.slow
async def test_local_model_embeds_with_meaning(local_assistant: Any) -> None:
    embeddings = local_assistant.embeddings()  # the evals.embeddings_model default
    assert embeddings is local_assistant.embeddings("local:smollm2")  # cached
    paris, paraphrase, bananas, empty = await embeddings.aembed_documents(
        [
            "Paris is the capital of France.",
            "The capital of France is Paris.",
            "Bananas are a yellow fruit.",
            "",
        ]
    )
    assert len(paris) == len(bananas) == len(empty) > 100
    assert math.isclose(float(np.linalg.norm(paris)), 1.0, rel_tol=1e-4)
    assert cosine(paris, paraphrase) > cosine(paris, bananas) + 0.1
    query = await embeddings.aembed_query("Paris is the capital of France.")
    assert cosine(query, paris) == pytest.approx(1.0, abs=1e-4)
