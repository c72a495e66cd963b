"""The provider registry and the model catalog.

:class:`ProviderRegistry` loads every provider from the ``assistant.providers`` entry-point
group (built-ins and plugins alike). A plugin that fails to load is logged and skipped: it
never breaks start-up. :class:`ModelCatalog` turns model refs and chain names into ready chat
models (with retries, breaker and fallbacks) and lists what can be served.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Iterable, Iterator
from importlib.metadata import entry_points

from langchain_core.embeddings import Embeddings
from langchain_core.language_models import BaseChatModel

from assistant.config import Settings
from assistant.errors import ModelNotFoundError, ProviderUnavailableError
from assistant.observe import NULL_OBSERVER, ModelCall, Observer
from assistant.providers.base import (
    ALL_PARAMS,
    FEATURES,
    EmbeddingBatch,
    EmbeddingInput,
    Provider,
    ProviderFactory,
)
from assistant.providers.breaker import CircuitBreaker
from assistant.providers.fallback import FallbackChatModel
from assistant.providers.resilient import ResilientChatModel
from assistant.types import ModelInfo, ModelRef

logger = logging.getLogger(__name__)

ENTRY_POINT_GROUP = "assistant.providers"


class ProviderRegistry:
    """Providers by name, each with its circuit breaker."""

    def __init__(self, providers: Iterable[Provider] = ()) -> None:
        self._providers: dict[str, Provider] = {}
        self._breakers: dict[str, CircuitBreaker] = {}
        self._observer: Observer = NULL_OBSERVER
        for provider in providers:
            self.add(provider)

    @classmethod
    def from_entry_points(
        cls, settings: Settings, group: str = ENTRY_POINT_GROUP
    ) -> ProviderRegistry:
        """Every provider that the installed packages register under ``group``."""
        registry = cls()
        for entry_point in sorted(entry_points(group=group), key=lambda ep: ep.name):
            try:
                factory: ProviderFactory = entry_point.load()
                created = list(factory(settings))
            except Exception as exc:  # a broken plugin must not break start-up
                logger.warning("provider plugin %r failed to load: %s", entry_point.name, exc)
                continue
            for provider in created:
                registry.add(provider)
        return registry

    def add(self, provider: Provider) -> None:
        """Register ``provider`` (replacing one of the same name)."""
        self._providers[provider.name] = provider
        self._breakers[provider.name] = CircuitBreaker(
            provider.name,
            threshold=provider.resilience.breaker_threshold,
            reset_timeout=provider.resilience.breaker_reset,
        )
        self._breakers[provider.name].observer = self._observer

    def observe(self, observer: Observer) -> None:
        """Report every breaker's changes (of providers added later too) to ``observer``."""
        self._observer = observer
        for breaker in self._breakers.values():
            breaker.observer = observer

    def get(self, name: str) -> Provider:
        """The provider called ``name``."""
        try:
            return self._providers[name]
        except KeyError:
            known = ", ".join(sorted(self._providers))
            raise ModelNotFoundError(name, f"no provider '{name}' (known: {known})") from None

    def breaker(self, name: str) -> CircuitBreaker:
        """The circuit breaker of provider ``name``."""
        return self._breakers[name]

    def __iter__(self) -> Iterator[Provider]:
        return iter(self._providers.values())

    def __contains__(self, name: object) -> bool:
        return name in self._providers

    def close(self) -> None:
        """Release every provider's resources."""
        for provider in self:
            provider.close()

    async def aclose(self) -> None:
        """Release every provider's resources (async clients included)."""
        for provider in self:
            await provider.aclose()


class ModelCatalog:
    """Resolves model refs and chain names into chat models, and lists them."""

    def __init__(
        self,
        registry: ProviderRegistry,
        chains: dict[str, list[str]] | None = None,
        observer: Observer = NULL_OBSERVER,
    ) -> None:
        self.registry = registry
        self.chains = dict(chains or {})
        self.observer = observer
        """Given to every model built from now on (calls, fallbacks)."""
        self._models: dict[str, BaseChatModel] = {}

    def list_models(self) -> list[ModelInfo]:
        """Every advertised model of every provider, then every chain."""
        infos: list[ModelInfo] = []
        for provider in self.registry:
            availability = provider.availability()
            for model in provider.list_models():
                infos.append(
                    ModelInfo(
                        id=f"{provider.name}:{model}",
                        provider=provider.name,
                        available=availability.available,
                        reason=availability.reason,
                    )
                )
        for name, refs in self.chains.items():
            reasons = [reason for ref in refs if (reason := self._unavailable_reason(ref))]
            infos.append(
                ModelInfo(
                    id=name,
                    provider="chain",
                    available=len(reasons) < len(refs),
                    reason="; ".join(reasons) if len(reasons) == len(refs) else None,
                    kind="chain",
                    details={"members": refs},
                )
            )
        return infos

    def _unavailable_reason(self, ref: str) -> str | None:
        try:
            parsed = ModelRef.parse(ref)
            availability = self.registry.get(parsed.provider).availability()
        except ModelNotFoundError as exc:
            return str(exc)
        return None if availability.available else f"{ref}: {availability.reason}"

    def chat_model(self, ref: str) -> BaseChatModel:
        """A ready chat model for a ``provider:model`` ref, a chain name, or an inline chain
        ``"a:x -> b:y"`` (cached)."""
        model = self._models.get(ref)
        if model is None:
            if ref in self.chains:
                model = self._build_chain(ref, self.chains[ref])
            elif "->" in ref:
                model = self._build_chain(ref, [part.strip() for part in ref.split("->")])
            else:
                model = self._build_single(ref)
            self._models[ref] = model
        return model

    def features(self, ref: str) -> frozenset[str]:
        """The request features (:data:`~assistant.providers.base.FEATURES`) a ref or chain
        honours: a chain only offers what every available member does."""
        if ref in self.chains or "->" in ref:
            refs = self.chains.get(ref) or [part.strip() for part in ref.split("->")]
            offered = FEATURES
            for member in refs:
                try:
                    provider, model = self._resolve(member)
                except ProviderUnavailableError:
                    continue
                offered = offered & provider.model_features(model)
            return offered
        provider, model = self._resolve(ref)
        return provider.model_features(model)

    def embeddings(self, ref: str) -> Embeddings:
        """An embeddings model for a ``provider:model`` ref (e.g. ``local:smollm2`` or
        ``openai:text-embedding-3-small``), from the provider's own endpoint (cached by it)."""
        provider, model = self._resolve(ref)
        return provider.embeddings(model)

    async def create_embeddings(
        self, ref: str, inputs: list[EmbeddingInput], dimensions: int | None = None
    ) -> EmbeddingBatch:
        """Embed ``inputs`` with the provider serving ``ref`` (``/v1/embeddings``), reported to
        the observer as a model call (so metrics count embeddings beside chat)."""
        provider, model = self._resolve(ref)
        started = time.perf_counter()
        try:
            batch = await provider.create_embeddings(model, inputs, dimensions)
        except BaseException as exc:
            outcome = "cancelled" if isinstance(exc, asyncio.CancelledError) else type(exc).__name__
            self.observer.model_called(
                ModelCall(provider.name, model, outcome, time.perf_counter() - started)
            )
            raise
        self.observer.model_called(
            ModelCall(
                provider.name,
                model,
                "ok",
                time.perf_counter() - started,
                prompt_tokens=batch.prompt_tokens,
            )
        )
        return batch

    def _resolve(self, ref: str) -> tuple[Provider, str]:
        """The available provider serving ``ref``, and the model's name there."""
        parsed = ModelRef.parse(ref)
        if parsed.provider not in self.registry:
            known = ", ".join(sorted(p.name for p in self.registry))
            raise ModelNotFoundError(ref, f"no provider '{parsed.provider}' (known: {known})")
        provider = self.registry.get(parsed.provider)
        availability = provider.availability()
        if not availability.available:
            raise ProviderUnavailableError(provider.name, availability.reason or "not configured")
        if not provider.has_model(parsed.model):
            known = ", ".join(f"{provider.name}:{m}" for m in provider.list_models())
            raise ModelNotFoundError(
                ref, f"{provider.name} has no model '{parsed.model}' (known: {known})"
            )
        return provider, parsed.model

    def _build_single(self, ref: str) -> ResilientChatModel:
        provider, model = self._resolve(ref)
        return ResilientChatModel(
            inner=provider.chat_model(model),
            provider=provider.name,
            model_name=model,
            resilience=provider.resilience,
            breaker=self.registry.breaker(provider.name),
            map_error=provider.map_error,
            drop_params=ALL_PARAMS - provider.supported_params,
            observer=self.observer,
        )

    def _build_chain(self, name: str, refs: list[str]) -> FallbackChatModel:
        members: list[BaseChatModel] = []
        labels: list[str] = []
        for ref in refs:
            try:
                members.append(self._build_single(ref))
            except ProviderUnavailableError as exc:
                logger.info("chain %s skips %s: %s", name, ref, exc.reason)
                continue
            labels.append(ref)
        if not members:
            raise ProviderUnavailableError(name, "no model of the chain is available")
        return FallbackChatModel(
            chain=name, members=list(members), labels=labels, observer=self.observer
        )
