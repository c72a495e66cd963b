"""The one error tree of the assistant.

Every failure the library raises on purpose is an :class:`AssistantError`::

    AssistantError
    ├── ConfigError                  invalid settings or config file (CLI exit code 2)
    ├── InvalidRequestError          the caller asked for something impossible (HTTP 400)
    │   └── ContextLengthExceeded    prompt does not fit the model's context window
    ├── ModelNotFoundError           unknown provider, model or chain (HTTP 404)
    ├── ProviderUnavailableError     provider known but not configured, e.g. no key (HTTP 503)
    ├── ProviderError                a call to a provider failed (HTTP 502/503/504)
    │   ├── ProviderHTTPError        upstream answered with an error status
    │   ├── ProviderTimeout          upstream did not answer in time
    │   ├── ProviderConnectionError  upstream could not be reached or hung up
    │   ├── CircuitOpenError         the provider's breaker is open: failing fast
    │   └── AllProvidersFailed       every model of a fallback chain failed
    ├── ToolError                    a tool failed (reported to the model, not raised to users)
    ├── SessionStoreError            the session store (e.g. Redis) cannot be reached
    ├── KnowledgeBaseError           the knowledge base cannot be opened, read or searched
    └── CacheUnavailable             the cache backend is down (always degraded to a miss)

``ProviderError.transient`` tells retries and fallbacks whether trying again can help:
timeouts, connection errors, 429, 5xx and open breakers are transient; other 4xx are not.
Exceptions outside this tree are bugs and are never retried.
"""

from __future__ import annotations

from collections.abc import Sequence


class AssistantError(Exception):
    """Base class of every error the assistant raises on purpose."""

    def __init__(self, message: str) -> None:
        super().__init__(message)
        self.message = message

    def __str__(self) -> str:
        return self.message


class ConfigError(AssistantError):
    """Settings or the config file are invalid. The message names the setting."""


class InvalidRequestError(AssistantError):
    """The request cannot be served as asked (maps to HTTP 400)."""

    def __init__(self, message: str, *, param: str | None = None, code: str | None = None) -> None:
        super().__init__(message)
        self.param = param
        self.code = code


class ContextLengthExceeded(InvalidRequestError):
    """The prompt (plus room for the answer) does not fit the model's context window."""

    def __init__(self, message: str) -> None:
        super().__init__(message, param="messages", code="context_length_exceeded")


class AuthenticationError(AssistantError):
    """No API key, or one the server does not know (maps to HTTP 401)."""


class PermissionDeniedError(AssistantError):
    """The key is valid but may not do this, e.g. an admin route (maps to HTTP 403)."""


class RateLimitExceeded(AssistantError):
    """A key went over its requests or tokens per minute (maps to HTTP 429)."""

    def __init__(self, message: str, retry_after: float) -> None:
        super().__init__(message)
        self.retry_after = retry_after


class PayloadTooLarge(AssistantError):
    """The request body is over the size limit (maps to HTTP 413)."""


class ModelNotFoundError(AssistantError):
    """No provider, model or fallback chain answers to this name (maps to HTTP 404)."""

    def __init__(self, ref: str, reason: str | None = None) -> None:
        message = f"The model '{ref}' does not exist"
        super().__init__(f"{message}: {reason}" if reason else message)
        self.ref = ref


class ProviderUnavailableError(AssistantError):
    """The provider exists but cannot be used, e.g. its API key is not set."""

    def __init__(self, provider: str, reason: str) -> None:
        super().__init__(f"Provider '{provider}' is unavailable: {reason}")
        self.provider = provider
        self.reason = reason


class ProviderError(AssistantError):
    """A call to a provider failed."""

    transient: bool = True
    """Whether retrying or falling back can help."""

    def __init__(self, provider: str, message: str) -> None:
        super().__init__(f"{provider}: {message}")
        self.provider = provider


class ProviderHTTPError(ProviderError):
    """The provider answered with an HTTP error status."""

    def __init__(
        self,
        provider: str,
        status_code: int,
        message: str,
        *,
        retry_after: float | None = None,
    ) -> None:
        super().__init__(provider, f"HTTP {status_code}: {message}")
        self.status_code = status_code
        self.retry_after = retry_after
        self.transient = status_code in (408, 409, 425, 429) or status_code >= 500


class ProviderTimeout(ProviderError):
    """The provider did not answer within its timeout."""


class ProviderConnectionError(ProviderError):
    """The provider could not be reached, or the connection broke."""


class CircuitOpenError(ProviderError):
    """The provider failed repeatedly; its circuit breaker rejects calls for a while."""

    def __init__(self, provider: str, retry_in: float) -> None:
        super().__init__(
            provider, f"circuit breaker open after repeated failures; retry in {retry_in:.1f}s"
        )
        self.retry_in = retry_in


class AllProvidersFailed(ProviderError):
    """Every model of a fallback chain failed; ``failures`` holds each one's error."""

    def __init__(self, chain: str, failures: Sequence[ProviderError]) -> None:
        detail = "; ".join(str(failure) for failure in failures)
        super().__init__(chain, f"all {len(failures)} models failed: {detail}")
        self.failures = list(failures)
        self.transient = all(failure.transient for failure in failures)


class ToolError(AssistantError):
    """A tool failed; the agent reports it to the model as a tool message."""


class SessionStoreError(AssistantError):
    """The session store cannot be reached or answered badly."""


class CacheUnavailable(AssistantError):
    """The cache backend cannot be reached; callers treat it as a miss."""


class KnowledgeBaseError(AssistantError):
    """The knowledge base file cannot be opened or searched (the message names the file)."""
