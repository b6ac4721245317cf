"""HEIC/HEIF (pillow-heif) and AVIF (Pillow) through core.io: files made here."""

from __future__ import annotations

import numpy as np
import pytest
from PIL import Image, ImageCms
from synthetic_raw import jpeg_bytes, write_heic

from core.batch import BatchOptions, plan_output, run_batch
from core.errors import ImageReadError
from core.io import read_image, read_preview, write_image

MAKE, MODEL, ORIENTATION = 271, 272, 274


def _exif(raw: bytes | None) -> Image.Exif:
    exif = Image.Exif()
    if raw:
        exif.load(raw)
    return exif


def _camera_exif(orientation: int = 1) -> bytes:
    exif = Image.Exif()
    exif[MAKE], exif[MODEL], exif[ORIENTATION] = "PhoneCo", "Pocket 12", orientation
    return exif.tobytes()


def _gradient(h: int = 32, w: int = 48) -> np.ndarray:
    ys, xs = np.mgrid[0:h, 0:w]
    return np.stack([xs * 255 // (w - 1), ys * 255 // (h - 1), np.full_like(xs, 80)], axis=2).astype(np.uint8)


def test_reads_8_bit_heic_with_exif_and_icc(tmp_path):
    icc = ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()
    path = write_heic(tmp_path / "phone.heic", _gradient(), exif=_camera_exif(), icc=icc, quality=95)
    data = read_image(path)
    assert data.format == "HEIF" and data.bit_depth == 8 and data.pixels.shape == (32, 48, 3)
    assert np.abs(data.pixels - _gradient() / 255.0).mean() < 0.02
    assert _exif(data.exif)[MODEL] == "Pocket 12" and data.icc_profile == icc and data.notes == ()


def test_10_bit_heic_keeps_its_precision(tmp_path):
    ramp = np.linspace(0, 1, 64, dtype=np.float64)
    values = np.repeat(np.repeat(ramp[None, :, None], 16, axis=0), 3, axis=2)
    data = read_image(write_heic(tmp_path / "deep.heic", (values * 65535).astype(np.uint16), quality=100))
    assert data.bit_depth == 16
    # More distinct levels than an 8-bit file could hold along the ramp.
    assert len(np.unique(np.round(data.pixels[8, :, 1] * 1023))) > 40
    assert np.abs(data.pixels - values).mean() < 0.01


def test_orientation_is_applied_once(tmp_path):
    # pillow-heif turns EXIF orientation 6 into a HEIF rotation: the decoded picture is upright.
    path = write_heic(tmp_path / "turned.heic", _gradient(), exif=_camera_exif(orientation=6), quality=95)
    data = read_image(path)
    assert data.pixels.shape == (48, 32, 3)
    assert np.abs(data.pixels - np.rot90(_gradient(), -1) / 255.0).mean() < 0.03
    out = read_image(write_image(tmp_path / "out.heic", data.pixels, source=data))
    assert out.pixels.shape == (48, 32, 3) and _exif(out.exif)[ORIENTATION] == 1
    assert _exif(out.exif)[MAKE] == "PhoneCo"


def test_heic_writing_quality_and_format_same(tmp_path, rng):
    pixels = rng.random((40, 56, 3)).astype(np.float32)
    low = write_image(tmp_path / "low.heic", pixels, quality=30)
    high = write_image(tmp_path / "high.heic", pixels, quality=95)
    assert low.stat().st_size < high.stat().st_size
    assert read_image(high).pixels.shape == (40, 56, 3)
    source = read_image(write_heic(tmp_path / "in.heic", _gradient(), exif=_camera_exif()))
    assert plan_output(source.path, tmp_path / "o").suffix == ".heic"

    class Same:
        def enhance(self, image, mode="full", strength=1.0, progress=None, cancel=None, exposure=0.0):
            return image

    report = run_batch(Same(), [source.path], tmp_path / "o", BatchOptions(fmt="same", quality=90))
    [(_, written)] = report.succeeded
    assert written.suffix == ".heic" and _exif(read_image(written).exif)[MODEL] == "Pocket 12"


def test_16_bit_sources_become_10_bit_heic(tmp_path):
    ramp = np.linspace(0, 1, 64, dtype=np.float32)
    pixels = np.repeat(np.repeat(ramp[None, :, None], 16, axis=0), 3, axis=2)
    back = read_image(write_image(tmp_path / "deep.heic", pixels, bit_depth=16, quality=100))
    assert back.bit_depth == 16 and np.abs(back.pixels - pixels).mean() < 0.01


def test_tiny_and_odd_sizes_encode(tmp_path, rng):
    for h, w in ((1, 1), (3, 5), (17, 2)):
        out = write_image(tmp_path / f"t{h}x{w}.heic", rng.random((h, w, 3)).astype(np.float32))
        assert read_image(out).pixels.shape == (h, w, 3)


def test_burst_uses_the_primary_image_and_says_so(tmp_path):
    data = read_image(write_heic(tmp_path / "burst.heic", _gradient(), extra_images=2, quality=95))
    assert data.pixels.shape == (32, 48, 3)
    assert np.abs(data.pixels - _gradient() / 255.0).mean() < 0.02  # the first (primary), not a flipped one
    assert data.notes == ("primary image of 3 used (the file holds a burst or collection)",)
    assert read_preview(data.path, 16).notes == data.notes


def test_heic_that_is_really_a_jpeg(tmp_path):
    path = tmp_path / "IMG_0001.HEIC"
    path.write_bytes(jpeg_bytes(_gradient()))
    data = read_image(path)
    assert data.format == "JPEG" and data.pixels.shape == (32, 48, 3)
    assert data.notes == ("the content is JPEG, although the name ends in .HEIC",)


def test_truncated_and_corrupt_heic(tmp_path):
    good = write_heic(tmp_path / "good.heic", _gradient(64, 64)).read_bytes()
    for name, blob in (("half.heic", good[: len(good) // 2]), ("tail.heic", good[:-20]),
                       ("head.heic", good[:40])):
        (tmp_path / name).write_bytes(blob)
        with pytest.raises(ImageReadError) as info:
            read_image(tmp_path / name)
        assert name in str(info.value) and "truncated or corrupt" in str(info.value)


def test_heic_pixel_limit(tmp_path):
    path = write_heic(tmp_path / "big.heic", _gradient())
    with pytest.raises(ImageReadError, match="decompression bomb"):
        read_image(path, max_pixels=100)


def test_avif_round_trip(tmp_path):
    source = tmp_path / "in.avif"
    Image.fromarray(_gradient()).save(source, quality=95, exif=_camera_exif())
    data = read_image(source)
    assert data.format == "AVIF" and data.pixels.shape == (32, 48, 3)
    out = read_image(write_image(tmp_path / "out.avif", data.pixels, source=data))
    assert out.pixels.shape == (32, 48, 3) and _exif(out.exif)[MODEL] == "Pocket 12"


def test_format_heic_for_any_input(tmp_path, rng):
    Image.fromarray((rng.random((20, 30, 3)) * 255).astype(np.uint8)).save(tmp_path / "a.png")
    assert plan_output(tmp_path / "a.png", tmp_path / "o", fmt="heic").name == "a_enhanced.heic"

    class Same:
        def enhance(self, image, mode="full", strength=1.0, progress=None, cancel=None, exposure=0.0):
            return image

    report = run_batch(Same(), [tmp_path / "a.png"], tmp_path / "o", BatchOptions(fmt="heic"))
    [(_, written)] = report.succeeded
    assert read_image(written).format == "HEIF" and read_image(written).pixels.shape == (20, 30, 3)
