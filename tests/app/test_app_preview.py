"""The app's first preview: a fast result of a display-size working copy comes before the real
result; the photo stays in integers end to end; saving blends in integers."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
from app_helpers import StubEngine, run_job, wait_idle
from PIL import Image

from core.engine import blend_pixels
from desktop_app.imaging import PREVIEW_MAX_SIDE
from desktop_app.jobs import (
    EnhanceResult,
    ExportOptions,
    ImageLoaded,
    QuickPreview,
    StageProgress,
    enhance_job,
    save_job,
)


def _big_jpeg(path: Path, size: tuple[int, int] = (2600, 1950)) -> Path:
    w, h = size
    y, x = np.mgrid[0:h, 0:w]
    pixels = (40 + 30 * np.sin(x / 37.0) * np.cos(y / 53.0))[..., None] * np.array([1.0, 0.8, 0.6])
    Image.fromarray(pixels.astype(np.uint8)).save(path, quality=90)
    return path


def test_large_photo_gets_a_quick_preview_before_anything_else(tmp_path):
    photo = _big_jpeg(tmp_path / "big.jpg")
    reports, result = run_job(enhance_job(StubEngine(), photo, "full", "stub"))
    assert isinstance(reports[0], QuickPreview)
    quick = reports[0]
    assert (quick.width, quick.height) == (2600, 1950)
    assert max(quick.preview[0].shape[:2]) <= PREVIEW_MAX_SIDE
    assert [a.shape for a in quick.enhanced] == [b.shape for b in quick.preview]
    assert quick.enhanced[0].dtype == np.uint8 and quick.enhanced[0].mean() > quick.preview[0].mean()
    kinds = [type(r) for r in reports]
    assert kinds.index(ImageLoaded) > 0 and kinds.index(StageProgress) > kinds.index(ImageLoaded)
    # the decoded photo and its result stay uint8 (a quarter of float32)
    assert isinstance(result, EnhanceResult)
    assert result.source.pixels.dtype == np.uint8 and result.enhanced.dtype == np.uint8
    assert result.before_full is result.source.pixels or np.shares_memory(result.before_full, result.source.pixels)


def test_small_photo_in_fast_mode_has_no_quick_preview(tmp_path):
    photo = tmp_path / "small.jpg"
    Image.fromarray(np.full((300, 400, 3), 50, np.uint8)).save(photo)
    engine = StubEngine()
    reports, _ = run_job(enhance_job(engine, photo, "fast", "stub"))
    assert not any(isinstance(r, QuickPreview) for r in reports) and engine.calls == 1


def test_re_enhancing_a_decoded_photo_previews_from_it(tmp_path):
    photo = _big_jpeg(tmp_path / "big.jpg")
    _, first = run_job(enhance_job(StubEngine(), photo, "fast", "stub"))
    reports, _ = run_job(enhance_job(StubEngine(), photo, "fast", "stub", source=first.source, exposure=1.0))
    quick = next(r for r in reports if isinstance(r, QuickPreview))
    assert quick.exposure == 1.0 and quick.preview[0].shape == first.before_levels[0].shape


def test_saving_blends_integers_like_floats(tmp_path):
    photo = tmp_path / "p.png"
    rng = np.random.default_rng(0)
    Image.fromarray((rng.random((60, 80, 3)) * 120).astype(np.uint8)).save(photo)
    _, result = run_job(enhance_job(StubEngine(), photo, "fast", "stub"))
    written = save_job(result, tmp_path / "out.png", 0.4, ExportOptions(fmt="png"))
    original = result.source.pixels.astype(np.float32) / np.float32(255)
    enhanced = result.enhanced.astype(np.float32) / np.float32(255)
    expected = (blend_pixels(original, enhanced, 0.4) * 255 + 0.5).astype(np.uint8)
    np.testing.assert_array_equal(np.asarray(Image.open(written)), expected)


def test_window_shows_the_quick_preview_while_the_full_result_is_computed(make_window, qtbot, tmp_path):
    photo = _big_jpeg(tmp_path / "big.jpg")
    engine = StubEngine(tiles=4)
    release = threading.Event()
    real_steps = engine.enhance_steps

    def enhance_steps(image, mode="fast", **kwargs):  # the full-resolution run waits to be released
        if max(image.shape[:2]) > PREVIEW_MAX_SIDE:
            release.wait(20)
        return (yield from real_steps(image, mode=mode, **kwargs))

    engine.enhance_steps = enhance_steps  # type: ignore[method-assign]
    window = make_window(engine)
    window.add_paths([photo])
    qtbot.waitUntil(lambda: window.view.has_result(), timeout=15000)
    item = window.queue.item(0)
    assert item.result is None and isinstance(item.extra.get("preview"), QuickPreview)
    release.set()
    wait_idle(qtbot, window)
    assert window.queue.item(0).result is not None and window.view.has_result()
