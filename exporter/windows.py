"""Time windows accepted by the JSON API and the CLI, and the buckets each one reads."""

from __future__ import annotations

from dataclasses import dataclass

from sessionwatch.api_hooks.keys import HOUR, MINUTE


@dataclass(frozen=True)
class Window:
    """A window of `count` whole buckets of `step` seconds, the current partial one included."""

    name: str
    seconds: int
    step: int

    @property
    def count(self) -> int:
        return self.seconds // self.step

    def bucket_numbers(self, now: float) -> list[int]:
        """Return the bucket numbers (Unix seconds // step) of the window, oldest first."""
        current = int(now // self.step)
        return list(range(current - self.count + 1, current + 1))

    def start(self, now: float) -> int:
        return self.bucket_numbers(now)[0] * self.step


WINDOWS: dict[str, Window] = {
    "5m": Window("5m", 5 * MINUTE, MINUTE),
    "15m": Window("15m", 15 * MINUTE, MINUTE),
    "1h": Window("1h", HOUR, MINUTE),
    "24h": Window("24h", 24 * HOUR, HOUR),
    "7d": Window("7d", 7 * 24 * HOUR, HOUR),
}
WINDOW_NAMES = tuple(WINDOWS)


class InvalidWindowError(ValueError):
    """Raised for a window name that is not one of `WINDOW_NAMES`."""


def parse_window(name: str) -> Window:
    """Return the window called `name`, or raise InvalidWindowError naming the allowed values."""
    window = WINDOWS.get(name)
    if window is None:
        allowed = ", ".join(WINDOW_NAMES)
        shown = name if len(name) <= 20 else name[:20] + "…"
        raise InvalidWindowError(f"invalid window {shown!r}: use one of {allowed}")
    return window
