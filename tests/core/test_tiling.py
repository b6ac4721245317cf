"""Tile planning, feathered blending, out-of-memory splitting, progress and cancellation."""

from __future__ import annotations

import threading

import numpy as np
import pytest

from core.errors import CancelledError, DeviceOutOfMemoryError, InsufficientMemoryError
from core.steps import run_to_end
from core.tiling import feather_window, iter_tiled, plan_axis, plan_tiles, process_tiled


def _per_pixel(tile: np.ndarray) -> np.ndarray:
    """A stand-in network whose output at a pixel depends on that pixel only."""
    return np.sqrt(tile) * 0.5 + tile**2


def _image(h: int, w: int, c: int = 3, seed: int = 0) -> np.ndarray:
    return np.random.default_rng(seed).random((h, w, c), dtype=np.float32)


@pytest.mark.parametrize("length,tile,overlap", [(1000, 256, 32), (257, 256, 32), (256, 256, 32), (100, 256, 32),
                                                 (513, 128, 48), (64, 64, 32), (65, 64, 32), (3, 64, 32)])
def test_plan_axis_covers_with_overlap(length, tile, overlap):
    segments = plan_axis(length, tile, overlap)
    size = min(tile, length)
    assert segments[0][0] == 0 and segments[-1][1] == length
    assert all(b - a == size for a, b in segments)
    for (a0, a1), (b0, _) in zip(segments, segments[1:]):
        assert a0 < b0 and a1 - b0 >= overlap


def test_plan_tiles_row_major_and_covering():
    tiles = plan_tiles(300, 700, 256, 32)
    covered = np.zeros((300, 700), bool)
    for t in tiles:
        covered[t.slices] = True
    assert covered.all()
    assert [t.row for t in tiles] == sorted(t.row for t in tiles)
    assert plan_tiles(10, 20, 256, 32)[0].slices == (slice(0, 10), slice(0, 20))


def test_feather_window_is_positive_raised_cosine():
    tiles = plan_tiles(600, 600, 256, 32)
    inner = next(t for t in tiles if t.y0 > 0 and t.x0 > 0 and t.y1 < 600 and t.x1 < 600)
    w = feather_window(inner, 600, 600, 32)
    assert w.dtype == np.float32 and (w > 0).all() and w.max() == 1.0
    assert w[0, 128] < 0.01 and w[128, 128] == 1.0
    ramp = w[:32, 128]
    np.testing.assert_allclose(ramp + ramp[::-1], 1.0, atol=1e-6)  # complementary ramps sum to 1
    corner = feather_window(tiles[0], 600, 600, 32)
    assert corner[0, 0] == 1.0  # image borders are not tapered


@pytest.mark.parametrize("h,w,tile,overlap", [(100, 100, 64, 16), (131, 257, 64, 32), (37, 29, 256, 32),
                                              (300, 200, 96, 40), (1, 1, 64, 32), (64, 300, 64, 32)])
def test_tiled_equals_untiled_for_per_pixel_fn(h, w, tile, overlap):
    image = _image(h, w)
    out = process_tiled(image, _per_pixel, tile, overlap)
    assert out.shape == image.shape and out.dtype == np.float32
    np.testing.assert_allclose(out, _per_pixel(image), rtol=2e-6, atol=2e-6)


def test_output_channels_may_differ():
    image = _image(70, 90, 3)
    out = process_tiled(image, lambda t: t[..., :1] * 2, 64, 16)
    np.testing.assert_allclose(out, image[..., :1] * 2, rtol=2e-6)


class _OOMAbove:
    """Raises DeviceOutOfMemoryError for tiles larger than ``limit`` pixels on a side."""

    def __init__(self, limit: int) -> None:
        self.limit = limit
        self.sizes: list[tuple[int, int]] = []
        self.failures = 0

    def __call__(self, tile: np.ndarray) -> np.ndarray:
        if max(tile.shape[:2]) > self.limit:
            self.failures += 1
            raise DeviceOutOfMemoryError("fake OOM")
        self.sizes.append(tile.shape[:2])
        return _per_pixel(tile)


def test_oom_halves_tile_and_result_stays_right():
    image = _image(300, 410)
    fn = _OOMAbove(130)
    steps = iter_tiled(image, fn, 512, 32)
    reports = []
    while True:
        try:
            reports.append(next(steps))
        except StopIteration as stop:
            out = stop.value
            break
    assert fn.failures >= 1
    assert all(max(s) <= 130 for s in fn.sizes)
    assert reports[-1].tile_size == 128
    np.testing.assert_allclose(out, _per_pixel(image), rtol=2e-6, atol=2e-6)


def test_oom_mid_run_continues_from_current_row():
    image = _image(400, 400)
    calls = {"n": 0}

    def flaky(tile: np.ndarray) -> np.ndarray:
        calls["n"] += 1
        if calls["n"] == 5 and tile.shape[0] > 100:  # the device fills up during the second row
            raise DeviceOutOfMemoryError("fake OOM")
        return _per_pixel(tile)

    reports = []
    out = process_tiled(image, flaky, 160, 32, progress=reports.append)
    np.testing.assert_allclose(out, _per_pixel(image), rtol=2e-6, atol=2e-6)
    assert reports[-1].tile_size == 80


def test_oom_at_floor_raises_insufficient_memory():
    with pytest.raises(InsufficientMemoryError):
        process_tiled(_image(200, 200), _OOMAbove(10), 256, 32)


def test_fallback_at_floor_can_continue():
    image = _image(150, 150)
    state = {"moved": False}

    def fn(tile: np.ndarray) -> np.ndarray:
        if not state["moved"]:
            raise DeviceOutOfMemoryError("fake OOM")
        return _per_pixel(tile)

    def fallback() -> int:
        state["moved"] = True  # e.g. the engine moved the model to the CPU
        return 256

    steps = iter_tiled(image, fn, 128, 32, fallback=fallback)
    out = None
    while out is None:
        try:
            next(steps)
        except StopIteration as stop:
            out = stop.value
    np.testing.assert_allclose(out, _per_pixel(image), rtol=2e-6, atol=2e-6)


def test_cancel_mid_run():
    cancel = threading.Event()
    seen = []

    def fn(tile: np.ndarray) -> np.ndarray:
        seen.append(tile.shape)
        if len(seen) == 3:
            cancel.set()
        return tile

    with pytest.raises(CancelledError):
        process_tiled(_image(300, 300), fn, 64, 16, cancel=cancel)
    assert len(seen) == 3  # stopped right after the tile during which cancel was pressed


def test_progress_is_monotone_and_complete():
    reports = []
    process_tiled(_image(333, 517), _per_pixel, 128, 32, progress=reports.append)
    covered = [r.covered for r in reports]
    assert covered == sorted(covered) and covered[-1] == reports[-1].total == 333 * 517
    assert [r.tiles_done for r in reports] == list(range(1, len(reports) + 1))
    assert reports[-1].tiles_done == reports[-1].tiles_planned


def test_progress_monotone_across_oom_replan():
    reports = []
    process_tiled(_image(300, 300), _OOMAbove(70), 256, 32, progress=reports.append)
    covered = [r.covered for r in reports]
    assert covered == sorted(covered) and covered[-1] == 300 * 300


def test_rejects_bad_arguments():
    with pytest.raises(ValueError):
        plan_axis(100, 32, 32)
    with pytest.raises(ValueError):
        process_tiled(np.zeros((4, 4), np.float32), _per_pixel, 64, 16)


def test_rows_are_emitted_in_order_in_bands_no_taller_than_a_tile():
    image = _image(333, 517)
    bands: list[tuple[int, int]] = []
    out = np.zeros((333, 517, 3), np.float32)

    def emit(y0: int, y1: int, rows: np.ndarray) -> None:
        assert rows.shape == (y1 - y0, 517, 3) and rows.dtype == np.float32
        bands.append((y0, y1))
        out[y0:y1] = rows

    assert run_to_end(iter_tiled(image, _per_pixel, 128, 32, emit=emit)) is None
    assert bands[0][0] == 0 and bands[-1][1] == 333
    assert all(a[1] == b[0] for a, b in zip(bands, bands[1:]))  # contiguous, top to bottom
    assert max(y1 - y0 for y0, y1 in bands) <= 128
    np.testing.assert_allclose(out, _per_pixel(image), rtol=2e-6, atol=2e-6)


def test_emitted_rows_match_the_gathered_result_across_an_oom_replan():
    image = _image(300, 410)
    gathered = process_tiled(image, _OOMAbove(130), 512, 32)
    out = np.zeros_like(gathered)

    def emit(y0: int, y1: int, rows: np.ndarray) -> None:
        out[y0:y1] = rows

    run_to_end(iter_tiled(image, _OOMAbove(130), 512, 32, emit=emit))
    np.testing.assert_array_equal(out, gathered)


def test_integer_images_are_tiled_as_they_are():
    image = (_image(150, 170) * 255).astype(np.uint8)
    seen = []

    def fn(tile: np.ndarray) -> np.ndarray:
        seen.append(tile.dtype)
        return tile.astype(np.float32) / 255

    out = process_tiled(image, fn, 64, 16)
    assert set(seen) == {np.dtype(np.uint8)}
    np.testing.assert_allclose(out, image / 255, atol=1e-6)


class _Concurrency:
    """A tile function that records how many calls ran at once (each takes a few ms)."""

    def __init__(self, fn=_per_pixel, delay: float = 0.005) -> None:
        self.fn, self.delay = fn, delay
        self.lock = threading.Lock()
        self.active = self.peak = self.calls = 0

    def __call__(self, tile: np.ndarray) -> np.ndarray:
        with self.lock:
            self.active += 1
            self.calls += 1
            self.peak = max(self.peak, self.active)
        try:
            threading.Event().wait(self.delay)
            return self.fn(tile)
        finally:
            with self.lock:
                self.active -= 1


def _centred(tile: np.ndarray) -> np.ndarray:
    """Depends on the whole tile, so any change in which tile lands where would show."""
    return tile - tile.mean(axis=(0, 1)) + 0.5


@pytest.mark.parametrize("workers", [2, 3])
def test_workers_run_tiles_at_once_and_give_the_same_result(workers):
    image = _image(300, 410)
    one = process_tiled(image, _centred, 96, 32)
    fn = _Concurrency(_centred)
    many = run_to_end(iter_tiled(image, fn, 96, 32, workers=workers))
    assert fn.peak == workers
    np.testing.assert_array_equal(many, one)


def test_workers_survive_an_oom_replan():
    image = _image(300, 410)
    fn = _OOMAbove(130)
    out = run_to_end(iter_tiled(image, fn, 512, 32, workers=2))
    assert fn.failures >= 1 and all(max(s) <= 130 for s in fn.sizes)
    np.testing.assert_allclose(out, _per_pixel(image), rtol=2e-6, atol=2e-6)


def test_closing_waits_for_running_tiles_and_starts_no_more():
    fn = _Concurrency(delay=0.02)
    steps = iter_tiled(_image(400, 400), fn, 64, 16, workers=2)
    next(steps), next(steps)
    steps.close()
    assert fn.active == 0  # nothing still running once close returns
    calls = fn.calls
    threading.Event().wait(0.1)
    assert fn.calls == calls <= 2 + 2


def test_workers_may_write_finished_rows_over_their_input():
    image = _image(333, 257)
    expected = _per_pixel(image)

    def over_input(y0: int, y1: int, rows: np.ndarray) -> None:
        image[y0:y1] = rows  # what rendering in place does: tiles still running read lower rows

    run_to_end(iter_tiled(image, _Concurrency(), 64, 32, emit=over_input, workers=3))
    np.testing.assert_allclose(image, expected, rtol=2e-6, atol=2e-6)
