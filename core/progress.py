"""What every progress display shares: the one duration formatter and the one progress throttle."""

from __future__ import annotations

import math
import time
from collections.abc import Callable

#: How often a throttled progress report gets through: often enough to look live, rarely enough
#: that reporting costs nothing next to the work.
PROGRESS_INTERVAL_S = 0.05


def format_duration(seconds: float | None) -> str:
    """A duration for people: ``1 h 05 min``, ``3 min 20 s``, ``12 s`` (``–`` when unknown)."""
    if seconds is None or not math.isfinite(seconds):
        return "–"
    seconds = max(0, int(round(seconds)))
    hours, rest = divmod(seconds, 3600)
    minutes, secs = divmod(rest, 60)
    if hours:
        return f"{hours} h {minutes:02d} min"
    if minutes:
        return f"{minutes} min {secs:02d} s"
    return f"{secs} s"


class Throttle:
    """Lets a progress report through at most every ``interval`` seconds; the first one and the
    final one (``ready(final=True)``) always get through."""

    def __init__(self, interval: float = PROGRESS_INTERVAL_S, clock: Callable[[], float] = time.monotonic) -> None:
        self.interval = interval
        self._clock = clock
        self._last: float | None = None

    def ready(self, final: bool = False) -> bool:
        """Whether to report now (and, if so, the interval starts again)."""
        now = self._clock()
        if final or self._last is None or now - self._last >= self.interval:
            self._last = now
            return True
        return False
