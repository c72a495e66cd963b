"""The circuit breaker's state machine, driven by an injected clock."""

from __future__ import annotations

import threading

import pytest

from assistant.errors import CircuitOpenError, ProviderError
from assistant.providers.breaker import BreakerState, CircuitBreaker


class FakeClock:
    """A monotonic clock that moves only when told to."""

    def __init__(self, now: float = 1000.0) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now

    def advance(self, seconds: float) -> None:
        self.now += seconds


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


@pytest.fixture
def breaker(clock: FakeClock) -> CircuitBreaker:
    return CircuitBreaker("upstream", threshold=3, reset_timeout=30.0, clock=clock)


def fail_times(breaker: CircuitBreaker, count: int) -> None:
    for _ in range(count):
        breaker.before_call()
        breaker.record_failure()


def open_breaker(breaker: CircuitBreaker) -> None:
    fail_times(breaker, breaker.threshold)
    assert breaker.state is BreakerState.OPEN


def test_starts_closed_and_admits_calls(breaker: CircuitBreaker) -> None:
    assert breaker.state is BreakerState.CLOSED
    for _ in range(10):
        breaker.before_call()
        breaker.record_success()
    assert breaker.state is BreakerState.CLOSED


def test_stays_closed_below_threshold(breaker: CircuitBreaker) -> None:
    fail_times(breaker, 2)
    assert breaker.state is BreakerState.CLOSED
    breaker.before_call()  # still admitted


def test_opens_at_threshold(breaker: CircuitBreaker) -> None:
    fail_times(breaker, 3)
    assert breaker.state is BreakerState.OPEN


def test_only_consecutive_failures_count(breaker: CircuitBreaker) -> None:
    fail_times(breaker, 2)
    breaker.before_call()
    breaker.record_success()
    fail_times(breaker, 2)
    assert breaker.state is BreakerState.CLOSED
    fail_times(breaker, 1)
    assert breaker.state is BreakerState.OPEN


def test_release_does_not_count_or_reset(breaker: CircuitBreaker) -> None:
    """A non-transient error says nothing about health: no failure, no success."""
    fail_times(breaker, 2)
    for _ in range(5):
        breaker.before_call()
        breaker.release()
    assert breaker.state is BreakerState.CLOSED
    fail_times(breaker, 1)  # the two earlier failures still count
    assert breaker.state is BreakerState.OPEN


def test_open_breaker_fails_fast_with_retry_in(breaker: CircuitBreaker, clock: FakeClock) -> None:
    open_breaker(breaker)
    clock.advance(10)

    with pytest.raises(CircuitOpenError) as caught:
        breaker.before_call()

    error = caught.value
    assert isinstance(error, ProviderError)
    assert error.transient
    assert error.provider == "upstream"
    assert error.retry_in == pytest.approx(20.0)
    assert "retry in 20.0s" in str(error)


def test_retry_in_counts_down(breaker: CircuitBreaker, clock: FakeClock) -> None:
    open_breaker(breaker)
    seen = []
    for _ in range(3):
        clock.advance(7)
        with pytest.raises(CircuitOpenError) as caught:
            breaker.before_call()
        seen.append(caught.value.retry_in)
    assert seen == pytest.approx([23.0, 16.0, 9.0])


def test_half_open_after_reset_timeout(breaker: CircuitBreaker, clock: FakeClock) -> None:
    open_breaker(breaker)
    clock.advance(29.5)
    assert breaker.state is BreakerState.OPEN
    clock.advance(0.5)
    assert breaker.state is BreakerState.HALF_OPEN


def test_half_open_admits_exactly_one_trial(breaker: CircuitBreaker, clock: FakeClock) -> None:
    open_breaker(breaker)
    clock.advance(30)

    breaker.before_call()  # the trial
    for _ in range(3):
        with pytest.raises(CircuitOpenError) as caught:
            breaker.before_call()
        assert caught.value.retry_in == 0.0


def test_trial_success_closes(breaker: CircuitBreaker, clock: FakeClock) -> None:
    open_breaker(breaker)
    clock.advance(30)
    breaker.before_call()

    breaker.record_success()

    assert breaker.state is BreakerState.CLOSED
    for _ in range(5):
        breaker.before_call()
    # Counting starts again from zero.
    fail_times(breaker, 2)
    assert breaker.state is BreakerState.CLOSED


def test_trial_failure_reopens_for_a_full_reset(breaker: CircuitBreaker, clock: FakeClock) -> None:
    open_breaker(breaker)
    clock.advance(45)
    breaker.before_call()

    breaker.record_failure()

    assert breaker.state is BreakerState.OPEN
    with pytest.raises(CircuitOpenError) as caught:
        breaker.before_call()
    assert caught.value.retry_in == pytest.approx(30.0)  # measured from the trial's failure
    clock.advance(30)
    assert breaker.state is BreakerState.HALF_OPEN
    breaker.before_call()  # a new trial


def test_trial_failure_reopens_even_with_threshold_above_one(clock: FakeClock) -> None:
    breaker = CircuitBreaker("up", threshold=5, reset_timeout=1.0, clock=clock)
    fail_times(breaker, 5)
    clock.advance(1)
    breaker.before_call()
    breaker.record_failure()
    assert breaker.state is BreakerState.OPEN


def test_release_frees_the_trial(breaker: CircuitBreaker, clock: FakeClock) -> None:
    open_breaker(breaker)
    clock.advance(30)
    breaker.before_call()
    with pytest.raises(CircuitOpenError):
        breaker.before_call()

    breaker.release()  # the trial ended without a verdict (e.g. a 400, or cancelled)

    assert breaker.state is BreakerState.HALF_OPEN
    breaker.before_call()  # another trial is admitted
    with pytest.raises(CircuitOpenError):
        breaker.before_call()


def test_threshold_one_opens_on_first_failure(clock: FakeClock) -> None:
    breaker = CircuitBreaker("up", threshold=1, reset_timeout=5.0, clock=clock)
    fail_times(breaker, 1)
    with pytest.raises(CircuitOpenError):
        breaker.before_call()


def test_concurrent_half_open_admits_one(breaker: CircuitBreaker, clock: FakeClock) -> None:
    """Threads racing for the trial: exactly one is admitted."""
    open_breaker(breaker)
    clock.advance(30)
    workers = 16
    barrier = threading.Barrier(workers)
    admitted: list[int] = []
    rejected: list[int] = []
    lock = threading.Lock()

    def attempt(index: int) -> None:
        barrier.wait(timeout=5)
        try:
            breaker.before_call()
        except CircuitOpenError:
            with lock:
                rejected.append(index)
        else:
            with lock:
                admitted.append(index)

    threads = [threading.Thread(target=attempt, args=(i,)) for i in range(workers)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=5)

    assert not any(thread.is_alive() for thread in threads)
    assert len(admitted) == 1
    assert len(rejected) == workers - 1
