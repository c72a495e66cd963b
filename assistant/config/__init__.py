"""Settings: one ``Settings`` object, read from init values, ``ASSISTANT_*`` environment
variables, ``.env``, and an optional ``assistant.toml`` (or the file named by
``ASSISTANT_CONFIG``), in that order of precedence.

Nested sections use ``__`` in variable names, e.g. ``ASSISTANT_PROVIDERS__OPENAI__API_KEY``.
API keys are ``SecretStr`` and are never printed. Parts of the assistant receive their own
section; nothing here is built at import time: call :func:`load_settings` (or the cached
:func:`get_settings`) from an entry point.
"""

from __future__ import annotations

import json
import os
import tomllib
from functools import lru_cache
from pathlib import Path
from typing import Any, Literal
from urllib.parse import urlsplit

from dotenv import dotenv_values
from pydantic import Field, ValidationError, field_validator
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    SettingsError,
    TomlConfigSettingsSource,
)

from assistant.config.base import CONFIG_FILE_ENV, DEFAULT_CONFIG_FILE, ENV_PREFIX, Section
from assistant.config.providers import (
    AnthropicSettings,
    CompatibleEndpointSettings,
    LocalModelSettings,
    LocalProviderSettings,
    OllamaSettings,
    OpenAISettings,
    OpenRouterSettings,
    ProvidersSettings,
    RemoteProviderSettings,
    ResilienceSettings,
    TogetherSettings,
)
from assistant.config.server import (
    ApiKeySettings,
    AuthSettings,
    LimitSettings,
    LogSettings,
    MetricsSettings,
    ServerSettings,
    TaskSettings,
)
from assistant.errors import ConfigError


class CalculatorSettings(Section):
    """The built-in `calculator` tool."""

    timeout: float = Field(2.0, gt=0, description="Hard limit in seconds for one evaluation.")


class WebSearchSettings(Section):
    """The built-in `web_search` tool (SearXNG's JSON API)."""

    url: str | None = Field(
        None, description="SearXNG base URL, e.g. `http://127.0.0.1:8888`; empty: tool unavailable."
    )
    max_results: int = Field(5, ge=1, le=20, description="Most results returned to the model.")
    timeout: float = Field(10.0, gt=0, description="Seconds to wait for SearXNG.")


class ToolsSettings(Section):
    """Tools the agent can call."""

    timeout: float = Field(10.0, gt=0, description="Default time limit of one tool call, seconds.")
    extra: list[str] = Field(
        default_factory=list,
        description="More tools by import path, `module:attribute` (a tool, list or factory).",
    )
    calculator: CalculatorSettings = Field(default_factory=CalculatorSettings)
    web_search: WebSearchSettings = Field(default_factory=WebSearchSettings)


DEFAULT_SYSTEM_PROMPT = (
    "You are a helpful assistant. Use a tool when it gives a better answer than you can alone: "
    "the calculator for arithmetic, current_time for dates and times. Answer briefly."
)


class ProfileSettings(Section):
    """An agent profile: a model, a system prompt, tools and limits, served as a model."""

    model: str = Field(
        "local:smollm2",
        description="Model ref, chain name, or inline chain `a:x -> b:y` (falls back in order).",
    )
    description: str = Field("", description="Shown in model lists.")
    system_prompt: str = Field(DEFAULT_SYSTEM_PROMPT, description="The agent's instructions.")
    tools: list[str] | None = Field(
        None, description="Tool names the agent may use; empty list: none; unset: all tools."
    )
    temperature: float | None = Field(None, ge=0, le=2, description="Sampling temperature.")
    max_tokens: int | None = Field(None, ge=1, description="Answer length limit per model call.")
    max_model_calls: int = Field(
        6, ge=1, le=100, description="Model calls per turn before it stops."
    )
    max_tool_calls: int = Field(8, ge=0, le=200, description="Tool calls per turn before it stops.")
    max_tools_offered: int = Field(
        6, ge=1, description="Offer the model at most this many tools, the most relevant first."
    )
    context_tokens: int = Field(
        1536, ge=256, description="Conversation budget in tokens: older turns are trimmed."
    )
    session_ttl: float = Field(3600.0, gt=0, description="Seconds a session is kept after use.")
    retrieval: Literal["tool", "auto", "off"] = Field(
        "tool",
        description="Knowledge base: `tool` (the model may call knowledge_search), `auto` "
        "(search before each answer, sources in the prompt) or `off`.",
    )
    cache: bool = Field(
        True, description="Cache this agent's model calls (when the `cache` section allows)."
    )
    cache_ttl: float | None = Field(
        None,
        gt=0,
        description="Seconds this agent's cached model answers live; unset: `cache.ttl`.",
    )

    def to_toml(self, name: str) -> str:
        """This profile as a ``[profiles.NAME]`` table to paste into ``assistant.toml``.

        Only fields that differ from the defaults are written (JSON string escapes are valid
        TOML basic strings, so any prompt round-trips).
        """
        lines = [f"[profiles.{json.dumps(name)}]", f"model = {json.dumps(self.model)}"]
        for field_name, value in self.model_dump(exclude_defaults=True).items():
            if field_name == "model":
                continue
            if value is None:  # TOML has no null: leaving the key out means the default
                continue
            lines.append(f"{field_name} = {json.dumps(value, ensure_ascii=False)}")
        return "\n".join(lines) + "\n"


class SessionSettings(Section):
    """Where conversations continued by id are kept."""

    path: Path | None = Field(
        None,
        description="Folder of the CLI's `--session` conversations (one JSON file each); "
        "empty: `~/.local/state/assistant/sessions`.",
    )

    def folder(self) -> Path:
        """The sessions folder, defaulting to one under the user's home."""
        return self.path or Path.home() / ".local" / "state" / "assistant" / "sessions"

    redis_url: str | None = Field(None, description="Redis URL; empty: in process memory.")
    max_sessions: int = Field(10_000, ge=1, description="In-memory sessions kept (oldest go).")
    response_ttl: float = Field(
        30 * 86400.0,
        gt=0,
        description="Seconds a stored Responses API conversation can be continued with "
        "`previous_response_id` (OpenAI keeps them 30 days).",
    )


class CacheSettings(Section):
    """The response cache in front of model calls: the API's raw models and every agent's."""

    enabled: bool = Field(True, description="Cache model answers.")
    only_deterministic: bool = Field(
        True,
        description="Cache only requests with temperature 0 or a seed; off: every request.",
    )
    backend: Literal["memory", "redis"] = Field(
        "memory", description="`memory` (this process) or `redis` (shared by workers)."
    )
    redis_url: str | None = Field(None, description="Redis URL of the `redis` backend.")
    ttl: float = Field(3600.0, gt=0, description="Seconds an answer is kept.")
    max_entries: int = Field(10_000, ge=1, description="Entries the memory backend keeps.")
    max_bytes: int = Field(
        256 * 1024 * 1024, ge=1024, description="Bytes the memory backend keeps (stored size)."
    )
    compress_min_bytes: int = Field(
        1024, ge=0, description="Values at least this large are stored zstd-compressed."
    )
    socket_timeout: float = Field(
        0.25, gt=0, description="Seconds a Redis call may take before it counts as a miss."
    )
    retry_after: float = Field(
        2.0, gt=0, description="Seconds the cache is bypassed after a Redis failure."
    )

    @field_validator("redis_url")
    @classmethod
    def _redis_scheme(cls, value: str | None) -> str | None:
        if value and not value.startswith(("redis://", "rediss://", "unix://")):
            raise ValueError("must be a redis://, rediss:// or unix:// URL")
        return value


class KnowledgeSettings(Section):
    """The knowledge base the agent searches (`assistant kb ...`)."""

    path: Path = Field(Path("kb/knowledge.duckdb"), description="The DuckDB file of the store.")
    chunk_size: int = Field(1200, ge=200, le=20_000, description="Longest chunk, in characters.")
    chunk_overlap: int = Field(
        200, ge=0, description="Characters a chunk repeats from the one before (< size / 2)."
    )
    embeddings_model: str | None = Field(
        None, description="Embeddings model ref, e.g. `local:smollm2`; empty: BM25 search only."
    )
    top_k: int = Field(5, ge=1, le=50, description="Chunks a search returns.")
    hybrid: bool = Field(
        True, description="Fuse BM25 and vector rankings (RRF) when there are embeddings."
    )


class PriceSettings(Section):
    """What a model costs, in US dollars per million tokens."""

    input_per_million: float = Field(0.0, ge=0, description="Price of a million prompt tokens.")
    output_per_million: float = Field(0.0, ge=0, description="Price of a million answer tokens.")


def _default_prices() -> dict[str, PriceSettings]:
    prices = {
        "openai:gpt-4o-mini": (0.15, 0.60),
        "openai:gpt-4.1-mini": (0.40, 1.60),
        "anthropic:claude-sonnet-4-5": (3.0, 15.0),
        "anthropic:claude-haiku-4-5": (1.0, 5.0),
        "openrouter:openai/gpt-4o-mini": (0.15, 0.60),
    }
    return {
        ref: PriceSettings(input_per_million=i, output_per_million=o)
        for ref, (i, o) in prices.items()
    }


class EvalSettings(Section):
    """The eval harness: where runs are stored, how hard it pushes providers, what models cost."""

    db: Path = Field(Path("evals/runs.duckdb"), description="The DuckDB file that stores runs.")
    timeout: float = Field(120.0, gt=0, description="Seconds one case may take per target.")
    retries: int = Field(1, ge=0, le=5, description="Reruns of a case after a transient failure.")
    concurrency: dict[str, int] = Field(
        default_factory=lambda: {"local": 1},
        description="Cases in flight per provider, e.g. `{local = 1, openai = 8}`.",
    )
    default_concurrency: int = Field(4, ge=1, description="Cases in flight for other providers.")
    judge_model: str = Field(
        "local:smollm2", description="Model of `llm_judge` and ragas scorers unless they name one."
    )
    embeddings_model: str = Field(
        "local:smollm2",
        description="Embeddings of the `answer_relevancy` ragas metric, e.g. "
        "`openai:text-embedding-3-small`.",
    )
    prices: dict[str, PriceSettings] = Field(
        default_factory=_default_prices,
        description="Prices by model ref, for each case's cost; models not listed cost 0.",
    )


class Settings(BaseSettings):
    """All settings of the assistant."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter="__",
        env_file=".env",
        env_file_encoding="utf-8",
        env_ignore_empty=True,
        # top-level typos are caught by _check_top_level_names: "forbid" here would also
        # reject unrelated variables in a shared .env file
        extra="ignore",
        validate_default=True,
    )

    default_model: str = Field(
        "local:smollm2", description="Model used when a request or command names none."
    )
    chains: dict[str, list[str]] = Field(
        default_factory=dict,
        description=(
            'Fallback chains by name, served as models: `fast = "openrouter:x -> local:smollm2"`.'
        ),
    )
    providers: ProvidersSettings = Field(default_factory=ProvidersSettings)
    tools: ToolsSettings = Field(default_factory=ToolsSettings)
    profiles: dict[str, ProfileSettings] = Field(
        default_factory=lambda: {
            "assistant": ProfileSettings(description="Tool-using agent on the embedded model.")
        },
        description="Agent profiles by name, served as models (`assistant` by default).",
    )
    sessions: SessionSettings = Field(default_factory=SessionSettings)
    cache: CacheSettings = Field(default_factory=CacheSettings)
    evals: EvalSettings = Field(default_factory=EvalSettings)
    kb: KnowledgeSettings = Field(default_factory=KnowledgeSettings)
    server: ServerSettings = Field(default_factory=ServerSettings)
    metrics: MetricsSettings = Field(default_factory=MetricsSettings)
    log: LogSettings = Field(default_factory=LogSettings)

    @field_validator("chains", mode="before")
    @classmethod
    def _split_chain_strings(cls, value: Any) -> Any:
        """Accept ``"a -> b"`` strings as well as lists of refs."""
        if isinstance(value, dict):
            return {
                name: [part.strip() for part in refs.split("->")] if isinstance(refs, str) else refs
                for name, refs in value.items()
            }
        return value

    @field_validator("chains")
    @classmethod
    def _check_chains(cls, value: dict[str, list[str]]) -> dict[str, list[str]]:
        for name, refs in value.items():
            if ":" in name:
                raise ValueError(f"chain name '{name}' must not contain ':'")
            if not refs or any(":" not in ref for ref in refs):
                raise ValueError(f"chain '{name}' must list 'provider:model' refs")
        return value

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        """Init values, then environment, then ``.env``, then the TOML file."""
        sources: list[PydanticBaseSettingsSource] = [init_settings, env_settings, dotenv_settings]
        toml_file = config_file_path()
        if toml_file is not None:
            sources.append(TomlConfigSettingsSource(settings_cls, toml_file=toml_file))
        return tuple(sources)


def config_file_path() -> Path | None:
    """The TOML config file in use: ``$ASSISTANT_CONFIG``, else ``./assistant.toml`` if present."""
    named = os.environ.get(CONFIG_FILE_ENV)
    if named:
        path = Path(named)
        if not path.is_file():
            raise ConfigError(f"{CONFIG_FILE_ENV}: config file '{path}' does not exist")
        return path
    default = Path(DEFAULT_CONFIG_FILE)
    return default if default.is_file() else None


def _env_name(location: tuple[int | str, ...]) -> str:
    return ENV_PREFIX + "__".join(str(part).upper() for part in location)


def _describe(error: ValidationError) -> str:
    """One line naming the first bad setting and its variable; input values are never shown."""
    first = error.errors(include_input=False, include_url=False)[0]
    location = tuple(first["loc"])
    dotted = ".".join(str(part) for part in location) or "settings"
    more = error.error_count() - 1
    suffix = f" (and {more} more)" if more else ""
    return f"invalid setting {dotted} ({_env_name(location)}): {first['msg']}{suffix}"


def _check_top_level_names() -> None:
    """Reject unknown top-level settings in the environment, ``.env`` and the TOML file."""
    known = set(Settings.model_fields)
    env_names = {key for key in os.environ if key.startswith(ENV_PREFIX)}
    env_file = Path(".env")
    if env_file.is_file():
        env_names |= {key for key in dotenv_values(env_file) if key.startswith(ENV_PREFIX)}
    for name in sorted(env_names - {CONFIG_FILE_ENV}):
        field = name[len(ENV_PREFIX) :].split("__", 1)[0].lower()
        if field not in known:
            raise ConfigError(
                f"unknown setting {name}: no setting '{field}' (known: {', '.join(sorted(known))})"
            )
    toml_file = config_file_path()
    if toml_file is not None:
        with toml_file.open("rb") as handle:
            table = tomllib.load(handle)
        for key in table:
            if key not in known:
                raise ConfigError(
                    f"unknown setting '{key}' in {toml_file} (known: {', '.join(sorted(known))})"
                )


def load_settings(**overrides: Any) -> Settings:
    """Read settings from every source; raise :class:`ConfigError` with one clear line."""
    try:
        _check_top_level_names()
        return Settings(**overrides)
    except ValidationError as error:
        raise ConfigError(_describe(error)) from None
    except tomllib.TOMLDecodeError as error:
        raise ConfigError(f"config file is not valid TOML: {error}") from None
    except SettingsError as error:
        # A complex value (list, dict) that is not valid JSON in an environment variable or
        # .env; the message names the field and the source, never the value.
        raise ConfigError(f"invalid setting: {error}") from None


@lru_cache(maxsize=1)
def get_settings() -> Settings:
    """The process-wide settings, loaded on first use (entry points only)."""
    return load_settings()


def secret_values(settings: Settings) -> list[str]:
    """Every secret configured, so logs and errors can redact them."""
    providers = settings.providers
    remotes: list[RemoteProviderSettings] = [
        providers.openai,
        providers.openrouter,
        providers.together,
        providers.ollama,
        providers.anthropic,
        *providers.compatible.values(),
    ]
    keys = [
        remote.api_key.get_secret_value()
        for remote in remotes
        if remote.api_key is not None and remote.api_key.get_secret_value()
    ]
    # passwords inside URLs: redis://:PASSWORD@host, https://user:PASSWORD@searxng
    urls = [
        settings.cache.redis_url,
        settings.server.redis_url,
        settings.sessions.redis_url,
        settings.tools.web_search.url,
        *(remote.base_url for remote in remotes),
    ]
    return keys + [password for url in urls if (password := _url_password(url))]


def _url_password(url: str | None) -> str | None:
    """The password of a URL's ``user:password@`` part, if it has one."""
    if not url or "@" not in url:
        return None
    try:
        return urlsplit(url).password or None
    except ValueError:
        return None


__all__ = [
    "CONFIG_FILE_ENV",
    "DEFAULT_CONFIG_FILE",
    "DEFAULT_SYSTEM_PROMPT",
    "ENV_PREFIX",
    "AnthropicSettings",
    "ApiKeySettings",
    "AuthSettings",
    "CacheSettings",
    "CalculatorSettings",
    "CompatibleEndpointSettings",
    "EvalSettings",
    "KnowledgeSettings",
    "LimitSettings",
    "LocalModelSettings",
    "LocalProviderSettings",
    "LogSettings",
    "MetricsSettings",
    "OllamaSettings",
    "OpenAISettings",
    "OpenRouterSettings",
    "PriceSettings",
    "ProfileSettings",
    "ProvidersSettings",
    "RemoteProviderSettings",
    "ResilienceSettings",
    "Section",
    "ServerSettings",
    "SessionSettings",
    "Settings",
    "TaskSettings",
    "TogetherSettings",
    "ToolsSettings",
    "WebSearchSettings",
    "config_file_path",
    "get_settings",
    "load_settings",
    "secret_values",
]
