"""Settings of the HTTP API (keys, limits, CORS), its metrics and logging."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import Field, field_validator

from assistant.config.base import Section


class ApiKeySettings(Section):
    """One API key of the server, stored as its SHA-256 hash (`assistant keys new` makes one)."""

    name: str = Field(min_length=1, description="Who holds the key (shown in logs, never the key).")
    sha256: str = Field(
        pattern=r"^[0-9a-f]{64}$", description="Hex SHA-256 of the key; the key itself is not kept."
    )
    models: list[str] | None = Field(
        None, description="Models and profiles the key may use; unset: all of them."
    )
    requests_per_minute: int | None = Field(
        None, ge=1, description="Requests a minute; unset: no limit."
    )
    tokens_per_minute: int | None = Field(
        None, ge=1, description="Prompt plus answer tokens a minute; unset: no limit."
    )


class AuthSettings(Section):
    """Who may call the API. With no key configured, anyone may (keep it on loopback)."""

    keys: list[ApiKeySettings] = Field(
        default_factory=list,
        description='API keys, e.g. `[{name = "alice", sha256 = "..."}]`; any key turns auth on.',
    )
    admin_sha256: str | None = Field(
        None,
        pattern=r"^[0-9a-f]{64}$",
        description="Hex SHA-256 of the admin key (admin routes; all models, no limits).",
    )

    @property
    def enabled(self) -> bool:
        """Whether requests must carry a key."""
        return bool(self.keys) or self.admin_sha256 is not None


class LimitSettings(Section):
    """What one request may ask for; anything larger is refused with a 400 or a 413."""

    max_body_bytes: int = Field(4 * 1024 * 1024, ge=1024, description="Request body size in bytes.")
    max_messages: int = Field(512, ge=1, description="Messages in one request.")
    max_message_chars: int = Field(400_000, ge=1, description="Characters in one message.")
    max_tokens: int = Field(32_768, ge=1, description="Largest `max_tokens` a request may ask.")
    max_tools: int = Field(128, ge=0, description="Tools offered in one request.")
    max_tool_bytes: int = Field(32_768, ge=64, description="Size of one tool's JSON definition.")
    max_embedding_inputs: int = Field(
        2048, ge=1, description="Inputs in one `/v1/embeddings` request (OpenAI's limit)."
    )
    max_embedding_input_tokens: int = Field(
        8192,
        ge=1,
        description="Tokens in one embedding input (a token array's length; text counted as "
        "its UTF-8 bytes / 4, rounded up).",
    )


class TaskSettings(Section):
    """OpenWebUI's background tasks (titles, tags, follow-ups, search queries, autocomplete)."""

    enabled: bool = Field(
        True,
        description="Answer recognised background tasks with `model`, without the agent loop, "
        "tools or retrieval, deterministic and cached.",
    )
    model: str | None = Field(
        None,
        description="Model for background tasks (e.g. `local:smollm2`); empty: the asked "
        "model itself, or an agent profile's model.",
    )
    detect_prompts: bool = Field(
        True,
        description="Recognise tasks by OpenWebUI's default prompt templates too, not only by "
        "the `X-OpenWebUI-Task` header.",
    )


class ServerSettings(Section):
    """The OpenAI-compatible HTTP API."""

    host: str = Field("127.0.0.1", description="Interface to listen on.")
    port: int = Field(8000, ge=1, le=65535, description="TCP port.")
    workers: int = Field(1, ge=1, description="Uvicorn worker processes.")
    auth: AuthSettings = Field(default_factory=AuthSettings)
    limits: LimitSettings = Field(default_factory=LimitSettings)
    tasks: TaskSettings = Field(default_factory=TaskSettings)
    cors_origins: list[str] = Field(
        default_factory=list,
        description='Origins browsers may call the API from, e.g. `["https://chat.example.com"]`.',
    )
    redis_url: str | None = Field(
        None,
        description="Redis for rate limits shared by workers and machines; empty: per process.",
    )


class MetricsSettings(Section):
    """Prometheus metrics, served at `/metrics`."""

    enabled: bool = Field(
        True, description="Count requests, model and tool calls and cache use; serve `/metrics`."
    )


class LogSettings(Section):
    """Logging of the entry points (the library itself never configures logging)."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = Field("INFO", description="Log level.")

    @field_validator("level", mode="before")
    @classmethod
    def _upper(cls, value: Any) -> Any:
        return value.upper() if isinstance(value, str) else value

    json_format: bool = Field(False, description="One JSON object per log line.")
