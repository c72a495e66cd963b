"""A per-provider circuit breaker.

Closed: calls pass; consecutive transient failures are counted. At ``threshold`` the breaker
opens: calls fail fast with :class:`CircuitOpenError` for ``reset_timeout`` seconds. Then it is
half-open: one trial call passes; its success closes the breaker, its failure re-opens it.

A small state machine of our own rather than pybreaker/aiobreaker: those wrap the call (sync,
or tornado-style async), while here the same breaker must guard a streamed call that only
succeeds at its first token, and report its state to metrics.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable
from enum import StrEnum

from assistant.errors import CircuitOpenError
from assistant.observe import NULL_OBSERVER, Observer


class BreakerState(StrEnum):
    """Where the breaker is."""

    CLOSED = "closed"
    OPEN = "open"
    HALF_OPEN = "half_open"


class CircuitBreaker:
    """Counts consecutive transient failures of one provider and fails fast when it is down."""

    def __init__(
        self,
        name: str,
        *,
        threshold: int = 5,
        reset_timeout: float = 30.0,
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self.name = name
        self.threshold = threshold
        self.reset_timeout = reset_timeout
        self._clock = clock
        self._lock = threading.Lock()
        self._failures = 0
        self._opened_at: float | None = None
        self._trial_in_flight = False
        self.observer: Observer = NULL_OBSERVER
        """Told when the breaker opens or closes (set by the composition root)."""

    @property
    def state(self) -> BreakerState:
        """The current state (time-dependent: an open breaker turns half-open by itself)."""
        with self._lock:
            return self._state_locked()

    def _state_locked(self) -> BreakerState:
        if self._opened_at is None:
            return BreakerState.CLOSED
        if self._clock() - self._opened_at >= self.reset_timeout:
            return BreakerState.HALF_OPEN
        return BreakerState.OPEN

    def before_call(self) -> None:
        """Admit a call or raise :class:`CircuitOpenError`."""
        with self._lock:
            state = self._state_locked()
            if state is BreakerState.CLOSED:
                return
            if state is BreakerState.HALF_OPEN and not self._trial_in_flight:
                self._trial_in_flight = True
                return
            assert self._opened_at is not None  # noqa: S101 - narrowed by state
            retry_in = max(0.0, self.reset_timeout - (self._clock() - self._opened_at))
            raise CircuitOpenError(self.name, retry_in)

    def record_success(self) -> None:
        """A call succeeded: close the breaker."""
        with self._lock:
            was_open = self._opened_at is not None
            self._failures = 0
            self._opened_at = None
            self._trial_in_flight = False
        if was_open:
            self.observer.breaker_changed(self.name, is_open=False)

    def record_failure(self) -> None:
        """A call failed transiently: count it, and open the breaker at the threshold."""
        with self._lock:
            was_open = self._opened_at is not None
            self._failures += 1
            if self._trial_in_flight or self._failures >= self.threshold:
                self._opened_at = self._clock()
            self._trial_in_flight = False
            opened = not was_open and self._opened_at is not None
        if opened:
            self.observer.breaker_changed(self.name, is_open=True)

    def release(self) -> None:
        """A call ended without telling anything about health (e.g. a non-transient error)."""
        with self._lock:
            self._trial_in_flight = False
