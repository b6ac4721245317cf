"""core.io: formats, metadata round trips, bad inputs and safe writing."""

from __future__ import annotations

import io
import os
from pathlib import Path

import cv2
import numpy as np
import pytest
from PIL import Image, ImageCms, ImageOps

from core.errors import ImageReadError, ImageWriteError
from core.io import _orient, read_image, unique_path, write_image

ARTIST = 315
ORIENTATION = 274
EXIF_IFD = 0x8769
DATE_ORIGINAL = 0x9003


def _u8(rng: np.random.Generator, h: int = 20, w: int = 30, c: int = 3) -> np.ndarray:
    return (rng.random((h, w, c)) * 255).astype(np.uint8)


def _exif(raw: bytes | None) -> Image.Exif:
    exif = Image.Exif()
    if raw:
        exif.load(raw)
    return exif


def _srgb_icc() -> bytes:
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _write_png_bytes(path: Path, array: np.ndarray) -> None:
    ok, buf = cv2.imencode(".png", array)
    assert ok
    path.write_bytes(buf.tobytes())


# ---------------------------------------------------------------- formats and modes


@pytest.mark.parametrize("ext,fmt", [("jpg", "JPEG"), ("png", "PNG"), ("tif", "TIFF"), ("webp", "WEBP"),
                                     ("bmp", "BMP")])
def test_reads_common_formats_as_float_rgb(tmp_path, rng, ext, fmt):
    array = _u8(rng)
    path = tmp_path / f"img.{ext}"
    Image.fromarray(array).save(path, **({"lossless": True} if fmt == "WEBP" else {}))
    data = read_image(path)
    assert data.pixels.dtype == np.float32 and data.pixels.shape == (20, 30, 3)
    assert data.format == fmt and data.bit_depth == 8 and data.alpha is None and data.path == path
    assert 0.0 <= data.pixels.min() and data.pixels.max() <= 1.0
    if fmt != "JPEG":  # lossless formats give the exact values back
        np.testing.assert_array_equal((data.pixels * 255).round().astype(np.uint8), array)


def test_grayscale_palette_and_cmyk_become_rgb(tmp_path, rng):
    gray = _u8(rng, c=1)[:, :, 0]
    Image.fromarray(gray).save(tmp_path / "g.png")
    data = read_image(tmp_path / "g.png")
    assert data.pixels.shape == (20, 30, 3)
    np.testing.assert_allclose(data.pixels[:, :, 0], gray / 255.0, atol=1e-6)
    np.testing.assert_array_equal(data.pixels[:, :, 0], data.pixels[:, :, 2])

    Image.fromarray(_u8(rng)).quantize(16).save(tmp_path / "p.png")
    assert read_image(tmp_path / "p.png").pixels.shape == (20, 30, 3)

    Image.new("CMYK", (30, 20), (0, 255, 255, 0)).save(tmp_path / "c.jpg")  # pure red in CMYK
    red = read_image(tmp_path / "c.jpg").pixels.mean(axis=(0, 1))
    assert red[0] > 0.9 and red[1] < 0.1 and red[2] < 0.1


def test_alpha_is_passed_through(tmp_path, rng):
    rgba = _u8(rng, c=4)
    Image.fromarray(rgba).save(tmp_path / "a.png")
    data = read_image(tmp_path / "a.png")
    np.testing.assert_allclose(data.alpha, rgba[:, :, 3] / 255.0, atol=1e-6)
    out = write_image(tmp_path / "out.png", data.pixels, alpha=data.alpha, source=data)
    np.testing.assert_array_equal(np.asarray(Image.open(out)), rgba)

    Image.fromarray(rgba[:, :, 0]).convert("LA").save(tmp_path / "la.png")
    assert read_image(tmp_path / "la.png").alpha is not None

    write_image(tmp_path / "dropped.jpg", data.pixels, alpha=data.alpha)  # JPEG drops alpha
    assert Image.open(tmp_path / "dropped.jpg").mode == "RGB"


@pytest.mark.parametrize("ext", ["png", "tif"])
def test_16_bit_values_survive_round_trip(tmp_path, rng, ext):
    values = (rng.random((12, 17, 3)) * 65535).astype(np.uint16)
    values[0, 0] = (1, 257, 65534)  # none of these is a multiple of 257: 8 bits cannot hold them
    source = tmp_path / f"src16.{ext}"
    ok, buf = cv2.imencode(f".{ext}", values[:, :, ::-1])
    assert ok
    source.write_bytes(buf.tobytes())

    data = read_image(source)
    assert data.bit_depth == 16
    np.testing.assert_array_equal(np.round(data.pixels * 65535).astype(np.uint16), values)

    out = write_image(tmp_path / f"out.{ext}", data.pixels, source=data)  # depth follows the source
    back = cv2.imdecode(np.fromfile(out, np.uint8), cv2.IMREAD_UNCHANGED)
    assert back.dtype == np.uint16
    np.testing.assert_array_equal(back[:, :, ::-1], values)
    assert read_image(out).bit_depth == 16


def test_16_bit_with_alpha_and_8_bit_request(tmp_path, rng):
    pixels = rng.random((9, 11, 3)).astype(np.float32)
    alpha = rng.random((9, 11)).astype(np.float32)
    for ext in ("png", "tif"):
        write_image(tmp_path / f"a16.{ext}", pixels, alpha=alpha, bit_depth=16)
        data = read_image(tmp_path / f"a16.{ext}")
        assert data.bit_depth == 16
        np.testing.assert_allclose(data.alpha, alpha, atol=1 / 65535)
        np.testing.assert_allclose(data.pixels, pixels, atol=1 / 65535)
        write_image(tmp_path / f"a8.{ext}", pixels, source=data, bit_depth=8)
        assert read_image(tmp_path / f"a8.{ext}").bit_depth == 8


@pytest.mark.parametrize("orientation", range(1, 9))
def test_numpy_orientation_matches_pillow(orientation, rng):
    array = _u8(rng, 5, 7)
    image = Image.fromarray(array)
    exif = image.getexif()
    exif[ORIENTATION] = orientation
    buffer = io.BytesIO()
    image.save(buffer, format="PNG", exif=exif.tobytes())
    expected = np.asarray(ImageOps.exif_transpose(Image.open(buffer)))
    np.testing.assert_array_equal(_orient(array, orientation), expected)


# ---------------------------------------------------------------- metadata


def _jpeg_with_exif(path: Path, array: np.ndarray, orientation: int = 6, icc: bytes | None = None) -> None:
    exif = Image.Exif()
    exif[ARTIST] = "Ada Lovelace"
    exif[ORIENTATION] = orientation
    exif.get_ifd(EXIF_IFD)[DATE_ORIGINAL] = "2021:06:01 20:30:00"
    Image.fromarray(array).save(path, exif=exif.tobytes(), quality=95, **({"icc_profile": icc} if icc else {}))


def _smooth_u8(h: int, w: int) -> np.ndarray:
    """Gradients (red left to right, green top to bottom): survive JPEG, show any rotation."""
    ys, xs = np.mgrid[0:h, 0:w]
    return np.stack([xs * 255 // (w - 1), ys * 255 // (h - 1), np.full_like(xs, 90)], axis=2).astype(np.uint8)


def test_exif_orientation_applied_and_exif_kept(tmp_path):
    array = _smooth_u8(20, 30)
    _jpeg_with_exif(tmp_path / "src.jpg", array, orientation=6)
    data = read_image(tmp_path / "src.jpg")
    assert data.pixels.shape == (30, 20, 3)  # rotated upright: 90 degrees clockwise
    rotated = np.rot90(array, -1).astype(np.float32) / 255
    assert np.abs(data.pixels - rotated).mean() < 0.03

    for ext in ("jpg", "png", "tif", "webp"):
        out = write_image(tmp_path / f"out.{ext}", data.pixels, source=data)
        exif = _exif(read_image(out).exif)
        assert exif[ARTIST] == "Ada Lovelace", ext
        assert exif[ORIENTATION] == 1, ext
        assert exif.get_ifd(EXIF_IFD)[DATE_ORIGINAL] == "2021:06:01 20:30:00", ext
        assert read_image(out).pixels.shape == (30, 20, 3), ext  # not rotated a second time

    write_image(tmp_path / "bare.jpg", data.pixels, source=data, keep_metadata=False)
    assert ARTIST not in _exif(read_image(tmp_path / "bare.jpg").exif)


def test_icc_profile_kept(tmp_path, rng):
    icc = _srgb_icc()
    _jpeg_with_exif(tmp_path / "src.jpg", _u8(rng), orientation=1, icc=icc)
    data = read_image(tmp_path / "src.jpg")
    assert data.icc_profile == icc
    for ext in ("jpg", "png", "tif", "webp"):
        out = write_image(tmp_path / f"out.{ext}", data.pixels, source=data)
        assert read_image(out).icc_profile == icc, ext
    out16 = write_image(tmp_path / "out16.png", data.pixels, source=data, bit_depth=16)
    assert read_image(out16).icc_profile == icc
    assert _exif(read_image(out16).exif)[ARTIST] == "Ada Lovelace"


def test_oversized_exif_is_dropped_not_fatal(tmp_path, rng, caplog):
    exif = Image.Exif()
    exif[270] = "x" * 70_000  # ImageDescription: more than a JPEG APP1 segment can hold
    Image.fromarray(_u8(rng)).save(tmp_path / "src.png", exif=exif.tobytes())
    data = read_image(tmp_path / "src.png")
    out = write_image(tmp_path / "out.jpg", data.pixels, source=data)
    assert read_image(out).exif is None and "without it" in caplog.text
    assert len(_exif(read_image(write_image(tmp_path / "out.png", data.pixels, source=data)).exif)[270]) == 70_000


def test_non_ascii_path_round_trip(tmp_path, rng):
    folder = tmp_path / "día"
    folder.mkdir()
    pixels = rng.random((8, 9, 3)).astype(np.float32)
    path = write_image(folder / "café 写真.png", pixels)
    data = read_image(path)
    np.testing.assert_allclose(data.pixels, pixels, atol=0.5 / 255 + 1e-6)
    out = write_image(folder / "café 写真 16.tif", data.pixels, bit_depth=16)
    assert read_image(out).bit_depth == 16


# ---------------------------------------------------------------- bad input


def _assert_read_error(path: Path, *words: str, **kwargs) -> ImageReadError:
    with pytest.raises(ImageReadError) as info:
        read_image(path, **kwargs)
    message = str(info.value)
    assert path.name in message
    for word in words:
        assert word in message.lower(), message
    return info.value


def test_missing_folder_and_empty(tmp_path):
    _assert_read_error(tmp_path / "nope.jpg", "not found")
    _assert_read_error(tmp_path, "folder")
    (tmp_path / "empty.png").write_bytes(b"")
    _assert_read_error(tmp_path / "empty.png", "empty")


def test_not_an_image(tmp_path):
    (tmp_path / "notes.jpg").write_text("these are not pixels\n" * 20)
    _assert_read_error(tmp_path / "notes.jpg", "not an image")


@pytest.mark.parametrize("ext", ["jpg", "png"])
def test_truncated_files_are_rejected(tmp_path, rng, ext):
    good = tmp_path / f"good.{ext}"
    Image.fromarray(_u8(rng, 64, 64)).save(good)
    data = good.read_bytes()
    bad = tmp_path / f"truncated.{ext}"
    bad.write_bytes(data[: len(data) // 2])
    _assert_read_error(bad, "truncated")


def test_truncated_16_bit_png(tmp_path, rng):
    values = (rng.random((64, 64, 3)) * 65535).astype(np.uint16)
    _write_png_bytes(tmp_path / "full.png", values)
    data = (tmp_path / "full.png").read_bytes()
    (tmp_path / "cut.png").write_bytes(data[: len(data) // 2])
    _assert_read_error(tmp_path / "cut.png", "truncated")


def test_decompression_bomb_limit(tmp_path, rng):
    Image.fromarray(_u8(rng, 40, 50)).save(tmp_path / "big.png")
    _assert_read_error(tmp_path / "big.png", "decompression bomb", max_pixels=1000)  # 2000 px: Pillow error
    _assert_read_error(tmp_path / "big.png", "decompression bomb", max_pixels=1500)  # 2000 px: Pillow warning
    assert read_image(tmp_path / "big.png", max_pixels=2000).pixels.shape == (40, 50, 3)
    assert Image.MAX_IMAGE_PIXELS not in (1000, 1500)  # global restored


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="needs a non-root POSIX user")
def test_permission_denied(tmp_path, rng):
    path = tmp_path / "locked.png"
    Image.fromarray(_u8(rng)).save(path)
    path.chmod(0)
    try:
        _assert_read_error(path, "permission")
    finally:
        path.chmod(0o644)


def test_permission_denied_reported(tmp_path, rng, monkeypatch):
    """Works as root too: the OS refusal is simulated."""
    import core.io

    path = tmp_path / "locked.png"
    Image.fromarray(_u8(rng)).save(path)

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(core.io.os, "open", refuse)
    _assert_read_error(path, "permission denied")


# ---------------------------------------------------------------- safe writing


def test_refuses_overwrite_unless_asked(tmp_path, rng):
    pixels = rng.random((6, 6, 3)).astype(np.float32)
    target = write_image(tmp_path / "out.png", pixels)
    before = target.read_bytes()
    with pytest.raises(ImageWriteError, match="exists"):
        write_image(target, 1 - pixels)
    assert target.read_bytes() == before
    write_image(target, 1 - pixels, overwrite=True)
    assert target.read_bytes() != before


def test_never_writes_onto_the_source(tmp_path, rng):
    Image.fromarray(_u8(rng)).save(tmp_path / "photo.png")
    before = (tmp_path / "photo.png").read_bytes()
    data = read_image(tmp_path / "photo.png")
    with pytest.raises(ImageWriteError, match="original"):
        write_image(tmp_path / "photo.png", data.pixels * 0.5, source=data, overwrite=True)
    with pytest.raises(ImageWriteError, match="original"):
        write_image(tmp_path / "sub" / ".." / "photo.png", data.pixels, source=data, overwrite=True)
    assert (tmp_path / "photo.png").read_bytes() == before


def test_atomic_write_leaves_nothing_on_failure(tmp_path, rng, monkeypatch):
    def broken_fsync(fd: int) -> None:
        raise OSError(28, "No space left on device")

    monkeypatch.setattr(os, "fsync", broken_fsync)
    with pytest.raises(ImageWriteError, match="No space left"):
        write_image(tmp_path / "out.jpg", rng.random((6, 6, 3)).astype(np.float32))
    assert list(tmp_path.iterdir()) == []


def test_write_errors_are_clear(tmp_path, rng):
    pixels = rng.random((6, 6, 3)).astype(np.float32)
    with pytest.raises(ImageWriteError, match="unsupported"):
        write_image(tmp_path / "out.gif", pixels)
    with pytest.raises(ImageWriteError, match="does not exist"):
        write_image(tmp_path / "missing" / "out.png", pixels)
    with pytest.raises(ImageWriteError, match="H x W x 3"):
        write_image(tmp_path / "out.png", pixels[:, :, 0])
    with pytest.raises(ImageWriteError, match="floating"):
        write_image(tmp_path / "out.png", (pixels * 255).astype(np.int32))  # uint8 / uint16 are fine
    assert list(tmp_path.iterdir()) == []


@pytest.mark.skipif(os.name != "posix" or os.geteuid() == 0, reason="needs a non-root POSIX user")
def test_unwritable_folder(tmp_path, rng):
    folder = tmp_path / "ro"
    folder.mkdir()
    folder.chmod(0o555)
    try:
        with pytest.raises(ImageWriteError, match="not writable"):
            write_image(folder / "out.png", rng.random((6, 6, 3)).astype(np.float32))
    finally:
        folder.chmod(0o755)


def test_unwritable_folder_reported(tmp_path, rng, monkeypatch):
    """Works as root too: the OS refusal is simulated."""
    import tempfile

    def refuse(*args, **kwargs):
        raise PermissionError(13, "Permission denied")

    monkeypatch.setattr(tempfile, "mkstemp", refuse)
    with pytest.raises(ImageWriteError, match="not writable"):
        write_image(tmp_path / "out.png", rng.random((6, 6, 3)).astype(np.float32))


def test_unique_path(tmp_path):
    target = tmp_path / "name.png"
    assert unique_path(target) == target
    target.write_bytes(b"x")
    assert unique_path(target) == tmp_path / "name (1).png"
    (tmp_path / "name (1).png").write_bytes(b"x")
    assert unique_path(target) == tmp_path / "name (2).png"


def test_written_files_get_the_usual_permissions(tmp_path):
    import os
    import stat

    out = write_image(tmp_path / "perm.png", np.full((8, 8, 3), 0.5, np.float32))
    mask = os.umask(0)
    os.umask(mask)
    assert stat.S_IMODE(out.stat().st_mode) == 0o666 & ~mask


# ---------------------------------------------------------------- only regular files; several frames


def _read_in_thread(path: Path, seconds: float = 5.0) -> BaseException | None:
    """read_image in a daemon thread: a read that blocks fails the test instead of hanging it."""
    import threading

    outcome: list[BaseException | None] = []

    def run() -> None:
        try:
            read_image(path)
            outcome.append(None)
        except BaseException as exc:  # noqa: BLE001 - handed to the test
            outcome.append(exc)

    thread = threading.Thread(target=run, daemon=True)
    thread.start()
    thread.join(seconds)
    assert outcome, f"reading {path} blocked for {seconds} s"
    return outcome[0]


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_fifo_is_refused_at_once(tmp_path):
    fifo = tmp_path / "pipe.jpg"
    os.mkfifo(fifo)
    error = _read_in_thread(fifo)
    assert isinstance(error, ImageReadError) and "named pipe" in str(error) and "pipe.jpg" in str(error)


@pytest.mark.skipif(not os.path.exists("/dev/zero"), reason="needs /dev/zero")
def test_device_is_refused():
    error = _read_in_thread(Path("/dev/zero"))  # would never end if it were read
    assert isinstance(error, ImageReadError) and "character device" in str(error)


def test_fifo_swapped_in_after_the_check_cannot_block(tmp_path, monkeypatch):
    """The stat check passes on a regular file, then a FIFO is opened: O_NONBLOCK and fstat catch it."""
    import core.io

    if not hasattr(os, "mkfifo"):
        pytest.skip("needs FIFOs")
    fifo = tmp_path / "swap.png"
    os.mkfifo(fifo)
    regular = tmp_path / "regular.png"
    regular.write_bytes(b"x")
    real_stat = os.stat
    monkeypatch.setattr(core.io.os, "stat", lambda p, *a, **k: real_stat(regular if Path(p) == fifo else p))
    error = _read_in_thread(fifo)
    assert isinstance(error, ImageReadError) and "named pipe" in str(error)


def test_broken_symlink_is_named(tmp_path):
    link = tmp_path / "gone.jpg"
    link.symlink_to(tmp_path / "nowhere.jpg")
    _assert_read_error(link, "broken symbolic link")


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs FIFOs")
def test_trainer_loader_refuses_a_fifo(tmp_path):
    import threading

    from trainer.data import DatasetError, load_rgb8

    fifo = tmp_path / "pair.png"
    os.mkfifo(fifo)
    outcome: list[BaseException] = []
    thread = threading.Thread(target=lambda: outcome.append(pytest.raises(DatasetError, load_rgb8, fifo).value),
                              daemon=True)
    thread.start()
    thread.join(5)
    assert outcome and "named pipe" in str(outcome[0])


def test_multi_page_tiff_uses_the_first_page(tmp_path, rng):
    pages = [Image.fromarray(np.full((10, 12, 3), v, np.uint8)) for v in (200, 50, 100)]
    pages[0].save(tmp_path / "pages.tif", save_all=True, append_images=pages[1:])
    data = read_image(tmp_path / "pages.tif")
    assert np.allclose(data.pixels, 200 / 255) and data.notes == ("first of 3 pages used",)


@pytest.mark.parametrize("ext", ["gif", "png", "webp"])
def test_animations_use_the_first_frame(tmp_path, ext):
    frames = [Image.fromarray(np.full((10, 12, 3), v, np.uint8)) for v in (40, 160, 240, 90)]
    path = tmp_path / f"anim.{ext}"
    frames[0].save(path, save_all=True, append_images=frames[1:], duration=100, loop=0,
                   **({"lossless": True} if ext == "webp" else {}))
    data = read_image(path)
    assert np.abs(data.pixels - 40 / 255).max() < 0.02 and data.notes == ("first of 4 frames used",)


def test_single_frame_files_have_no_notes(tmp_path, rng):
    Image.fromarray(_u8(rng)).save(tmp_path / "one.gif")
    assert read_image(tmp_path / "one.gif").notes == () and read_image(tmp_path / "one.gif").format == "GIF"


def test_bomb_message_states_our_limit(tmp_path, rng):
    from core.io import DEFAULT_MAX_PIXELS

    Image.fromarray(_u8(rng, 40, 50)).save(tmp_path / "big.png")
    message = str(_assert_read_error(tmp_path / "big.png", max_pixels=1000))
    assert "the limit of 0.001 MP (1,000 pixels)" in message and "2000" not in message  # not Pillow's 2x
    # The default limit is the one the README states.
    readme = (Path(__file__).resolve().parents[2] / "README.md").read_text(encoding="utf-8")
    assert f"{DEFAULT_MAX_PIXELS // 1_000_000} MP" in readme
    message = str(_assert_read_error(tmp_path / "big.png", max_pixels=1500))  # Pillow only warns here
    assert "0.002 MP is more than the limit of 0.0015 MP (1,500 pixels)" in message


def test_read_preview_of_jpeg_and_png(tmp_path):
    from core.io import read_preview

    array = _smooth_u8(600, 800)
    _jpeg_with_exif(tmp_path / "big.jpg", array, orientation=6)
    preview = read_preview(tmp_path / "big.jpg", 200)
    assert (preview.width, preview.height) == (600, 800) and preview.pixels.shape == (200, 150, 3)
    Image.fromarray(array).save(tmp_path / "big.png")
    preview = read_preview(tmp_path / "big.png", 100)
    assert (preview.width, preview.height) == (800, 600) and preview.pixels.shape == (75, 100, 3)


@pytest.mark.parametrize("ext,depth", [(".png", 8), (".png", 16), (".tif", 16), (".jpg", 8), (".webp", 8)])
def test_integer_pixels_read_and_write_like_float(tmp_path, rng, ext, depth):
    """``integers=True`` keeps the decoded uint8 / uint16; writing integers gives the same file as floats."""
    levels = 65535 if depth == 16 else 255
    values = (rng.random((20, 24, 3)) * levels).astype(np.uint16 if depth == 16 else np.uint8)
    source = write_image(tmp_path / f"in{ext}", values.astype(np.float32) / np.float32(levels), bit_depth=depth)
    as_float = read_image(source)
    as_int = read_image(source, integers=True)
    assert as_int.pixels.dtype == (np.uint16 if as_float.bit_depth == 16 else np.uint8)
    assert as_int.bit_depth == as_float.bit_depth
    np.testing.assert_array_equal(as_int.pixels.astype(np.float32) / np.float32(levels if as_int.bit_depth == 16
                                                                                   else 255), as_float.pixels)
    a = write_image(tmp_path / f"a{ext}", as_float.pixels, source=as_float)
    b = write_image(tmp_path / f"b{ext}", as_int.pixels, source=as_int)
    assert a.read_bytes() == b.read_bytes()
    c = write_image(tmp_path / f"c{ext}", as_int.pixels, bit_depth=8)  # 16 -> 8 bits: nearest level
    d = write_image(tmp_path / f"d{ext}", as_float.pixels, bit_depth=8)
    assert c.read_bytes() == d.read_bytes()


def test_integer_alpha_is_kept(tmp_path, rng):
    rgba = (rng.random((10, 12, 4)) * 255).astype(np.uint8)
    path = tmp_path / "a.png"
    Image.fromarray(rgba, "RGBA").save(path)
    data = read_image(path, integers=True)
    assert data.pixels.dtype == np.uint8 and data.alpha.dtype == np.uint8
    np.testing.assert_array_equal(data.alpha, rgba[:, :, 3])
    out = write_image(tmp_path / "b.png", data.pixels, alpha=data.alpha)
    np.testing.assert_array_equal(np.asarray(Image.open(out)), rgba)


def test_one_output_format_vocabulary():
    from core.batch import OUTPUT_FORMATS as BATCH_FORMATS
    from core.formats import OUTPUT_FORMATS, output_format, output_format_of
    from core.io import WRITE_FORMATS

    assert BATCH_FORMATS == ("same", *OUTPUT_FORMATS)
    for name in ("jpg", "jpeg", "JPEG", ".jpeg"):
        assert output_format(name).name == "jpg"
    assert output_format("tiff").name == "tif" and output_format("heif").name == "heic"
    with pytest.raises(ValueError):
        output_format("gif")
    for fmt in OUTPUT_FORMATS.values():  # every offered format is written by its extensions
        assert all(WRITE_FORMATS[ext] == fmt.encoder for ext in fmt.extensions)
        assert output_format_of(Path("x" + fmt.extension.upper())) is fmt
    assert output_format_of(Path("x.bmp")) is None


# ---------------------------------------------------------------- 8-bit JPEG by OpenCV


def _textured(rng: np.random.Generator, h: int = 48, w: int = 64) -> np.ndarray:
    return np.clip(_smooth_u8(h, w).astype(np.int16) + rng.integers(-20, 21, (h, w, 3)), 0, 255).astype(np.uint8)


@pytest.mark.parametrize("options", [{"quality": 95, "subsampling": 0}, {"quality": 75, "subsampling": 2},
                                     {"quality": 85, "subsampling": 1}, {"quality": 90, "progressive": True},
                                     {"quality": 90, "gray": True}])
def test_jpeg_decodes_like_pillow_into_writable_arrays(tmp_path, rng, options):
    options = dict(options)
    image = Image.fromarray(_textured(rng))
    if options.pop("gray", False):
        image = image.convert("L")
    image.save(tmp_path / "a.jpg", **options)
    expected = np.asarray(Image.open(tmp_path / "a.jpg").convert("RGB"))
    data = read_image(tmp_path / "a.jpg", integers=True)
    np.testing.assert_array_equal(data.pixels, expected)
    assert data.pixels.flags.writeable and data.pixels.flags.c_contiguous and data.bit_depth == 8
    as_float = read_image(tmp_path / "a.jpg").pixels
    assert as_float.dtype == np.float32
    np.testing.assert_array_equal(as_float, expected.astype(np.float32) / 255.0)


def test_real_photos_decode_like_pillow():
    photos = sorted(Path(__file__).resolve().parents[3].glob("shared/data/real-lowlight/DICM/*.jpg"))[:4]
    if not photos:
        pytest.skip("the real low-light photos are not here")
    for photo in photos:
        np.testing.assert_array_equal(read_image(photo, integers=True).pixels, np.asarray(Image.open(photo)))


@pytest.mark.parametrize("orientation", [3, 6, 8])
def test_jpeg_orientation_by_numpy(tmp_path, rng, orientation):
    array = _textured(rng, 24, 40)
    _jpeg_with_exif(tmp_path / "a.jpg", array, orientation=orientation)
    expected = np.asarray(ImageOps.exif_transpose(Image.open(tmp_path / "a.jpg")))
    pixels = read_image(tmp_path / "a.jpg", integers=True).pixels
    np.testing.assert_array_equal(pixels, expected)
    assert pixels.flags.writeable


def test_truncated_jpeg_is_refused_even_where_opencv_would_decode_it(tmp_path, rng, monkeypatch):
    Image.fromarray(_textured(rng, 64, 64)).save(tmp_path / "good.jpg", quality=90)
    data = (tmp_path / "good.jpg").read_bytes()
    (tmp_path / "cut.jpg").write_bytes(data[: len(data) * 2 // 3])
    _assert_read_error(tmp_path / "cut.jpg", "truncated or corrupt")
    # older OpenCV versions fill the missing rows with grey instead of failing
    monkeypatch.setattr(cv2, "imdecode", lambda buffer, flags: np.full((64, 64, 3), 128, np.uint8))
    _assert_read_error(tmp_path / "cut.jpg", "truncated or corrupt")
    assert (read_image(tmp_path / "good.jpg", integers=True).pixels == 128).all()  # the stand-in is in use


def test_jpeg_that_opencv_refuses_goes_to_pillow(tmp_path, rng, monkeypatch):
    Image.fromarray(_textured(rng)).save(tmp_path / "a.jpg")
    monkeypatch.setattr(cv2, "imdecode", lambda buffer, flags: None)
    np.testing.assert_array_equal(read_image(tmp_path / "a.jpg", integers=True).pixels,
                                  np.asarray(Image.open(tmp_path / "a.jpg")))


def test_jpeg_with_trailing_bytes_cmyk_and_mpo(tmp_path, rng):
    array = _textured(rng)
    Image.fromarray(array).save(tmp_path / "a.jpg")
    (tmp_path / "tail.jpg").write_bytes((tmp_path / "a.jpg").read_bytes() + b"\x00\x00trailer")
    np.testing.assert_array_equal(read_image(tmp_path / "tail.jpg", integers=True).pixels,
                                  np.asarray(Image.open(tmp_path / "a.jpg")))
    Image.fromarray(array).convert("CMYK").save(tmp_path / "cmyk.jpg")
    np.testing.assert_array_equal(read_image(tmp_path / "cmyk.jpg", integers=True).pixels,
                                  np.asarray(Image.open(tmp_path / "cmyk.jpg").convert("RGB")))
    Image.fromarray(array).save(tmp_path / "pair.mpo", format="MPO", save_all=True,
                                append_images=[Image.fromarray(255 - array)])
    data = read_image(tmp_path / "pair.mpo", integers=True)
    assert data.format == "JPEG"
    np.testing.assert_array_equal(data.pixels, np.asarray(Image.open(tmp_path / "pair.mpo")))


@pytest.mark.parametrize("ext", ["png", "webp", "tif", "bmp", "gif"])
def test_other_8_bit_decodes_are_writable_and_turned_once(tmp_path, rng, ext):
    image = Image.fromarray(_textured(rng, 24, 40))
    exif = image.getexif()
    exif[ORIENTATION] = 6
    options = {"lossless": True} if ext == "webp" else {}
    image.save(tmp_path / f"a.{ext}", exif=exif.tobytes(), **options)
    expected = np.asarray(ImageOps.exif_transpose(Image.open(tmp_path / f"a.{ext}")).convert("RGB"))
    data = read_image(tmp_path / f"a.{ext}", integers=True)
    np.testing.assert_array_equal(data.pixels, expected)  # Pillow's TIFF loader turns it itself: not twice
    assert data.pixels.flags.writeable and data.pixels.flags.c_contiguous
    np.testing.assert_array_equal(read_image(tmp_path / f"a.{ext}").pixels, expected.astype(np.float32) / 255.0)


def test_wide_rgba_is_copied_out_of_pillow_in_bands(tmp_path, rng):
    array = _u8(rng, 50, 70_000, 4)  # 70,000 pixels wide: 29 rows per band
    Image.fromarray(array).save(tmp_path / "wide.png", compress_level=1)
    data = read_image(tmp_path / "wide.png", integers=True)
    np.testing.assert_array_equal(data.pixels, array[:, :, :3])
    np.testing.assert_array_equal(data.alpha, array[:, :, 3])


def _segments(path: Path) -> list[tuple[str, bytes]]:
    return [(name, payload) for name, payload in Image.open(path).applist]


@pytest.mark.parametrize("quality", [95, 80])
def test_jpeg_written_by_opencv_like_pillow(tmp_path, rng, quality):
    """Same pixels, sampling and metadata segments (in the same order) as Pillow's encoder gave."""
    from PIL import JpegImagePlugin

    array = _textured(rng)
    icc = _srgb_icc()[:20] + rng.integers(0, 256, 150_000, dtype=np.uint8).tobytes()  # three APP2 chunks
    _jpeg_with_exif(tmp_path / "src.jpg", array, orientation=6, icc=icc)
    data = read_image(tmp_path / "src.jpg", integers=True)
    out = write_image(tmp_path / "out.jpg", data.pixels, source=data, quality=quality)
    upright = Image.fromarray(data.pixels)
    exif = _exif(data.exif)
    exif[ORIENTATION] = 1
    upright.save(tmp_path / "pillow.jpg", quality=quality, subsampling=0 if quality >= 90 else 2,
                 exif=exif.tobytes(), icc_profile=icc)
    ours, theirs = Image.open(out), Image.open(tmp_path / "pillow.jpg")
    assert JpegImagePlugin.get_sampling(ours) == JpegImagePlugin.get_sampling(theirs) == (0 if quality >= 90 else 2)
    assert _segments(out) == _segments(tmp_path / "pillow.jpg")
    assert [name for name, _ in _segments(out)] == ["APP0", "APP1", "APP2", "APP2", "APP2"]
    assert ours.info["icc_profile"] == icc and _exif(ours.info["exif"])[ARTIST] == "Ada Lovelace"
    assert np.abs(np.asarray(ours).astype(int) - np.asarray(theirs)).max() <= 1


def test_jpeg_write_leaves_the_pixels_as_they_were(tmp_path, rng, monkeypatch):
    array = _textured(rng)
    before = array.copy()
    write_image(tmp_path / "a.jpg", array, quality=100)
    np.testing.assert_array_equal(array, before)  # swapped to BGR for OpenCV and back
    assert np.abs(np.asarray(Image.open(tmp_path / "a.jpg")).astype(int) - array).mean() < 2
    frozen = array.copy()
    frozen.setflags(write=False)
    for name, pixels in (("read-only.jpg", frozen), ("view.jpg", array[:, ::-1])):  # copied, not swapped
        write_image(tmp_path / name, pixels, quality=100)
        assert np.abs(np.asarray(Image.open(tmp_path / name)).astype(int) - pixels).mean() < 2, name

    def fail(*args, **kwargs):
        raise cv2.error("no encoder")

    monkeypatch.setattr(cv2, "imencode", fail)
    with pytest.raises(ImageWriteError, match="encoding as JPEG failed"):
        write_image(tmp_path / "b.jpg", array)
    np.testing.assert_array_equal(array, before)  # swapped back on failure too
    assert not (tmp_path / "b.jpg").exists()


def test_jpeg_metadata_segments_and_their_limits():
    from core.io import _jpeg_metadata

    icc = b"\x00" * 16 + b"RGB " + b"\x00" * (256 * 65519)
    with pytest.raises(ValueError, match="ICC profile is too long"):
        _jpeg_metadata(None, icc)
    assert len(_jpeg_metadata(None, icc[: 255 * 65519])) == 255 * (65519 + 18)
    with pytest.raises(ValueError, match="EXIF data is too long"):
        _jpeg_metadata(b"Exif\x00\x00" + b"\x00" * 65528, None)
    assert _jpeg_metadata(b"II*\x00" + b"\x00" * 10, None)[4:10] == b"Exif\x00\x00"  # header added when missing
