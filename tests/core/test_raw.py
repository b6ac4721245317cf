"""Camera RAW through core.io: DNGs made here from synthetic Bayer data (tests/synthetic_raw.py)."""

from __future__ import annotations

import time
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from synthetic_raw import bayer_from_linear, jpeg_bytes, smooth_scene, write_dng

import core.raw
from core.batch import BatchOptions, plan_output, run_batch
from core.errors import ImageReadError
from core.exposure import apply_gain, linear_to_srgb
from core.io import read_image, read_preview, same_format_extension, write_image
from core.raw import RawConfig, development_lut, pre_gain

EXIF_IFD = 0x8769
MAKE, MODEL, ORIENTATION = 271, 272, 274
EXPOSURE_TIME, F_NUMBER, ISO, DATE_ORIGINAL, LENS_MODEL = 33434, 33437, 34855, 36867, 42036


def _exif(raw: bytes | None) -> Image.Exif:
    exif = Image.Exif()
    if raw:
        exif.load(raw)
    return exif


def _srgb(linear: np.ndarray) -> np.ndarray:
    return linear_to_srgb(torch.from_numpy(np.ascontiguousarray(linear))).numpy()


@pytest.fixture
def scene() -> np.ndarray:
    return smooth_scene(48, 64)


@pytest.fixture
def dng(tmp_path, scene) -> Path:
    return write_dng(tmp_path / "night.dng", bayer_from_linear(scene))


@pytest.fixture
def exact_development(monkeypatch):
    """Develop without pre-gain and with the plain sRGB curve: the picture is the scene itself."""
    import core.raw

    monkeypatch.setattr(core.raw, "DEFAULT_RAW_CONFIG", RawConfig(auto_bright=None, tone_curve="srgb"))


def test_dng_is_developed_with_camera_white_balance_into_16_bits(dng, scene, exact_development):
    data = read_image(dng)
    assert data.format == "RAW" and data.bit_depth == 16 and data.alpha is None and data.notes == ()
    assert data.pixels.dtype == np.float32 and data.pixels.shape == (48, 64, 3)
    # The white balance the camera recorded is undone exactly: the picture is the scene, sRGB-encoded.
    inner = (slice(4, -4), slice(4, -4))
    error = np.abs(data.pixels[inner] - _srgb(scene)[inner])
    assert error.mean() < 2e-3 and error.max() < 0.01
    assert data.icc_profile is not None and data.icc_profile[16:20] == b"RGB "


@pytest.mark.parametrize("orientation,turns", [(3, 2), (6, -1), (8, 1)])
def test_orientation_is_applied(tmp_path, scene, orientation, turns, exact_development):
    path = write_dng(tmp_path / f"o{orientation}.dng", bayer_from_linear(scene), orientation=orientation)
    data = read_image(path)
    expected = _srgb(np.rot90(scene, turns))
    assert data.pixels.shape == expected.shape
    assert np.abs(data.pixels[4:-4, 4:-4] - expected[4:-4, 4:-4]).mean() < 3e-3
    assert _exif(data.exif)[ORIENTATION] == orientation  # as in the file; outputs get 1


def test_camera_exif_is_read(dng):
    exif = _exif(read_image(dng).exif)
    assert exif[MAKE] == "Lowlight" and exif[MODEL] == "Test Camera"
    sub = exif.get_ifd(EXIF_IFD)
    assert sub[ISO] == 3200 and float(sub[EXPOSURE_TIME]) == pytest.approx(1 / 15)
    assert float(sub[F_NUMBER]) == pytest.approx(2.8)
    assert sub[DATE_ORIGINAL] == "2024:05:06 21:30:00" and sub[LENS_MODEL] == "Test Lens 35mm F2.8"


@pytest.mark.parametrize("ext", ["tif", "png", "jpg", "webp", "heic"])
def test_outputs_keep_exif_size_and_get_srgb(tmp_path, scene, ext):
    data = read_image(write_dng(tmp_path / "src.dng", bayer_from_linear(scene), orientation=6))
    out = write_image(tmp_path / f"out.{ext}", data.pixels, source=data)
    back = read_image(out)
    exif = _exif(back.exif)
    assert exif[MAKE] == "Lowlight" and exif[MODEL] == "Test Camera", ext
    assert exif[ORIENTATION] == 1 and back.pixels.shape == (64, 48, 3), ext  # upright, not turned twice
    assert exif.get_ifd(EXIF_IFD)[ISO] == 3200, ext
    assert back.icc_profile == data.icc_profile, ext
    if ext in ("tif", "png"):  # 16 bits survive
        assert back.bit_depth == 16
        np.testing.assert_allclose(back.pixels, data.pixels, atol=1 / 65535 + 1e-7)


def test_format_same_means_16_bit_tiff(tmp_path, dng):
    assert same_format_extension(dng) == ".tif" and same_format_extension(Path("x.NEF")) == ".tif"
    assert plan_output(dng, tmp_path / "out").name == "night_enhanced.tif"

    class Brighten:
        def enhance(self, image, mode="full", strength=1.0, progress=None, cancel=None, exposure=0.0):
            return np.sqrt(image).astype(np.float32)

    report = run_batch(Brighten(), [dng], tmp_path / "out", BatchOptions(fmt="same"))
    [(_, written)] = report.succeeded
    back = read_image(written)
    assert written.suffix == ".tif" and back.bit_depth == 16 and back.pixels.shape == (48, 64, 3)
    assert _exif(back.exif)[MODEL] == "Test Camera"


def test_exposure_gain_acts_on_linear_sensor_data(tmp_path, exact_development):
    """With the exact sRGB development, the engine's gain on the decoded picture equals a longer
    exposure of the sensor."""
    base = smooth_scene(48, 64) * 0.1
    short = read_image(write_dng(tmp_path / "short.dng", bayer_from_linear(base)))
    long = read_image(write_dng(tmp_path / "long.dng", bayer_from_linear(base * 4)))
    x = torch.from_numpy(short.pixels).permute(2, 0, 1)[None]
    pushed = apply_gain(x, torch.tensor([4.0]))[0].permute(1, 2, 0).numpy()
    inner = (slice(4, -4), slice(4, -4))
    # Two stops pushed in our pipeline match two stops more light within 12-bit sensor steps.
    assert np.abs(pushed[inner] - long.pixels[inner]).mean() < 4e-3
    # The darkest values are not 8-bit steps: many more distinct levels than 8 bits would keep.
    assert len(np.unique(np.round(short.pixels * 65535))) > 4 * len(np.unique(np.round(short.pixels * 255)))


def test_pre_gain_is_applied_to_the_linear_data(tmp_path):
    """Default development: the automatic pre-gain acts before the tone curve, so a frame four
    times darker develops to (nearly) the same picture; nothing is posterised by it."""
    base = smooth_scene(48, 64)
    dark = read_image(write_dng(tmp_path / "dark.dng", bayer_from_linear(base * 0.05)))
    darker = read_image(write_dng(tmp_path / "darker.dng", bayer_from_linear(base * 0.0125)))
    inner = (slice(4, -4), slice(4, -4))
    assert dark.pixels[inner].mean() > 0.4  # brought up from about 0.1
    assert np.abs(dark.pixels[inner] - darker.pixels[inner]).mean() < 0.01
    # Every sensor level survives; stretching an 8-bit rendering of the dark frame would keep few.
    exact = core.raw.decode_raw(darker.path, darker.path.read_bytes(),
                                config=RawConfig(auto_bright=None, tone_curve="srgb")).pixels
    levels = len(np.unique(np.round(darker.pixels[inner][..., 1] * 65535)))
    assert levels > 3 * len(np.unique(np.round(exact[inner][..., 1] * 255)))


def test_numpy_shoulder_matches_core_exposure():
    from core.exposure import highlight_shoulder

    x = np.linspace(0.0, 12.0, 5001)
    for white in (1.5, 8.0, 200.0):
        expected = highlight_shoulder(torch.from_numpy(x).view(1, 1, 1, -1), torch.tensor([white]), 0.85)
        np.testing.assert_allclose(core.raw._shoulder(x, white, 0.85), expected.view(-1).numpy(), atol=1e-5)


def test_pre_gain_white_point_and_shoulder():
    config = RawConfig()
    linear = np.full((100, 100, 3), 1000, np.uint16)
    linear[:1, :50] = 4000  # 0.5 % brighter: above the 1 % white point
    assert pre_gain(linear, config) == pytest.approx(65535 / 1000, rel=0.01)
    assert pre_gain(np.full((4, 4, 3), 65535, np.uint16), config) == 1.0  # never darkens
    assert pre_gain(np.zeros((4, 4, 3), np.uint16), config) == config.max_pre_gain
    lut = development_lut(8.0, config)
    assert np.all(np.diff(lut) >= 0) and lut[-1] == pytest.approx(1.0)
    # Values above the new white (65535 / 8) are rolled off, not clipped to one level.
    assert lut[65535 // 8 + 1000] < lut[65535 // 4] < lut[65535 // 2] < 1.0
    with pytest.raises(ValueError):
        RawConfig(tone_curve="gamma 2")


def test_preview_is_half_size_and_matches_the_full_rendering(tmp_path, scene):
    path = write_dng(tmp_path / "p.dng", bayer_from_linear(scene), orientation=6)
    preview = read_preview(path, 20)
    assert preview.pixels.dtype == np.uint8 and (preview.width, preview.height) == (48, 64)
    assert max(preview.pixels.shape[:2]) == 20 and preview.pixels.shape[0] > preview.pixels.shape[1]
    full = read_image(path).pixels
    small = np.asarray(Image.fromarray((full * 255).round().astype(np.uint8)).resize(preview.pixels.shape[1::-1],
                                                                                     Image.BOX))
    assert np.abs(preview.pixels.astype(int) - small.astype(int)).mean() < 6


def test_preview_falls_back_to_the_embedded_jpeg(tmp_path, scene, monkeypatch):
    import rawpy

    import core.raw

    thumb = np.zeros((12, 16, 3), np.uint8)
    thumb[:, :, 2] = 200  # blue: clearly not the developed picture
    path = write_dng(tmp_path / "t.dng", bayer_from_linear(scene), preview_jpeg=jpeg_bytes(thumb),
                     preview_size=(16, 12))

    def broken(*args, **kwargs):
        raise rawpy.LibRawDataError(b"half-size decoding failed")

    monkeypatch.setattr(core.raw, "_params", broken)
    preview = read_preview(path, 100)
    assert preview.pixels.shape == (12, 16, 3) and (preview.width, preview.height) == (64, 48)
    assert preview.pixels[:, :, 2].mean() > 150 and preview.pixels[:, :, 0].mean() < 40


def test_24_mp_preview_is_fast(tmp_path):
    """Issue 14 asks for a preview within 2.5 s on two cores; half-size decoding measured 0.4 s."""
    rng = np.random.default_rng(0)
    cfa = rng.integers(256, 1200, (4000, 6000), dtype=np.uint16)
    path = write_dng(tmp_path / "big.dng", cfa)
    started = time.perf_counter()
    preview = read_preview(path, 1600)
    seconds = time.perf_counter() - started
    assert (preview.width, preview.height) == (6000, 4000) and max(preview.pixels.shape[:2]) == 1600
    assert seconds < 2.5, f"24 MP preview took {seconds:.2f} s"


# ------------------------------------------------------------------------------------- bad input


def _read_error(path: Path, *words: str, **kwargs) -> str:
    with pytest.raises(ImageReadError) as info:
        read_image(path, **kwargs)
    message = str(info.value)
    assert path.name in message
    for word in words:
        assert word in message.lower(), message
    return message


def test_truncated_raw(tmp_path, dng):
    data = dng.read_bytes()
    for fraction in (0.95, 0.5):
        cut = tmp_path / f"cut{int(fraction * 100)}.dng"
        cut.write_bytes(data[: int(len(data) * fraction)])
        _read_error(cut, "truncated")


def test_raw_with_no_image_data(tmp_path):
    _read_error(write_dng(tmp_path / "empty.dng", np.zeros((0, 0), np.uint16)), "no raw image data")


def test_unsupported_camera(tmp_path):
    exif = Image.Exif()
    exif[MAKE], exif[MODEL] = "Mystery Optics", "Mystery Optics M-1"
    path = tmp_path / "frame.nef"  # a camera file LibRaw knows nothing about
    Image.fromarray(np.zeros((8, 8, 3), np.uint8)).save(path, format="TIFF", exif=exif.tobytes())
    message = _read_error(path, "unsupported camera")
    assert "Mystery Optics M-1" in message


def test_not_a_raw_file(tmp_path):
    junk = tmp_path / "junk.arw"
    junk.write_bytes(b"definitely not sensor data " * 40)
    _read_error(junk, "not a raw file")


def test_raw_pixel_limit(dng):
    _read_error(dng, "decompression bomb", "0.001 mp", max_pixels=1000)


def test_content_decides_not_the_name(tmp_path, rng, dng):
    jpeg = tmp_path / "really_a_jpeg.dng"
    jpeg.write_bytes(jpeg_bytes((rng.random((16, 24, 3)) * 255).astype(np.uint8)))
    data = read_image(jpeg)
    assert data.format == "JPEG" and data.pixels.shape == (16, 24, 3)
    assert data.notes == ("the content is JPEG, although the name ends in .dng",)

    renamed = tmp_path / "really_a_dng.tif"
    renamed.write_bytes(dng.read_bytes())
    data = read_image(renamed)
    assert data.format == "RAW" and data.bit_depth == 16 and "camera RAW" in data.notes[0]


def test_batch_reports_each_bad_raw_and_goes_on(tmp_path, dng, rng):
    data = dng.read_bytes()
    (tmp_path / "cut.dng").write_bytes(data[: len(data) // 2])
    write_dng(tmp_path / "empty.dng", np.zeros((0, 0), np.uint16))
    fake = tmp_path / "phone.heic"
    fake.write_bytes(jpeg_bytes((rng.random((16, 24, 3)) * 255).astype(np.uint8)))

    class Same:
        def enhance(self, image, mode="full", strength=1.0, progress=None, cancel=None, exposure=0.0):
            return image

    inputs = [tmp_path / "cut.dng", dng, tmp_path / "empty.dng", fake]
    report = run_batch(Same(), inputs, tmp_path / "out")
    assert [p.name for p, _ in report.succeeded] == ["night.dng", "phone.heic"]
    reasons = dict(report.failed)
    assert "truncated" in reasons[tmp_path / "cut.dng"] and "no RAW image data" in reasons[tmp_path / "empty.dng"]


def test_integer_reading_gives_the_same_16_bit_frame(dng):
    """read_image(integers=True) develops straight to uint16 (no float32 copy), bit for bit the
    quantised float32 picture."""
    from core.pixels import to_integers

    floats = read_image(dng).pixels
    integers = read_image(dng, integers=True)
    assert integers.pixels.dtype == np.uint16 and integers.bit_depth == 16
    np.testing.assert_array_equal(integers.pixels, to_integers(floats, np.uint16))
