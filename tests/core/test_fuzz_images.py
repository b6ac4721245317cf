"""Property-based fuzzing of the image reader (hypothesis, bounded budget for CI).

Small valid JPEG, PNG (8/16-bit), TIFF (8/16-bit), DNG and HEIC files are truncated, bit-flipped
or have their header overwritten. Every case must end quickly in either a valid image or a
:class:`CoreError` whose message names the file: never another exception, a hang or a file
left behind. ``derandomize`` keeps CI runs reproducible.
"""

from __future__ import annotations

import io
import tempfile
from pathlib import Path

import cv2
import numpy as np
import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from PIL import Image
from synthetic_raw import bayer_from_linear, smooth_scene, write_dng, write_heic

from core.errors import CoreError
from core.io import read_image, read_preview, write_image

BUDGET = settings(max_examples=45, deadline=5000, derandomize=True, database=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])


def _seed_files() -> dict[str, bytes]:
    rng = np.random.default_rng(7)
    rgb = (rng.random((24, 32, 3)) * 255).astype(np.uint8)
    exif = Image.Exif()
    exif[271], exif[274] = "Fuzz", 6
    seeds: dict[str, bytes] = {}
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="JPEG", quality=80, exif=exif.tobytes())
    seeds["jpg"] = buffer.getvalue()
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="PNG", exif=exif.tobytes())
    seeds["png"] = buffer.getvalue()
    deep = (rng.random((24, 32, 3)) * 65535).astype(np.uint16)
    seeds["16.png"] = cv2.imencode(".png", deep)[1].tobytes()
    buffer = io.BytesIO()
    Image.fromarray(rgb).save(buffer, format="TIFF", compression="tiff_deflate", exif=exif.tobytes())
    seeds["tif"] = buffer.getvalue()
    seeds["16.tif"] = cv2.imencode(".tif", deep)[1].tobytes()
    with tempfile.TemporaryDirectory() as folder:
        seeds["dng"] = write_dng(Path(folder) / "s.dng", bayer_from_linear(smooth_scene(24, 32))).read_bytes()
        seeds["heic"] = write_heic(Path(folder) / "s.heic", rgb, quality=60).read_bytes()
    return seeds


SEEDS = _seed_files()


@st.composite
def mutations(draw: st.DrawFn, data: bytes) -> bytes:
    """A truncated, bit-flipped or header-mangled copy of ``data``."""
    kind = draw(st.sampled_from(["truncate", "flip", "header"]))
    if kind == "truncate":
        return data[: draw(st.integers(0, len(data) - 1))]
    blob = bytearray(data)
    if kind == "flip":
        for bit in draw(st.lists(st.integers(0, len(data) * 8 - 1), min_size=1, max_size=12)):
            blob[bit // 8] ^= 1 << (bit % 8)
        return bytes(blob)
    start = draw(st.integers(0, min(len(data), 96) - 1))
    patch = draw(st.binary(min_size=1, max_size=16))
    blob[start:start + len(patch)] = patch
    return bytes(blob[: max(len(data), start + len(patch))])


def _check_one(name: str, blob: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"fuzz.{name}"
        path.write_bytes(blob)
        try:
            data = read_image(path)
        except CoreError as exc:
            assert path.name in str(exc), str(exc)
        else:
            pixels = data.pixels
            assert pixels.dtype == np.float32 and pixels.ndim == 3 and pixels.shape[2] == 3 and pixels.size
            assert np.isfinite(pixels).all() and pixels.min() >= 0.0 and pixels.max() <= 1.0
            assert data.alpha is None or data.alpha.shape == pixels.shape[:2]
            out = write_image(Path(folder) / "out.png", pixels, alpha=data.alpha, source=data)
            assert read_image(out).pixels.shape == pixels.shape
        try:
            preview = read_preview(path, 16)
        except CoreError as exc:
            assert path.name in str(exc), str(exc)
        else:
            assert preview.pixels.dtype == np.uint8 and max(preview.pixels.shape[:2]) <= 16
        leftovers = sorted(p.name for p in Path(folder).iterdir())
        assert leftovers in (["fuzz." + name], ["fuzz." + name, "out.png"]), leftovers


@pytest.mark.parametrize("name", sorted(SEEDS))
def test_seed_files_are_valid(name):
    _check_one(name, SEEDS[name])
    assert read_image_ok(name)


def read_image_ok(name: str) -> bool:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / f"seed.{name}"
        path.write_bytes(SEEDS[name])
        return read_image(path).pixels.size > 0


@pytest.mark.parametrize("name", sorted(SEEDS))
def test_mangled_files_fail_cleanly_or_read(name):
    @BUDGET
    @given(blob=mutations(SEEDS[name]))
    def check(blob: bytes) -> None:
        _check_one(name, blob)

    check()
