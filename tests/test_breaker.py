"""Circuit breaker state machine, driven by an injected clock."""

from __future__ import annotations

import pytest
from sessionwatch.api_hooks.breaker import CircuitBreaker


class FakeClock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture
def clock() -> FakeClock:
    return FakeClock()


def test_breaker_closed_allows_every_call(clock: FakeClock) -> None:
    breaker = CircuitBreaker(1.0, 8.0, clock)

    assert all(breaker.allow() for _ in range(100))
    assert not breaker.is_open


def test_breaker_opens_after_failure(clock: FakeClock) -> None:
    breaker = CircuitBreaker(1.0, 8.0, clock)

    assert breaker.record_failure() is True

    assert breaker.is_open
    assert not breaker.allow()
    clock.now += 0.999
    assert not breaker.allow()


def test_breaker_lets_one_probe_per_cooldown(clock: FakeClock) -> None:
    breaker = CircuitBreaker(1.0, 8.0, clock)
    breaker.record_failure()
    clock.now += 1.0

    allowed = [breaker.allow() for _ in range(50)]

    assert allowed.count(True) == 1
    assert allowed[0] is True


def test_breaker_failed_probes_double_cooldown_to_max(clock: FakeClock) -> None:
    breaker = CircuitBreaker(1.0, 8.0, clock)
    breaker.record_failure()
    waits = []
    for _ in range(6):
        waited = 0.0
        while not breaker.allow():
            clock.now += 0.5
            waited += 0.5
        waits.append(waited)
        assert breaker.record_failure() is False

    assert waits == [1.0, 2.0, 4.0, 8.0, 8.0, 8.0]


def test_breaker_success_closes_and_resets_cooldown(clock: FakeClock) -> None:
    breaker = CircuitBreaker(1.0, 8.0, clock)
    breaker.record_failure()
    clock.now += 1.0
    assert breaker.allow()
    breaker.record_failure()
    clock.now += 2.0
    assert breaker.allow()

    assert breaker.record_success() is True

    assert not breaker.is_open
    assert breaker.allow()
    assert breaker.record_success() is False
    breaker.record_failure()
    clock.now += 1.0
    assert breaker.allow()


def test_breaker_concurrent_failures_keep_base_cooldown(clock: FakeClock) -> None:
    """Calls in flight when Redis fails all report failure; that is one outage, not ten probes."""
    breaker = CircuitBreaker(1.0, 30.0, clock)
    assert all(breaker.allow() for _ in range(10))

    outcomes = [breaker.record_failure() for _ in range(10)]

    assert outcomes == [True] + [False] * 9
    clock.now += 1.0
    assert breaker.allow()


@pytest.mark.parametrize(("cooldown", "max_cooldown"), [(0, 1), (-1, 1), (2, 1)])
def test_breaker_rejects_invalid_cooldowns(cooldown: float, max_cooldown: float) -> None:
    with pytest.raises(ValueError, match="cooldown"):
        CircuitBreaker(cooldown, max_cooldown)
