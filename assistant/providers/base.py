"""What a provider is: credentials and one pooled client on one side, chat models on the other.

A provider plugin is an entry point in the ``assistant.providers`` group naming a factory:
a callable that takes :class:`~assistant.config.Settings` and returns the providers it
creates (usually one; ``compatible`` creates one per named endpoint). The built-in providers
are registered exactly like plugins, in this project's ``pyproject.toml``.
"""

from __future__ import annotations

import fnmatch
from abc import ABC, abstractmethod
from collections.abc import Callable, Iterable
from dataclasses import dataclass
from typing import Any

from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseChatModel
from langchain_core.tools import BaseTool

from assistant.config import ResilienceSettings, Settings
from assistant.errors import InvalidRequestError, ModelNotFoundError, ProviderError
from assistant.providers.upstream_errors import map_exception
from assistant.types import Availability

ToolLike = dict[str, Any] | type | Callable[..., Any] | BaseTool
"""Anything LangChain can turn into a tool schema."""
ToolChoice = str | dict[str, Any] | None
"""``auto``, ``none``, ``required``, a tool name, or OpenAI's ``{"type": "function", ...}``."""

ALL_PARAMS = frozenset(
    {"temperature", "top_p", "max_tokens", "stop", "seed", "presence_penalty", "frequency_penalty"}
)
FEATURES = frozenset({"response_format", "logprobs", "images"})
"""Request features beyond plain chat a provider may offer: structured output
(``response_format``: ``json_object`` or ``json_schema``), token ``logprobs``, and image
input (``images``, per model: :meth:`Provider.model_features`)."""


@dataclass(frozen=True, slots=True)
class EmbeddingBatch:
    """Vectors for a batch of inputs, in order, and the tokens they took."""

    vectors: list[list[float]]
    prompt_tokens: int


EmbeddingInput = str | list[int]
"""A text, or a token array in the model's own vocabulary."""


class Provider(ABC):
    """A source of chat models (OpenAI, Anthropic, the embedded llama.cpp, ...)."""

    name: str
    """The ``provider`` part of model refs."""
    resilience: ResilienceSettings
    """Timeouts, retries and breaker settings."""
    supported_params: frozenset[str] = ALL_PARAMS
    """Sampling parameters the provider accepts; others are dropped, not sent."""
    features: frozenset[str] = frozenset()
    """Which of :data:`FEATURES` its chat models honour; asking for another is a 400 (never
    silently ignored)."""

    @abstractmethod
    def availability(self) -> Availability:
        """Whether the provider is configured (cheap: no network, no model load)."""

    @abstractmethod
    def list_models(self) -> list[str]:
        """Model names to advertise (without the ``provider:`` prefix)."""

    def has_model(self, model: str) -> bool:
        """Whether ``model`` can be asked for; hosted providers accept any name."""
        return True

    @abstractmethod
    def chat_model(self, model: str) -> BaseChatModel:
        """A LangChain chat model for ``model``, using this provider's pooled client."""

    def model_features(self, model: str) -> frozenset[str]:
        """The features ``model`` honours: :attr:`features`, plus ``images`` when the settings
        declare the model takes images (``image_models`` glob patterns)."""
        patterns = getattr(getattr(self, "settings", None), "image_models", None) or []
        if any(fnmatch.fnmatchcase(model, pattern) for pattern in patterns):
            return self.features | {"images"}
        return self.features

    def embeddings(self, model: str) -> Embeddings:
        """A LangChain embeddings model for ``model``; most providers have none."""
        raise ModelNotFoundError(
            f"{self.name}:{model}", f"provider '{self.name}' has no embeddings endpoint"
        )

    async def create_embeddings(
        self, model: str, inputs: list[EmbeddingInput], dimensions: int | None = None
    ) -> EmbeddingBatch:
        """Embed ``inputs`` for the ``/v1/embeddings`` route. This default goes through
        :meth:`embeddings` (texts only, native size, tokens estimated at four characters
        each); providers with an endpoint of their own override it."""
        if dimensions is not None:
            raise InvalidRequestError(
                f"'{self.name}:{model}' does not support 'dimensions'", param="dimensions"
            )
        if not all(isinstance(item, str) for item in inputs):
            raise InvalidRequestError(
                f"'{self.name}:{model}' takes text input, not token arrays", param="input"
            )
        texts = [str(item) for item in inputs]
        vectors = await self.embeddings(model).aembed_documents(texts)
        return EmbeddingBatch(vectors, sum(-(-len(text) // 4) for text in texts))

    def map_error(self, exc: BaseException) -> ProviderError | None:
        """Translate an SDK failure into the error tree (``None``: a bug, not retried)."""
        return map_exception(self.name, exc, self.secrets())

    def secrets(self) -> list[str]:
        """Secrets this provider holds, to redact from error messages."""
        return []

    async def aclose(self) -> None:  # noqa: B027 - optional hook
        """Release pooled clients and other resources."""

    def close(self) -> None:  # noqa: B027 - optional hook
        """Release resources from synchronous code."""


ProviderFactory = Callable[[Settings], Iterable[Provider]]
"""What an ``assistant.providers`` entry point loads."""
