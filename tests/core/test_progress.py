"""core.progress: the one duration formatter and the one progress throttle."""

from __future__ import annotations

import pytest

from core.progress import Throttle, format_duration


@pytest.mark.parametrize("seconds, text", [(None, "–"), (float("nan"), "–"), (float("inf"), "–"), (-3, "0 s"),
                                           (12.4, "12 s"), (75, "1 min 15 s"), (3599.6, "1 h 00 min"),
                                           (3 * 3600 + 5 * 60 + 59, "3 h 05 min")])
def test_format_duration(seconds: float | None, text: str) -> None:
    assert format_duration(seconds) == text


def test_throttle_lets_the_first_the_final_and_one_per_interval_through() -> None:
    now = [100.0]
    throttle = Throttle(0.5, clock=lambda: now[0])
    passed = []
    for step in range(10):  # 0.0, 0.2, ... 1.8 s
        passed.append(throttle.ready(final=step == 9))
        now[0] += 0.2
    assert passed == [True, False, False, True, False, False, True, False, False, True]
