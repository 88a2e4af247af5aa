"""Medians, percentiles and interleaved rounds, the arithmetic every benchmark shares."""

from __future__ import annotations

import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field


def median(values: Sequence[float]) -> float:
    return float(statistics.median(values))


def percentile(values: Sequence[float], fraction: float) -> float:
    """Return the `fraction` quantile (0 to 1) of `values`, nearest rank."""
    if not values:
        raise ValueError("percentile of an empty sequence")
    ordered = sorted(values)
    index = min(len(ordered) - 1, max(0, round(fraction * len(ordered) + 0.5) - 1))
    return float(ordered[index])


@dataclass
class Rounds:
    """Figures of several sides measured in the same rounds, so they can be paired.

    `add` records one round's figure for one side; `paired_ratio` is the median over rounds
    of side / reference within each round, which cancels drift in the machine's load.
    """

    samples: dict[str, list[float]] = field(default_factory=dict)

    def add(self, side: str, value: float) -> None:
        self.samples.setdefault(side, []).append(value)

    def median(self, side: str) -> float:
        return median(self.samples[side])

    def spread(self, side: str) -> tuple[float, float]:
        values = self.samples[side]
        return min(values), max(values)

    def paired_ratio(self, side: str, reference: str) -> float:
        pairs = zip(self.samples[side], self.samples[reference], strict=True)
        return median([value / base for value, base in pairs])


def rotated(sides: Sequence[str], round_number: int) -> list[str]:
    """Return `sides` rotated by the round number, so no side always runs first."""
    shift = round_number % len(sides)
    return [*sides[shift:], *sides[:shift]]


def run_interleaved(sides: Sequence[str], rounds: int, measure: Callable[[str], float]
                    ) -> Rounds:
    """Run `measure(side)` for every side in every round, in rotating order."""
    result = Rounds()
    for round_number in range(rounds):
        for side in rotated(sides, round_number):
            result.add(side, measure(side))
    return result


def format_ns(value: float) -> str:
    return f"{value:,.0f} ns"


def format_ms(seconds: float) -> str:
    return f"{seconds * 1000:.2f} ms"


def format_ratio(value: float) -> str:
    return f"{value:.2f}x"
