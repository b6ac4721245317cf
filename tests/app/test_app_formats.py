"""The app opens camera RAW and HEIC: Open-dialog filters, drops, previews, enhancement and export."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from app_helpers import StubEngine, run_job, wait_idle
from PIL import Image
from synthetic_raw import bayer_from_linear, smooth_scene, write_dng, write_heic

from core.io import read_image
from desktop_app import engine as eng
from desktop_app.jobs import ExportOptions, ImageLoaded, enhance_job, preview_job, save_job
from desktop_app.models.photo_queue import PhotoState


def _dng(path: Path, orientation: int = 1) -> Path:
    return write_dng(path, bayer_from_linear(smooth_scene(48, 64) * 0.2), orientation=orientation)


def _heic(path: Path) -> Path:
    rng = np.random.default_rng(3)
    return write_heic(path, (rng.random((40, 56, 3)) * 80).astype(np.uint8))


def test_open_dialog_offers_raw_and_heic():
    text = eng.open_dialog_filter()
    photos = text.split(";;")[0]
    for pattern in ("*.jpg", "*.dng", "*.DNG", "*.cr2", "*.cr3", "*.nef", "*.NEF", "*.arw", "*.raf", "*.orf",
                    "*.rw2", "*.heic", "*.HEIC", "*.heif", "*.avif", "*.tif"):
        assert f"{pattern} " in photos + " ", pattern
    assert "Camera RAW (" in text and "HEIC / HEIF / AVIF (" in text and text.endswith("All files (*)")


def test_drop_raw_and_heic_and_enhance(qtbot, make_window, tmp_path):
    from test_app_main_window import _drop

    window = make_window()
    raw, heic = _dng(tmp_path / "night.NEF.dng", orientation=6), _heic(tmp_path / "phone.HEIC")
    _drop(window, [raw, heic])
    assert [item.path.name for item in window.queue.items()] == ["night.NEF.dng", "phone.HEIC"]
    wait_idle(qtbot, window)
    for item in window.queue.items():
        assert item.state is PhotoState.DONE, item.error
        assert item.thumbnail is not None
    assert window.queue.item(0).result.size == (48, 64)  # upright: the DNG's orientation applied
    assert window.queue.item(1).result.size == (56, 40)


def test_folder_with_raw_files_is_searched(qtbot, make_window, tmp_path):
    folder = tmp_path / "card"
    folder.mkdir()
    _dng(folder / "DSC_0001.DNG")
    _heic(folder / "IMG_0002.heic")
    (folder / "notes.txt").write_text("not a photo")
    window = make_window()
    window.add_paths([folder])
    assert sorted(item.path.name for item in window.queue.items()) == ["DSC_0001.DNG", "IMG_0002.heic"]
    wait_idle(qtbot, window)


def test_preview_job_develops_raw_at_half_size(tmp_path):
    loaded = preview_job(_dng(tmp_path / "p.dng", orientation=8))
    assert (loaded.width, loaded.height) == (48, 64)
    assert loaded.preview[0].shape == (32, 24, 3) and loaded.preview[0].dtype == np.uint8  # half size
    assert loaded.notes == ()


def test_preview_job_carries_notes(tmp_path):
    pages = [Image.fromarray(np.full((10, 12, 3), v, np.uint8)) for v in (200, 50)]
    pages[0].save(tmp_path / "pages.tif", save_all=True, append_images=pages[1:])
    assert preview_job(tmp_path / "pages.tif").notes == ("first of 2 pages used",)


def test_enhancing_a_raw_shows_the_quick_preview_first(tmp_path):
    reports, result = run_job(enhance_job(StubEngine(), _dng(tmp_path / "r.dng"), "fast", "stub"))
    loaded = [r for r in reports if isinstance(r, ImageLoaded)]
    assert len(loaded) == 2  # the half-size preview, then the full development
    assert loaded[0].preview[0].shape == (24, 32, 3) and loaded[1].preview[0].shape == (48, 64, 3)
    assert result.source.bit_depth == 16 and result.source.format == "RAW"

    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(tmp_path / "j.jpg")
    jpeg_reports, _ = run_job(enhance_job(StubEngine(), tmp_path / "j.jpg", "fast", "stub"))
    assert sum(isinstance(r, ImageLoaded) for r in jpeg_reports) == 1


def test_saving_a_raw_as_heic_and_tiff_keeps_exif(tmp_path):
    _, result = run_job(enhance_job(StubEngine(), _dng(tmp_path / "r.dng"), "fast", "stub"))
    for fmt, ext in (("heic", ".heic"), ("tif", ".tif")):
        written = save_job(result, tmp_path / f"out{ext}", 1.0, ExportOptions(fmt=fmt, quality=90))
        back = read_image(written)
        exif = Image.Exif()
        exif.load(back.exif)
        assert exif[272] == "Test Camera" and back.pixels.shape == (48, 64, 3)
        assert back.bit_depth == 16  # 16-bit TIFF; 10-bit HEIC
