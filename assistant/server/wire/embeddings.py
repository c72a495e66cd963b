"""``POST /v1/embeddings``: the request, and the ``list`` of ``embedding`` objects answered."""

from __future__ import annotations

import base64
import struct
from typing import Any, Literal

from pydantic import Field, field_validator

from assistant.server.wire.common import UnicodeChecked

TokenArray = list[int]


class EmbeddingRequest(UnicodeChecked):
    """What OpenAI's ``client.embeddings.create`` and OpenWebUI send."""

    model: str = Field(min_length=1)
    input: str | list[str] | TokenArray | list[TokenArray]
    encoding_format: Literal["float", "base64"] = "float"
    dimensions: int | None = Field(None, ge=1)
    user: str | dict[str, Any] | None = None

    @field_validator("input")
    @classmethod
    def _not_empty(
        cls, value: str | list[str] | TokenArray | list[TokenArray]
    ) -> str | list[str] | TokenArray | list[TokenArray]:
        if isinstance(value, str):
            if not value:
                raise ValueError("'input' must not be an empty string")
            return value
        if not value:
            raise ValueError("'input' must not be an empty list")
        for index, item in enumerate(value):
            if isinstance(item, str) and not item:
                raise ValueError(f"'input[{index}]' must not be an empty string")
            if isinstance(item, list) and not item:
                raise ValueError(f"'input[{index}]' must not be an empty token array")
            ids = item if isinstance(item, list) else [item] if isinstance(item, int) else []
            if any(not 0 <= token < 2**31 for token in ids):
                raise ValueError("token ids are integers from 0 to 2**31 - 1")
        return value

    def inputs(self) -> list[str | list[int]]:
        """One entry per vector asked for: texts and token arrays."""
        value: Any = self.input
        if isinstance(value, str):
            return [value]
        if all(isinstance(item, int) for item in value):
            return [[int(item) for item in value]]
        return [item if isinstance(item, str) else [int(t) for t in item] for item in value]


def encode_vector(vector: list[float], encoding: str) -> list[float] | str:
    """A vector as OpenAI sends it: floats, or base64 of little-endian float32."""
    if encoding == "base64":
        return base64.b64encode(struct.pack(f"<{len(vector)}f", *vector)).decode()
    return vector


def embedding_list(
    model: str, vectors: list[list[float]], encoding: str, prompt_tokens: int
) -> dict[str, Any]:
    """The whole ``/v1/embeddings`` answer."""
    return {
        "object": "list",
        "data": [
            {"object": "embedding", "index": index, "embedding": encode_vector(vector, encoding)}
            for index, vector in enumerate(vectors)
        ],
        "model": model,
        "usage": {"prompt_tokens": prompt_tokens, "total_tokens": prompt_tokens},
    }
