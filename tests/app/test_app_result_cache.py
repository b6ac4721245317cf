"""FullResolutionCache without Qt: newest results keep their arrays, older ones past the budget are freed."""

from __future__ import annotations

from pathlib import Path

from desktop_app.result_cache import FullResolutionCache


class FakeResult:
    def __init__(self, nbytes: int) -> None:
        self.nbytes = nbytes
        self.has_full_resolution = True

    def drop_full_resolution(self) -> None:
        self.has_full_resolution = False


def test_oldest_results_are_freed_past_the_budget() -> None:
    cache = FullResolutionCache(budget_bytes=250)
    a, b, c = FakeResult(100), FakeResult(100), FakeResult(100)
    assert cache.remember(Path("a"), a) == []
    assert cache.remember(Path("b"), b) == []
    assert cache.remember(Path("c"), c) == [Path("a")]
    assert not a.has_full_resolution and b.has_full_resolution and c.has_full_resolution


def test_the_photo_on_screen_and_the_newest_are_kept() -> None:
    cache = FullResolutionCache(budget_bytes=150)
    shown, other, newest = FakeResult(100), FakeResult(100), FakeResult(100)
    cache.remember(Path("shown"), shown)
    cache.remember(Path("other"), other, keep=Path("shown"))
    assert shown.has_full_resolution and other.has_full_resolution  # 200 > 150, but both are protected
    cache.remember(Path("newest"), newest, keep=Path("shown"))
    assert shown.has_full_resolution and newest.has_full_resolution
    assert not other.has_full_resolution


def test_re_enhanced_photo_becomes_newest_and_forget_untracks() -> None:
    cache = FullResolutionCache(budget_bytes=250)
    first, b = FakeResult(100), FakeResult(100)
    cache.remember(Path("a"), first)
    cache.remember(Path("b"), b)
    again = FakeResult(100)
    cache.remember(Path("a"), again)  # a new result for "a": newest now, "b" is the oldest
    c = FakeResult(100)
    assert cache.remember(Path("c"), c) == [Path("b")]
    assert not b.has_full_resolution and again.has_full_resolution
    cache.forget(Path("a"))  # removed from the queue: no longer counted, never freed by the cache
    cache.remember(Path("d"), FakeResult(100))
    assert cache.remember(Path("e"), FakeResult(100)) == [Path("c")]
    assert again.has_full_resolution and not c.has_full_resolution


def test_results_freed_elsewhere_are_dropped_from_the_count() -> None:
    cache = FullResolutionCache(budget_bytes=250)
    a, b = FakeResult(100), FakeResult(100)
    cache.remember(Path("a"), a)
    cache.remember(Path("b"), b)
    a.drop_full_resolution()  # e.g. freed by hand
    c = FakeResult(100)
    assert cache.remember(Path("c"), c) == []
    assert b.has_full_resolution and c.has_full_resolution
