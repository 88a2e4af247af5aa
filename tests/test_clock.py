"""ServerClock: offset to Redis TIME measured from the local instants around the request."""

from __future__ import annotations

import pytest
from sessionwatch.api_hooks.clock import ServerClock


class FakeClock:
    def __init__(self, now: float) -> None:
        self.now = now

    def __call__(self) -> float:
        return self.now


def test_server_clock_unsynced_uses_local_time() -> None:
    clock = ServerClock(FakeClock(1000.0))

    assert not clock.synced
    assert clock.needs_sync()
    assert clock.now() == 1000.0


@pytest.mark.parametrize(("local_skew", "round_trip"), [
    (90.0, 0.0),
    (-90.0, 0.0),
    (90.0, 0.2),
    (-90.0, 0.2),
    (0.0, 0.01),
])
def test_server_clock_offset_cancels_skew(local_skew: float, round_trip: float) -> None:
    server_time = 1_800_000_899.5
    local = FakeClock(server_time + local_skew - round_trip / 2)
    clock = ServerClock(local)
    sent_at = local.now
    received_at = sent_at + round_trip

    clock.observe((int(server_time), 500_000), sent_at, received_at)
    local.now = received_at

    assert clock.offset == pytest.approx(-local_skew)
    assert clock.now() == pytest.approx(server_time + round_trip / 2)


def test_server_clock_boundary_follows_server() -> None:
    boundary = 1_800_000_900.0  # a 15-minute boundary in server time
    local = FakeClock(boundary - 1 + 90)  # local clock 90 s ahead, server 1 s before the boundary
    clock = ServerClock(local)

    clock.observe((int(boundary - 1), 0), local.now, local.now)

    assert clock.now() < boundary
    assert int(clock.now() // 900) == int((boundary - 1) // 900)


def test_server_clock_resyncs_after_interval() -> None:
    local = FakeClock(1000.0)
    clock = ServerClock(local, resync_after=60.0)

    clock.observe((1000, 0), 1000.0, 1000.0)
    assert not clock.needs_sync()
    local.now = 1060.0
    assert not clock.needs_sync()
    local.now = 1060.5
    assert clock.needs_sync()


def test_server_clock_microseconds_count() -> None:
    local = FakeClock(0.0)
    clock = ServerClock(local)

    clock.observe((100, 250_000), 0.0, 0.0)

    assert clock.offset == pytest.approx(100.25)
