"""Assistant workbench core: settings, providers, and the composition root.

The public API is ``assistant.__all__``; notebooks, the server and evals use only it.
Names are imported lazily (PEP 562) so ``import assistant`` and ``assistant --help`` stay
fast: LangChain and llama.cpp load only when a model is actually used.
"""

from __future__ import annotations

import importlib
from typing import TYPE_CHECKING, Any

__version__ = "0.1.0"

_EXPORTS: dict[str, str] = {
    # composition root
    "Assistant": "assistant.agent",
    "build_assistant": "assistant.agent",
    # settings
    "Settings": "assistant.config",
    "ProfileSettings": "assistant.config",
    "load_settings": "assistant.config",
    "get_settings": "assistant.config",
    # vocabulary
    "ModelRef": "assistant.types",
    "ModelInfo": "assistant.types",
    "SamplingParams": "assistant.types",
    "Usage": "assistant.types",
    # errors
    "AssistantError": "assistant.errors",
    "ConfigError": "assistant.errors",
    "InvalidRequestError": "assistant.errors",
    "ContextLengthExceeded": "assistant.errors",
    "ModelNotFoundError": "assistant.errors",
    "ProviderUnavailableError": "assistant.errors",
    "ProviderError": "assistant.errors",
    "ProviderHTTPError": "assistant.errors",
    "ProviderTimeout": "assistant.errors",
    "ProviderConnectionError": "assistant.errors",
    "CircuitOpenError": "assistant.errors",
    "AllProvidersFailed": "assistant.errors",
    # provider plugins
    "Provider": "assistant.providers",
    "Availability": "assistant.types",
}

__all__ = [
    "AllProvidersFailed",
    "Assistant",
    "AssistantError",
    "Availability",
    "CircuitOpenError",
    "ConfigError",
    "ContextLengthExceeded",
    "InvalidRequestError",
    "ModelInfo",
    "ModelNotFoundError",
    "ModelRef",
    "ProfileSettings",
    "Provider",
    "ProviderConnectionError",
    "ProviderError",
    "ProviderHTTPError",
    "ProviderTimeout",
    "ProviderUnavailableError",
    "SamplingParams",
    "Settings",
    "Usage",
    "build_assistant",
    "get_settings",
    "load_settings",
]

if TYPE_CHECKING:
    from assistant.agent import Assistant, build_assistant
    from assistant.config import ProfileSettings, Settings, get_settings, load_settings
    from assistant.errors import (
        AllProvidersFailed,
        AssistantError,
        CircuitOpenError,
        ConfigError,
        ContextLengthExceeded,
        InvalidRequestError,
        ModelNotFoundError,
        ProviderConnectionError,
        ProviderError,
        ProviderHTTPError,
        ProviderTimeout,
        ProviderUnavailableError,
    )
    from assistant.providers import Availability, Provider
    from assistant.types import ModelInfo, ModelRef, SamplingParams, Usage


def __getattr__(name: str) -> Any:
    module = _EXPORTS.get(name)
    if module is None:
        raise AttributeError(f"module 'assistant' has no attribute {name!r}")
    value = getattr(importlib.import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *__all__])
