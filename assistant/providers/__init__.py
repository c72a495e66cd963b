"""The provider layer: ``provider:model`` refs to LangChain chat models, with retries,
circuit breakers and fallback chains. See :mod:`assistant.providers.base` for plugins."""

from assistant.providers.base import EmbeddingBatch, EmbeddingInput, Provider, ProviderFactory
from assistant.providers.breaker import BreakerState, CircuitBreaker
from assistant.providers.fallback import FallbackChatModel
from assistant.providers.local import ChatLocalLlama, LocalProvider
from assistant.providers.registry import ModelCatalog, ProviderRegistry
from assistant.providers.resilient import ResilientChatModel, open_stream
from assistant.types import Availability

__all__ = [
    "Availability",
    "BreakerState",
    "ChatLocalLlama",
    "CircuitBreaker",
    "EmbeddingBatch",
    "EmbeddingInput",
    "FallbackChatModel",
    "LocalProvider",
    "ModelCatalog",
    "Provider",
    "ProviderFactory",
    "ProviderRegistry",
    "ResilientChatModel",
    "open_stream",
]
