"""Window parsing and the buckets each window reads."""

from __future__ import annotations

import pytest
from sessionwatch.exporter.windows import (
    WINDOW_NAMES,
    InvalidWindowError,
    parse_window,
)


@pytest.mark.parametrize(("name", "step", "count"), [
    ("5m", 60, 5),
    ("15m", 60, 15),
    ("1h", 60, 60),
    ("24h", 3600, 24),
    ("7d", 3600, 168),
])
def test_parse_window_known_names(name: str, step: int, count: int) -> None:
    window = parse_window(name)

    assert window.name == name
    assert window.step == step
    assert window.count == count


@pytest.mark.parametrize("name", ["3m", "", "15M", "1d", "15m ", "x" * 1000])
def test_parse_window_rejects_unknown_names(name: str) -> None:
    with pytest.raises(InvalidWindowError) as caught:
        parse_window(name)

    message = str(caught.value)
    assert message.startswith("invalid window ")
    assert message.endswith("use one of 5m, 15m, 1h, 24h, 7d")
    assert len(message) < 100


def test_window_names_in_order() -> None:
    assert WINDOW_NAMES == ("5m", "15m", "1h", "24h", "7d")


def test_window_buckets_end_with_current_bucket() -> None:
    now = 1_800_000_930.5  # 30.5 s into minute 30_000_015
    window = parse_window("15m")

    buckets = window.bucket_numbers(now)

    assert buckets == list(range(30_000_001, 30_000_016))
    assert window.start(now) == 30_000_001 * 60


def test_window_hour_buckets_on_boundary() -> None:
    now = 500_000 * 3600.0  # exactly the start of hour 500_000
    window = parse_window("24h")

    buckets = window.bucket_numbers(now)

    assert buckets[-1] == 500_000
    assert buckets[0] == 500_000 - 23
    assert len(buckets) == 24
