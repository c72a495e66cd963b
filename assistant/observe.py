"""What the parts report as they work, for whoever watches (metrics): the :class:`Observer` hooks.

Providers, the cache and the local engine must not import the metrics package (they are
independent parts), so each holds an ``observer`` and calls these hooks; the composition root
(``assistant.agent``) gives them the real one. The base class does nothing, so a part works
unobserved, and an observer overrides only the hooks it needs.

Hooks are called on hot paths (every model call, every cache lookup): they must be quick and
must never raise.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

CacheResult = Literal["hit", "miss", "error"]
"""A cache lookup's result: ``error`` is a backend failure (also served as a miss)."""


@dataclass(frozen=True, slots=True)
class ModelCall:
    """One call to one provider's model, retries included, as its caller saw it."""

    provider: str
    model: str
    outcome: str
    """``ok``, ``cancelled``, or the error's class name (e.g. ``ProviderTimeout``)."""
    seconds: float
    first_token_s: float | None = None
    """Seconds to the first streamed token (``None`` for whole answers)."""
    prompt_tokens: int = 0
    completion_tokens: int = 0


class Observer:
    """Hooks called by the parts; every hook does nothing here."""

    def model_called(self, call: ModelCall) -> None:
        """A provider's model call ended (answered, failed or was cancelled)."""

    def fell_back(self, chain: str, failed: str) -> None:
        """Chain ``chain`` gave up on member ``failed`` (a ref) and tries the next one."""

    def breaker_changed(self, provider: str, is_open: bool) -> None:
        """Provider ``provider``'s circuit breaker opened or closed."""

    def cache_looked_up(self, backend: str, result: CacheResult) -> None:
        """The response cache answered a lookup."""

    def cache_availability(self, backend: str, available: bool) -> None:
        """The cache backend failed (``False``) or answers again (``True``)."""

    def queue_changed(self, model: str, depth: int) -> None:
        """The embedded model ``model`` has ``depth`` jobs waiting or running."""

    def tool_called(self, tool: str, outcome: str, seconds: float) -> None:
        """A tool ran (``outcome``: ``ok`` or ``error``)."""

    def eval_case_scored(self, outcome: str) -> None:
        """An eval case finished (``passed``, ``failed`` or ``error``)."""


NULL_OBSERVER = Observer()
"""The observer of parts nobody watches."""
