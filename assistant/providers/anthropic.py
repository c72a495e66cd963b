"""Anthropic's Messages API through ``langchain-anthropic``.

Anthropic takes no ``seed`` and no presence/frequency penalties: they are dropped rather
than sent. The SDK's retries are off (``max_retries=0``); ours apply.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from langchain_core.language_models import BaseChatModel
from pydantic import SecretStr

from assistant.config import AnthropicSettings, Settings
from assistant.providers.base import Provider
from assistant.types import Availability

KEY_ENV = "ASSISTANT_PROVIDERS__ANTHROPIC__API_KEY"


class AnthropicProvider(Provider):
    """Claude models; one pooled SDK client per model, keys never logged."""

    name = "anthropic"
    supported_params = frozenset({"temperature", "top_p", "max_tokens", "stop"})

    def __init__(self, settings: AnthropicSettings) -> None:
        self.settings = settings
        self.resilience = settings
        self._models: dict[str, BaseChatModel] = {}

    def _key(self) -> str | None:
        key = self.settings.api_key.get_secret_value() if self.settings.api_key else ""
        return key or None

    def availability(self) -> Availability:
        if self._key() is None:
            return Availability(False, f"no API key: set {KEY_ENV}")
        return Availability(True)

    def list_models(self) -> list[str]:
        return list(self.settings.models)

    def secrets(self) -> list[str]:
        key = self._key()
        return [key] if key else []

    def chat_model(self, model: str) -> BaseChatModel:
        if model not in self._models:
            from langchain_anthropic import ChatAnthropic  # heavy: imported on first use

            options: dict[str, Any] = {}
            if self.settings.base_url:
                options["base_url"] = self.settings.base_url
            self._models[model] = ChatAnthropic(
                model_name=model,
                api_key=SecretStr(self._key() or ""),
                timeout=self.settings.timeout,
                max_retries=0,
                stop=None,
                **options,
            )
        return self._models[model]


def create_providers(settings: Settings) -> Iterable[Provider]:
    """Entry point of the built-in ``anthropic`` provider."""
    return [AnthropicProvider(settings.providers.anthropic)]
