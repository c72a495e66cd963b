"""OpenAI and every API that speaks its wire format: OpenRouter, Together AI, Ollama, and
named ``compatible`` endpoints (vLLM, llama.cpp server, LM Studio, a gateway...).

Each provider keeps one pooled httpx client pair (sync and async) shared by all its models,
and switches the SDK's own retries off: :class:`~assistant.providers.resilient.ResilientChatModel`
does the retrying, so attempts do not multiply.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

import httpx
from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseChatModel
from pydantic import SecretStr

from assistant.config import RemoteProviderSettings, Settings
from assistant.providers.base import EmbeddingBatch, EmbeddingInput, Provider
from assistant.types import Availability

_LIMITS = httpx.Limits(max_connections=100, max_keepalive_connections=20)


class OpenAICompatibleProvider(Provider):
    """A provider reached through ``langchain-openai``'s ``ChatOpenAI``."""

    features = frozenset({"response_format", "logprobs"})
    requires_key = True
    key_env = ""
    """The variable that sets the key, named when the key is missing."""
    placeholder_key = "not-needed"
    """Sent when no key is required (the SDK insists on one)."""

    def __init__(
        self,
        name: str,
        settings: RemoteProviderSettings,
        *,
        key_env: str,
        requires_key: bool = True,
    ) -> None:
        self.name = name
        self.settings = settings
        self.resilience = settings
        self.key_env = key_env
        self.requires_key = requires_key
        self._sync_client: httpx.Client | None = None
        self._async_client: httpx.AsyncClient | None = None
        self._models: dict[str, BaseChatModel] = {}
        self._embeddings: dict[str, Embeddings] = {}

    def _key(self) -> str | None:
        key = self.settings.api_key.get_secret_value() if self.settings.api_key else ""
        return key or None

    def availability(self) -> Availability:
        if self.requires_key and self._key() is None:
            return Availability(False, f"no API key: set {self.key_env}")
        return Availability(True)

    def list_models(self) -> list[str]:
        return list(self.settings.models)

    def secrets(self) -> list[str]:
        key = self._key()
        return [key] if key else []

    def _timeout(self) -> httpx.Timeout:
        return httpx.Timeout(self.settings.timeout, connect=min(10.0, self.settings.timeout))

    def _clients(self) -> tuple[httpx.Client, httpx.AsyncClient]:
        if self._sync_client is None or self._async_client is None:
            self._sync_client = httpx.Client(timeout=self._timeout(), limits=_LIMITS)
            self._async_client = httpx.AsyncClient(timeout=self._timeout(), limits=_LIMITS)
        return self._sync_client, self._async_client

    def chat_model(self, model: str) -> BaseChatModel:
        if model not in self._models:
            from assistant.providers.openai_chat import GatewayChatOpenAI  # heavy: on first use

            sync_client, async_client = self._clients()
            self._models[model] = GatewayChatOpenAI(
                model=model,
                api_key=SecretStr(self._key() or self.placeholder_key),
                base_url=self.settings.base_url,
                timeout=self._timeout(),
                max_retries=0,
                http_client=sync_client,
                http_async_client=async_client,
                stream_usage=True,
            )
        return self._models[model]

    def embeddings(self, model: str) -> Embeddings:
        if model not in self._embeddings:
            from langchain_openai import OpenAIEmbeddings  # heavy: imported on first use

            sync_client, async_client = self._clients()
            self._embeddings[model] = OpenAIEmbeddings(
                model=model,
                openai_api_key=SecretStr(self._key() or self.placeholder_key),
                openai_api_base=self.settings.base_url,
                request_timeout=self._timeout(),
                max_retries=self.settings.max_retries,
                http_client=sync_client,
                http_async_client=async_client,
                # The length check tokenizes with tiktoken, which downloads its tables and
                # knows only OpenAI's models; servers truncate or refuse long input themselves.
                check_embedding_ctx_length=False,
            )
        return self._embeddings[model]

    async def create_embeddings(
        self, model: str, inputs: list[EmbeddingInput], dimensions: int | None = None
    ) -> EmbeddingBatch:
        """Passed through to the upstream's ``/embeddings`` (token arrays and ``dimensions``
        included), on the pooled client; the upstream's usage is reported."""
        client = getattr(self.embeddings(model), "async_client", None)
        if client is None:  # pragma: no cover - OpenAIEmbeddings always has one
            return await super().create_embeddings(model, inputs, dimensions)
        options: dict[str, Any] = {"dimensions": dimensions} if dimensions is not None else {}
        try:
            response = await client.create(input=inputs, model=model, **options)
        except Exception as exc:
            mapped = self.map_error(exc)
            if mapped is None:
                raise
            raise mapped from exc
        ordered = sorted(response.data, key=lambda item: item.index)
        usage = getattr(response, "usage", None)
        tokens = int(getattr(usage, "prompt_tokens", 0) or 0)
        return EmbeddingBatch([list(item.embedding) for item in ordered], tokens)

    def close(self) -> None:
        if self._sync_client is not None:
            self._sync_client.close()
        self._sync_client = None
        self._models.clear()
        self._embeddings.clear()

    async def aclose(self) -> None:
        if self._async_client is not None:
            await self._async_client.aclose()
        self._async_client = None
        self.close()


def _env(name: str) -> str:
    return f"ASSISTANT_PROVIDERS__{name.upper()}__API_KEY"


def openai_providers(settings: Settings) -> Iterable[Provider]:
    """Entry point of the built-in ``openai`` provider."""
    return [OpenAICompatibleProvider("openai", settings.providers.openai, key_env=_env("openai"))]


def openrouter_providers(settings: Settings) -> Iterable[Provider]:
    """Entry point of the built-in ``openrouter`` provider."""
    return [
        OpenAICompatibleProvider(
            "openrouter", settings.providers.openrouter, key_env=_env("openrouter")
        )
    ]


def together_providers(settings: Settings) -> Iterable[Provider]:
    """Entry point of the built-in ``together`` provider."""
    return [
        OpenAICompatibleProvider("together", settings.providers.together, key_env=_env("together"))
    ]


class OllamaProvider(OpenAICompatibleProvider):
    """Ollama's OpenAI-compatible endpoint: no key, but off until enabled."""

    def availability(self) -> Availability:
        enabled = getattr(self.settings, "enabled", False)
        if not enabled:
            return Availability(
                False,
                "not enabled: set ASSISTANT_PROVIDERS__OLLAMA__ENABLED=true"
                f" (server at {self.settings.base_url})",
            )
        return Availability(True)


def ollama_providers(settings: Settings) -> Iterable[Provider]:
    """Entry point of the built-in ``ollama`` provider."""
    return [
        OllamaProvider(
            "ollama", settings.providers.ollama, key_env=_env("ollama"), requires_key=False
        )
    ]


def compatible_providers(settings: Settings) -> Iterable[Provider]:
    """Entry point of named OpenAI-compatible endpoints: one provider per name."""
    return [
        OpenAICompatibleProvider(
            name,
            endpoint,
            key_env=f"ASSISTANT_PROVIDERS__COMPATIBLE__{name.upper()}__API_KEY",
            requires_key=False,
        )
        for name, endpoint in settings.providers.compatible.items()
    ]
