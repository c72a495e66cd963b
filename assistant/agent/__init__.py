"""The composition root: :func:`build_assistant` wires settings, providers, tools and agents.

Entry points (server, CLI, notebooks, evals) hold one :class:`Assistant` and ask it for
models by ref or chain name, for tools, and for agents by profile name. Later parts (cache,
metrics) are composed here too, so the parts below never import each other.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import Any

from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseChatModel

from assistant.agent.middleware import CachePolicy, RunContext
from assistant.agent.runner import Agent, AgentEvent, AgentResult
from assistant.agent.sessions import MemorySessionStore, SessionStore, session_store
from assistant.cache import ResponseCache, response_cache
from assistant.config import Settings, secret_values
from assistant.errors import AssistantError, ModelNotFoundError
from assistant.knowledge import TOOL_NAME, KnowledgeBase, knowledge_search_tool
from assistant.metrics import Metrics
from assistant.observe import NULL_OBSERVER
from assistant.providers import EmbeddingBatch, LocalProvider, ModelCatalog, ProviderRegistry
from assistant.tools import ToolRegistry
from assistant.types import ModelInfo


@dataclass
class Assistant:
    """Everything an entry point needs, built once per process."""

    settings: Settings
    registry: ProviderRegistry
    catalog: ModelCatalog
    tools: ToolRegistry = field(default_factory=ToolRegistry)
    sessions: SessionStore = field(default_factory=MemorySessionStore)
    cache: ResponseCache | None = None
    """The response cache (``None`` when ``cache.enabled`` is off)."""
    knowledge: KnowledgeBase | None = None
    """The knowledge base (``kb`` settings) behind ``knowledge_search`` and auto retrieval."""
    metrics: Metrics | None = None
    """The Prometheus instruments (``None`` when ``metrics.enabled`` is off)."""
    _agents: dict[str, Agent] = field(default_factory=dict, repr=False)

    def list_models(self) -> list[ModelInfo]:
        """Agent profiles, then every model and chain, with availability and why not."""
        return [*self.list_profiles(), *self.catalog.list_models()]

    def list_profiles(self) -> list[ModelInfo]:
        """Every agent profile, served as a model."""
        infos = []
        for name, profile in self.settings.profiles.items():
            reason = None
            try:
                self.catalog.chat_model(profile.model)
            except AssistantError as exc:
                reason = str(exc)
            infos.append(
                ModelInfo(
                    id=name,
                    provider="agent",
                    available=reason is None,
                    reason=reason,
                    kind="agent",
                    details={
                        "model": profile.model,
                        "tools": profile.tools,
                        "description": profile.description,
                    },
                )
            )
        return infos

    def is_agent(self, name: str) -> bool:
        """Whether ``name`` is an agent profile (rather than a model ref or chain)."""
        return name in self.settings.profiles

    def agent(self, name: str = "assistant", **overrides: Any) -> Agent:
        """The agent of profile ``name``, built on first use.

        ``overrides`` change profile fields for this agent only, e.g.
        ``agent("assistant", system_prompt="Be terse.", tools=["calculator"])``: such a
        variant is built anew each time (notebooks try many) and never cached.
        """
        if name in self._agents and not overrides:
            return self._agents[name]
        profile = self.settings.profiles.get(name)
        if profile is None:
            known = ", ".join(self.settings.profiles) or "none"
            raise ModelNotFoundError(name, f"no agent profile '{name}' (known: {known})")
        if overrides:
            profile = profile.model_validate({**profile.model_dump(), **overrides})
        model = self.catalog.chat_model(profile.model)
        tools = self.tools.select(profile.tools)
        middleware: list[Any] = []
        if profile.retrieval == "off":
            tools = [tool for tool in tools if tool.name != TOOL_NAME]
        elif profile.retrieval == "auto" and self.knowledge is not None:
            from assistant.agent.retrieval import AutoRetrievalMiddleware

            # half the context budget (about 4 characters a token) for the passages
            middleware.append(
                AutoRetrievalMiddleware(self.knowledge, max_chars=profile.context_tokens * 2)
            )
        agent = Agent(
            name,
            profile,
            model,
            tools,
            self.sessions,
            middleware,
            cache=self.cache,
            observer=self.metrics or NULL_OBSERVER,
        )
        if not overrides:
            self._agents[name] = agent
        return agent

    def chat_model(self, ref: str | None = None) -> BaseChatModel:
        """A ready chat model for a ref or chain name (the default model if empty)."""
        return self.catalog.chat_model(ref or self.settings.default_model)

    def model_features(self, ref: str | None = None) -> frozenset[str]:
        """Request features (``response_format``, ``logprobs``) a ref or chain honours."""
        return self.catalog.features(ref or self.settings.default_model)

    def embeddings(self, ref: str | None = None) -> Embeddings:
        """An embeddings model for a ``provider:model`` ref (default: the
        ``evals.embeddings_model`` setting)."""
        return self.catalog.embeddings(ref or self.settings.evals.embeddings_model)

    async def create_embeddings(
        self, ref: str, inputs: list[str | list[int]], dimensions: int | None = None
    ) -> EmbeddingBatch:
        """Vectors for texts or token arrays, and the tokens they took (the API's
        ``/v1/embeddings``)."""
        return await self.catalog.create_embeddings(ref, inputs, dimensions)

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
        """Release providers' and the session store's resources."""
        await self.registry.aclose()
        closer = getattr(self.sessions, "aclose", None)
        if closer is not None:
            await closer()
        if self.cache is not None:
            await self.cache.aclose()


def build_assistant(
    settings: Settings,
    *,
    registry: ProviderRegistry | None = None,
    tools: ToolRegistry | None = None,
    sessions: SessionStore | None = None,
) -> Assistant:
    """Wire providers, chains, tools, sessions, the cache and metrics as ``settings`` say.

    Providers and tools come from entry points, and sessions from the settings, unless given
    (tests and notebooks pass their own).
    """
    registry = registry if registry is not None else ProviderRegistry.from_entry_points(settings)
    metrics = Metrics() if settings.metrics.enabled else None
    catalog = ModelCatalog(registry, settings.chains, observer=metrics or NULL_OBSERVER)
    from_settings = tools is None
    tools = tools if tools is not None else ToolRegistry.from_settings(settings)
    if sessions is None:
        sessions = session_store(settings.sessions.redis_url, settings.sessions.max_sessions)
    cache = response_cache(settings.cache) if settings.cache.enabled else None
    knowledge = KnowledgeBase(settings.kb, embeddings=catalog.embeddings)
    if from_settings:  # given tools are the caller's exact set
        tools.add(knowledge_search_tool(knowledge, timeout=max(settings.tools.timeout, 30.0)))
    if metrics is not None:
        _observe(metrics, registry, cache)
    return Assistant(
        settings=settings,
        registry=registry,
        catalog=catalog,
        tools=tools,
        sessions=sessions,
        cache=cache,
        knowledge=knowledge,
        metrics=metrics,
    )


def _observe(metrics: Metrics, registry: ProviderRegistry, cache: ResponseCache | None) -> None:
    """Give every part the metrics as its observer, and start the gauges of what exists."""
    registry.observe(metrics)
    for provider in registry:
        metrics.known_provider(provider.name)
        if isinstance(provider, LocalProvider):
            for engine in provider.engines.values():
                engine.observer = metrics
                metrics.known_local_model(engine.name)
    if cache is not None:
        cache.observer = metrics
        metrics.known_cache(cache.backend.name)


__all__ = [
    "Agent",
    "AgentEvent",
    "AgentResult",
    "Assistant",
    "CachePolicy",
    "RunContext",
    "build_assistant",
]
