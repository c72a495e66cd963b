"""The composition root: :func:`build_assistant` wires settings, providers and models once.

Entry points (server, CLI, notebooks, evals) hold one :class:`Assistant` and ask it for
models by ref or chain name. Later parts (tools, cache, metrics, agent profiles) are
composed here too, so the parts below never import each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field

from langchain_core.language_models import BaseChatModel

from assistant.config import Settings, secret_values
from assistant.providers import LocalProvider, ModelCatalog, ProviderRegistry
from assistant.tools import ToolRegistry
from assistant.types import ModelInfo


@dataclass
class Assistant:
    """Everything an entry point needs, built once per process."""

    settings: Settings
    registry: ProviderRegistry
    catalog: ModelCatalog
    tools: ToolRegistry = field(default_factory=ToolRegistry)

    def list_models(self) -> list[ModelInfo]:
        """Every model and chain, with availability and the setting that enables it."""
        return self.catalog.list_models()

    def chat_model(self, ref: str | None = None) -> BaseChatModel:
        """A ready chat model for a ref or chain name (the default model if empty)."""
        return self.catalog.chat_model(ref or self.settings.default_model)

    def secrets(self) -> list[str]:
        """Every configured secret, for redaction."""
        return secret_values(self.settings)

    def start_loading_local_models(self) -> None:
        """Load the embedded models in the background, so the first answer is quick."""
        if "local" in self.registry:
            provider = self.registry.get("local")
            if isinstance(provider, LocalProvider) and provider.availability().available:
                for engine in provider.engines.values():
                    engine.start_loading()

    def local_model_status(self) -> dict[str, dict[str, bool | int]]:
        """Load state and queue depth of each embedded model."""
        if "local" not in self.registry:
            return {}
        provider = self.registry.get("local")
        if not isinstance(provider, LocalProvider):
            return {}
        return {
            name: {"loaded": engine.loaded, "queue_depth": engine.queue_depth}
            for name, engine in provider.engines.items()
        }

    def close(self) -> None:
        """Release providers' resources (sync)."""
        self.registry.close()

    async def aclose(self) -> None:
        """Release providers' resources."""
        await self.registry.aclose()


def build_assistant(settings: Settings) -> Assistant:
    """Wire the providers found through entry points and the configured chains."""
    registry = ProviderRegistry.from_entry_points(settings)
    catalog = ModelCatalog(registry, settings.chains)
    tools = ToolRegistry.from_settings(settings)
    return Assistant(settings=settings, registry=registry, catalog=catalog, tools=tools)


__all__ = ["Assistant", "build_assistant"]
