"""Image files in and out, keeping bit depth, alpha, EXIF and ICC profile.

Everything inside ``core`` works on float32 RGB arrays, ``H x W x 3``, values in [0, 1]
(see :class:`ImageData`). Conversions from and to BGR, uint8/uint16 and file formats happen
here and nowhere else.

Reading takes the bytes of regular files only (never a FIFO or device, so nothing blocks) and
decides the format from the content (:mod:`core.formats`): camera RAW goes to LibRaw
(:mod:`core.raw`), HEIC/HEIF to libheif (:mod:`core.heif`), everything else to Pillow. 16-bit
PNG and TIFF files, which Pillow reduces to 8 bits, are decoded by OpenCV from the same bytes, and
so are 8-bit RGB and grayscale JPEGs (Pillow still reads their header, EXIF and ICC profile):
OpenCV decodes into a writable 3-byte-per-pixel array, where Pillow holds 4 bytes per pixel and
hands numpy a further copy. JPEGs are written by OpenCV too, from the pixels as they are (Pillow
would first copy them to 4 bytes per pixel).
Writing is atomic: the encoded image goes to a hidden temporary file in the target folder,
which is then renamed onto the target; nothing is left behind on failure.
"""

from __future__ import annotations

import contextlib
import io
import logging
import os
import re
import stat
import struct
import threading
import warnings
import zlib
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
from PIL import Image, TiffImagePlugin, UnidentifiedImageError

from .atomic import free_name, write_atomically
from .errors import ImageReadError, ImageWriteError, OutputExistsError
from .formats import (
    EXPECTED_KIND,
    HEIF_EXTENSIONS,
    KIND_NAMES,
    OUTPUT_FORMATS,
    RASTER_EXTENSIONS,
    RAW_EXTENSIONS,
    TiffWalker,
    sniff,
    tiff_is_raw,
)
from .heif import decode_heif, encode_heif
from .pixels import INTEGER_MAX, convert_depth, to_float, to_integers
from .raw import decode_raw, fit_within, raw_preview, srgb_icc_profile

log = logging.getLogger(__name__)

#: Largest image accepted by default (pixels); larger files are treated as decompression bombs.
DEFAULT_MAX_PIXELS = 200_000_000

#: File extensions (lower case, with dot) that :func:`read_image` is meant for.
READ_EXTENSIONS = RASTER_EXTENSIONS | HEIF_EXTENSIONS | RAW_EXTENSIONS
#: File extensions :func:`write_image` can produce, and the format each one means.
#: (:data:`core.formats.OUTPUT_FORMATS`, and AVIF, which is written but not offered).
WRITE_FORMATS = {**{ext: f.encoder for f in OUTPUT_FORMATS.values() for ext in f.extensions}, ".avif": "AVIF"}
#: What ``--format same`` writes for inputs whose own format cannot be written.
SAME_FORMAT_FALLBACK = {**{ext: ".tif" for ext in RAW_EXTENSIONS}, ".bmp": ".png", ".gif": ".png"}
_READ_FORMATS = {"JPEG", "MPO", "PNG", "TIFF", "WEBP", "BMP", "GIF", "AVIF"}
_SUPPORTED_TEXT = "JPEG, PNG, TIFF, WebP, BMP, GIF, HEIC/HEIF, AVIF or camera RAW"
_PILLOW_ERRORS = (OSError, SyntaxError, ValueError, struct.error, EOFError, zlib.error, IndexError, KeyError,
                  TypeError, ZeroDivisionError, OverflowError)

_ORIENTATION_TAG = 0x0112
_EXIF_IFD_TAG = 0x8769
_GPS_IFD_TAG = 0x8825
# Tags that describe a TIFF file's own pixel layout; they must not travel to another file.
_STRUCTURAL_TAGS = frozenset({
    254, 255, 256, 257, 258, 259, 262, 266, 273, 277, 278, 279, 280, 281, 284, 317, 320, 322, 323, 324,
    325, 338, 339, 340, 341, 513, 514, 530, 531, 532, 34675, 0xA005,
})
_BOMB_LOCK = threading.Lock()
_BAND_BYTES = 8 << 20  # rows copied out of Pillow at a time
_JPEG_SEGMENT_MAX = 65533  # payload bytes of one JPEG marker segment (its length field counts itself)
_ENCODE_ERRORS = (OSError, ValueError, RuntimeError, cv2.error)


@dataclass(frozen=True, eq=False)
class ImageData:
    """A decoded image: upright float32 RGB pixels plus what the file said about itself."""

    pixels: np.ndarray  # float32, H x W x 3, [0, 1], already rotated by EXIF orientation
    alpha: np.ndarray | None  # float32, H x W, [0, 1], or None
    bit_depth: int  # 8 or 16 (bits per channel in the file; 16 also for 10/12-bit HEIF and RAW)
    format: str  # "JPEG", "PNG", "TIFF", "WEBP", "BMP", "GIF", "AVIF", "HEIF" or "RAW"
    exif: bytes | None  # raw EXIF as found (orientation still as in the file)
    icc_profile: bytes | None  # RAW: sRGB (the colour space it is developed into)
    path: Path
    #: What a person should know about how the file was read, e.g. "first of 3 pages used",
    #: "primary image of 4 used", "the content is JPEG, although the name ends in .heic".
    notes: tuple[str, ...] = ()

    @property
    def height(self) -> int:
        return int(self.pixels.shape[0])

    @property
    def width(self) -> int:
        return int(self.pixels.shape[1])


# --------------------------------------------------------------------------------------- reading


@dataclass(frozen=True)
class Preview:
    """A quick display copy of a photo: upright uint8 RGB, longest side at most the size asked for."""

    pixels: np.ndarray  # uint8, h x w x 3
    width: int  # the full picture's upright size
    height: int
    notes: tuple[str, ...] = ()


def read_file_bytes(path: str | Path) -> bytes:
    """All bytes of the regular file ``path``; :class:`ImageReadError` for anything else.

    A FIFO, device, socket or folder is refused at once (checked before opening, and again
    on the opened descriptor, which is opened non-blocking so a file swapped for a FIFO in
    between cannot block the read). Missing files, broken links, permission problems and
    empty files get their own message.
    """
    path = Path(path)
    try:
        _require_regular(path, os.stat(path))
        fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_CLOEXEC", 0)
                     | getattr(os, "O_BINARY", 0))
    except FileNotFoundError:
        if os.path.islink(path):
            raise ImageReadError(path, "is a broken symbolic link (its target does not exist)") from None
        raise ImageReadError(path, "file not found") from None
    except NotADirectoryError:
        raise ImageReadError(path, "file not found (a part of the path is a file, not a folder)") from None
    except PermissionError:
        raise ImageReadError(path, "permission denied") from None
    except IsADirectoryError:
        raise ImageReadError(path, "is a folder, not an image file") from None
    except OSError as exc:
        raise ImageReadError(path, f"cannot be read ({exc.strerror or exc})") from None
    try:
        with os.fdopen(fd, "rb") as handle:
            _require_regular(path, os.fstat(handle.fileno()))
            data = handle.read()
    except OSError as exc:
        raise ImageReadError(path, f"cannot be read ({exc.strerror or exc})") from None
    if not data:
        raise ImageReadError(path, "file is empty (0 bytes)")
    return data


def _require_regular(path: Path, info: os.stat_result) -> None:
    mode = info.st_mode
    if stat.S_ISREG(mode):
        return
    if stat.S_ISDIR(mode):
        raise ImageReadError(path, "is a folder, not an image file")
    kind = ("a named pipe (FIFO)" if stat.S_ISFIFO(mode) else "a character device" if stat.S_ISCHR(mode)
            else "a block device" if stat.S_ISBLK(mode) else "a socket" if stat.S_ISSOCK(mode) else "a special file")
    raise ImageReadError(path, f"is {kind}, not a regular file; only regular files are read")


@dataclass(frozen=True)
class _Route:
    """How a file's bytes are decoded, decided from its content (and, for RAW, its name)."""

    decoder: str  # "raw", "heif" or "pillow"
    kind: str | None  # what sniff() found
    notes: tuple[str, ...]


def _route(path: Path, data: bytes) -> _Route:
    kind = sniff(data)
    ext = path.suffix.lower()
    if kind == "RAW" or (kind is None and ext in RAW_EXTENSIONS):
        decoder = "raw"
    elif kind == "TIFF" and (tiff_is_raw(data) or (ext in RAW_EXTENSIONS and TiffWalker(data).ascii(271))):
        decoder = "raw"  # DNG, NEF, ARW, CR2, PEF... (a plain TIFF named .dng is read as the TIFF it is)
    elif kind == "HEIF":
        decoder = "heif"
    else:
        decoder = "pillow"
    actual = "RAW" if decoder == "raw" else kind
    expected = EXPECTED_KIND.get(ext)
    notes: tuple[str, ...] = ()
    if expected and actual and expected != actual:
        notes = (f"the content is {KIND_NAMES.get(actual, actual)}, although the name ends in {path.suffix}",)
    return _Route(decoder, kind, notes)


def read_image(path: str | Path, *, max_pixels: int | None = DEFAULT_MAX_PIXELS, integers: bool = False) -> ImageData:
    """Read an image file into the float32 RGB convention (``integers``: uint8 / uint16 pixels
    and alpha as the file's bit depth, which saves memory: the engine's ``render`` takes them).

    JPEG, PNG (also 16-bit), TIFF (also 16-bit), WebP, BMP, GIF, AVIF, HEIC/HEIF (also 10-bit)
    and camera RAW (see :mod:`core.raw`). The format is taken from the content, not the name.
    EXIF orientation is applied. Grayscale, palette and CMYK images become RGB; an alpha
    channel is returned separately. Of a multi-page TIFF, animated GIF/PNG/WebP or HEIF burst
    the first (primary) image is used, and ``ImageData.notes`` says so. Only regular files are
    read. Raises :class:`ImageReadError` naming the file and the reason (missing, folder, not
    a regular file, empty, permission denied, not an image, truncated or corrupt, unsupported
    camera, more than ``max_pixels`` pixels).
    """
    path = Path(path)
    data = read_file_bytes(path)
    return _decode(path, data, max_pixels, integers)


def read_preview(path: str | Path, max_side: int, *, max_pixels: int | None = DEFAULT_MAX_PIXELS) -> Preview:
    """A fast display copy of ``path`` (longest side at most ``max_side``) and its full size.

    RAW files are developed at half size (no demosaicing), JPEGs decoded at reduced size;
    other formats are read in full and scaled down. Raises :class:`ImageReadError`.
    """
    path = Path(path)
    data = read_file_bytes(path)
    route = _route(path, data)
    if route.decoder == "raw":
        pixels, width, height = raw_preview(path, data, max_side, max_pixels=max_pixels)
        return Preview(pixels, width, height, route.notes)
    if route.kind == "JPEG":
        quick = _jpeg_preview(data, max_side, max_pixels)
        if quick is not None:
            pixels, width, height = quick
            return Preview(pixels, width, height, route.notes)
    image = _decode(path, data, max_pixels)
    return Preview(_to_uint8(fit_within(image.pixels, max_side)), image.width, image.height, image.notes)


def _jpeg_preview(data: bytes, max_side: int, max_pixels: int | None) -> tuple[np.ndarray, int, int] | None:
    """Reduced-size JPEG decode (Pillow's draft mode), upright; None to take the full path."""
    try:
        with _quiet_pillow(), Image.open(io.BytesIO(data)) as image:
            width, height = image.size
            if image.mode not in ("RGB", "L", "CMYK", "YCbCr") or (max_pixels and width * height > max_pixels):
                return None
            _, orientation = _read_exif(image)
            image.draft("RGB", (max_side, max_side))
            pixels = np.asarray(image.convert("RGB"))
    except Exception:  # noqa: BLE001 - anything odd: the full reader gives the real reason
        return None
    pixels = _orient(pixels, orientation)
    if orientation in (5, 6, 7, 8):
        width, height = height, width
    return fit_within(pixels, max_side), width, height


def _to_uint8(pixels: np.ndarray) -> np.ndarray:
    if pixels.dtype == np.uint8:
        return np.ascontiguousarray(pixels)
    return (np.clip(pixels, 0.0, 1.0) * 255.0 + 0.5).astype(np.uint8)


@contextlib.contextmanager
def _quiet_pillow() -> Iterator[None]:
    """Pillow's UserWarnings about malformed metadata ("Corrupt EXIF data") stay off the terminal:
    broken metadata is dropped, and broken pixels are reported by our own messages."""
    with warnings.catch_warnings():
        warnings.simplefilter("ignore", UserWarning)
        yield


def _report_notes(path: Path, notes: tuple[str, ...]) -> tuple[str, ...]:
    for note in notes:
        log.warning("%s: %s", path, note)
    return notes


def _decode(path: Path, data: bytes, max_pixels: int | None, integers: bool = False) -> ImageData:
    route = _route(path, data)
    if route.decoder == "raw":
        frame = decode_raw(path, data, max_pixels=max_pixels, integers=integers)
        return ImageData(pixels=_pixel_type(frame.pixels, 16, integers), alpha=None, bit_depth=16, format="RAW",
                         exif=frame.exif, icc_profile=srgb_icc_profile(), path=path,
                         notes=_report_notes(path, route.notes + frame.notes))
    if route.decoder == "heif":
        heif = decode_heif(path, data, max_pixels=max_pixels)
        return ImageData(pixels=_pixel_type(heif.pixels, heif.bit_depth, integers),
                         alpha=_pixel_type(heif.alpha, heif.bit_depth, integers), bit_depth=heif.bit_depth,
                         format="HEIF", exif=heif.exif, icc_profile=heif.icc_profile, path=path,
                         notes=_report_notes(path, route.notes + heif.notes))
    return _decode_pillow(path, data, max_pixels, route.notes, integers)


def _pixel_type(values: np.ndarray | None, bit_depth: int, integers: bool) -> np.ndarray | None:
    """Float [0, 1] values as they are, or (``integers``) quantised to uint8 / uint16 by ``bit_depth``."""
    if values is None or not integers or values.dtype in INTEGER_MAX:
        return values
    return to_integers(values, np.uint16 if bit_depth == 16 else np.uint8)


def _bomb_message(max_pixels: int | None, pixels: int | None, size: tuple[int, int] | None = None) -> str:
    """The decompression-bomb refusal, stating *our* limit (Pillow's own messages state twice it)."""
    limit = f"the limit of {max_pixels / 1e6:.4g} MP ({max_pixels:,} pixels)" if max_pixels else "the limit"
    if size is not None:
        what = f"{size[0]}x{size[1]} ({size[0] * size[1] / 1e6:.4g} MP)"
    elif pixels is not None:
        what = f"{pixels / 1e6:.4g} MP"
    else:
        what = "the image"
    return f"{what} is more than {limit}; refused as a possible decompression bomb"


def _decode_pillow(path: Path, data: bytes, max_pixels: int | None, notes: tuple[str, ...],
                   integers: bool = False) -> ImageData:
    with _BOMB_LOCK, warnings.catch_warnings():
        # Pillow only warns between MAX_IMAGE_PIXELS and twice that; both count as a bomb here.
        warnings.simplefilter("error", Image.DecompressionBombWarning)
        warnings.simplefilter("ignore", UserWarning)  # "Corrupt EXIF data" etc.: our own messages say it
        previous = Image.MAX_IMAGE_PIXELS
        Image.MAX_IMAGE_PIXELS = max_pixels
        try:
            image = Image.open(io.BytesIO(data))
        except (Image.DecompressionBombError, Image.DecompressionBombWarning) as exc:
            found = re.search(r"\((\d+) pixels\)", str(exc))
            raise ImageReadError(path, _bomb_message(max_pixels, int(found.group(1)) if found else None)) from None
        except UnidentifiedImageError:
            raise ImageReadError(path, f"not an image file (content not recognised{_name_hint(path)})") from None
        except _PILLOW_ERRORS as exc:
            raise ImageReadError(path, f"file is truncated or corrupt ({_short(exc)})") from None
        finally:
            Image.MAX_IMAGE_PIXELS = previous

    with image:
        fmt = "JPEG" if image.format == "MPO" else (image.format or "")
        if image.format not in _READ_FORMATS:
            raise ImageReadError(path, f"{image.format} images are not supported (use {_SUPPORTED_TEXT})")
        width, height = image.size
        if max_pixels is not None and width * height > max_pixels:
            raise ImageReadError(path, _bomb_message(max_pixels, None, (width, height)))
        notes = _report_notes(path, notes + _frame_notes(image))
        icc = image.info.get("icc_profile") or None
        exif, orientation = _read_exif(image)
        if _is_16_bit(image, data):
            decoded = _decode_16_bit(data, integers)
            if decoded is not None:
                pixels, alpha = decoded
                return ImageData(
                    pixels=_orient(pixels, orientation),
                    alpha=None if alpha is None else _orient(alpha, orientation),
                    bit_depth=16, format=fmt, exif=exif, icc_profile=icc, path=path, notes=notes,
                )
            log.warning("%s: 16-bit decoding failed, reading it with 8 bits per channel", path)
        jpeg = _decode_jpeg(image, data)
        if jpeg is not None:
            pixels = _orient(jpeg, orientation)
            return ImageData(pixels=pixels if integers else to_float(pixels), alpha=None, bit_depth=8,
                             format=fmt, exif=exif, icc_profile=icc, path=path, notes=notes)
        try:
            image.load()  # full decode: detects truncated and corrupt files
            if orientation != 1:  # what is left to turn: Pillow's TIFF loader turns it and drops the tag
                orientation = int(image.getexif().get(_ORIENTATION_TAG, 1) or 1)
            pixels, alpha, bit_depth = _pil_to_float(image, integers)
        except _PILLOW_ERRORS as exc:
            raise ImageReadError(path, f"file is truncated or corrupt ({_short(exc)})") from None
    # rotated as numpy views (a copy only when the orientation is not 1), not by exif_transpose,
    # which copies the whole Pillow image even when there is nothing to turn
    return ImageData(pixels=_orient(pixels, orientation),
                     alpha=None if alpha is None else _orient(alpha, orientation), bit_depth=bit_depth,
                     format=fmt, exif=exif, icc_profile=icc, path=path, notes=notes)


def _decode_jpeg(image: Image.Image, data: bytes) -> np.ndarray | None:
    """OpenCV's decode of an 8-bit RGB or grayscale JPEG (MPO: its first image) into a writable
    uint8 RGB array, as the file stores it (not rotated); None leaves the file to Pillow.

    OpenCV gives up on a truncated JPEG in recent versions but fills the missing rows with grey
    in older ones, so a file that does not end in an EOI marker goes to Pillow, whose decode
    reports the truncation (as it does for anything else odd: CMYK, 12-bit, trailing bytes).
    """
    if image.format not in ("JPEG", "MPO") or image.mode not in ("RGB", "L") or getattr(image, "bits", 8) != 8:
        return None
    if not data.endswith(b"\xff\xd9"):
        return None
    try:
        array = cv2.imdecode(np.frombuffer(data, dtype=np.uint8),
                             cv2.IMREAD_COLOR | cv2.IMREAD_IGNORE_ORIENTATION)
    except cv2.error:  # e.g. beyond OpenCV's own size limit (2^30 pixels), with max_pixels=None
        return None
    width, height = image.size
    if array is None or array.shape != (height, width, 3) or array.dtype != np.uint8:
        return None
    _swap_red_blue(array)
    return array


def _swap_red_blue(array: np.ndarray) -> None:
    """RGB <-> BGR in place, for a writable C-contiguous H x W x 3 array, a band of rows at a
    time: asked to work in place, cvtColor copies its whole source first."""
    rows = max(1, _BAND_BYTES // max(1, array.shape[1] * array.itemsize * 3))
    for y0 in range(0, array.shape[0], rows):
        band = array[y0:y0 + rows]
        swapped = cv2.cvtColor(band, cv2.COLOR_RGB2BGR, dst=band)
        if not np.may_share_memory(swapped, band):  # an OpenCV that allocated a new array after all
            band[...] = swapped


def _frame_notes(image: Image.Image) -> tuple[str, ...]:
    """'first of N frames used' for multi-page TIFF, animated GIF/PNG/WebP (not MPO's previews)."""
    if image.format == "MPO":
        return ()
    try:
        frames = int(getattr(image, "n_frames", 1) or 1)
    except Exception:  # noqa: BLE001 - a broken later frame: the first is still read
        frames = 1
    if frames <= 1:
        return ()
    unit = "pages" if image.format == "TIFF" else "frames"
    return (f"first of {frames} {unit} used",)


def _short(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."


def _name_hint(path: Path) -> str:
    if path.suffix.lower() in READ_EXTENSIONS:
        return f"; the name ends in {path.suffix} but the content is not such an image"
    return ""


def _read_exif(image: Image.Image) -> tuple[bytes | None, int]:
    """The file's EXIF bytes (TIFF: its descriptive tags only) and its orientation (1..8)."""
    try:
        with _quiet_pillow():
            exif = image.getexif()
        orientation = int(exif.get(_ORIENTATION_TAG, 1) or 1)
    except Exception as exc:  # malformed EXIF must not make the picture unreadable
        log.warning("ignoring unreadable EXIF: %s", exc)
        return None, 1
    if orientation not in range(1, 9):
        orientation = 1
    raw = image.info.get("exif")
    if isinstance(raw, bytes) and raw:
        return raw, orientation
    if image.format == "TIFF":
        return _clean_exif(exif, orientation=None), orientation
    return None, orientation


def _clean_exif(exif: Image.Exif, orientation: int | None) -> bytes | None:
    """EXIF bytes without a TIFF file's layout tags; orientation replaced when given."""
    clean = Image.Exif()
    for tag, value in exif.items():
        if tag in _STRUCTURAL_TAGS:
            continue
        if tag in (_EXIF_IFD_TAG, _GPS_IFD_TAG):
            sub = {k: v for k, v in exif.get_ifd(tag).items() if k not in _STRUCTURAL_TAGS}
            if sub:
                clean[tag] = sub
            continue
        clean[tag] = value
    if orientation is not None:
        clean[_ORIENTATION_TAG] = orientation
    if not len(clean):
        return None
    return clean.tobytes()


def _is_16_bit(image: Image.Image, data: bytes) -> bool:
    if image.format == "PNG":
        return len(data) > 24 and data[24] == 16  # IHDR bit depth
    if image.format == "TIFF":
        bits = image.tag_v2.get(258) if hasattr(image, "tag_v2") else None
        bits = bits if isinstance(bits, tuple) else (bits,)
        return 16 in bits
    return False


def _decode_16_bit(data: bytes, integers: bool = False) -> tuple[np.ndarray, np.ndarray | None] | None:
    """OpenCV decode of a 16-bit PNG/TIFF (float32, or uint16 with ``integers``); None when
    OpenCV cannot read it."""
    array = cv2.imdecode(np.frombuffer(data, dtype=np.uint8), cv2.IMREAD_UNCHANGED)
    if array is None or array.dtype != np.uint16:
        return None
    values = array if integers else array.astype(np.float32) / 65535.0
    if values.ndim == 2:
        return np.repeat(values[:, :, None], 3, axis=2), None
    channels = values.shape[2]
    if channels == 1:
        return np.repeat(values, 3, axis=2), None
    if channels == 2:
        return np.repeat(values[:, :, :1], 3, axis=2), np.ascontiguousarray(values[:, :, 1])
    rgb = np.ascontiguousarray(values[:, :, 2::-1])
    alpha = np.ascontiguousarray(values[:, :, 3]) if channels >= 4 else None
    return rgb, alpha


def _orient(array: np.ndarray, orientation: int) -> np.ndarray:
    """Apply an EXIF orientation (1..8) to an H x W (x C) array, as ``exif_transpose`` does."""
    if orientation == 2:
        array = array[:, ::-1]
    elif orientation == 3:
        array = array[::-1, ::-1]
    elif orientation == 4:
        array = array[::-1]
    elif orientation == 5:
        array = array.swapaxes(0, 1)
    elif orientation == 6:
        array = np.rot90(array, -1)
    elif orientation == 7:
        array = array[::-1, ::-1].swapaxes(0, 1)
    elif orientation == 8:
        array = np.rot90(array, 1)
    return np.ascontiguousarray(array)


def _pil_to_float(image: Image.Image, integers: bool = False) -> tuple[np.ndarray, np.ndarray | None, int]:
    """Pixels, alpha and bit depth of a decoded Pillow image of any mode (float32, or with
    ``integers`` uint8 / uint16 by bit depth)."""
    if integers:
        if image.mode not in ("RGB", "RGBA") and not image.mode.startswith(("I", "F")):
            image = image.convert("RGBA" if _has_alpha(image) else "RGB")
        if image.mode in ("RGB", "RGBA"):  # the common case: no float copy at all
            rgb, alpha = _pillow_rgb(image)
            return rgb, alpha, 8
        pixels, alpha, bits = _pil_to_float(image)
        return _pixel_type(pixels, bits, True), _pixel_type(alpha, bits, True), bits
    mode = image.mode
    if mode in ("I;16", "I;16L", "I;16B", "I;16N", "I"):
        values = np.asarray(image).astype(np.float32)
        bits = 16 if mode.startswith("I;16") or values.max(initial=0) > 255 else 8
        gray = np.clip(values / (65535.0 if bits == 16 else 255.0), 0.0, 1.0)
        return np.repeat(gray[:, :, None], 3, axis=2), None, bits
    if mode == "F":
        gray = np.clip(np.asarray(image, dtype=np.float32), 0.0, 1.0)
        return np.repeat(gray[:, :, None], 3, axis=2), None, 16
    has_alpha = _has_alpha(image)
    if mode in ("RGBa", "La"):
        image = image.convert("RGBA")
    target = "RGBA" if has_alpha else "RGB"
    rgb, alpha = _pillow_rgb(image if image.mode == target else image.convert(target))
    return to_float(rgb), None if alpha is None else to_float(alpha), 8


def _pillow_rgb(image: Image.Image) -> tuple[np.ndarray, np.ndarray | None]:
    """A loaded RGB or RGBA Pillow image as writable uint8 arrays (RGB, alpha or None), copied a
    band of rows at a time: ``np.asarray(image)`` goes through one full-size ``tobytes()`` (which
    numpy keeps, read-only) on top of Pillow's 4 bytes per pixel."""
    width, height = image.size
    rgb = np.empty((height, width, 3), dtype=np.uint8)
    alpha = np.empty((height, width), dtype=np.uint8) if image.mode == "RGBA" else None
    rows = max(1, _BAND_BYTES // (4 * max(1, width)))
    for y0 in range(0, height, rows):
        band = np.asarray(image.crop((0, y0, width, min(height, y0 + rows))))
        rgb[y0:y0 + rows] = band[:, :, :3]
        if alpha is not None:
            alpha[y0:y0 + rows] = band[:, :, 3]
    return rgb, alpha


def _has_alpha(image: Image.Image) -> bool:
    mode = image.mode
    return mode in ("RGBA", "LA", "PA", "RGBa", "La") or (mode == "P" and "transparency" in image.info)


# --------------------------------------------------------------------------------------- writing


def write_image(
    path: str | Path,
    pixels: np.ndarray,
    *,
    alpha: np.ndarray | None = None,
    source: ImageData | None = None,
    quality: int = 95,
    bit_depth: int | None = None,
    keep_metadata: bool = True,
    overwrite: bool = False,
) -> Path:
    """Write RGB ``pixels`` (float in [0, 1], or uint8 / uint16) to ``path``; the format follows the suffix.

    ``bit_depth`` 16 is honoured for PNG and TIFF, and written as 10 bits by HEIC (default:
    the source's depth, else 8).
    With ``keep_metadata`` the source's EXIF (orientation reset to 1, since the pixels are
    upright) and ICC profile are written. ``alpha`` is written by PNG, TIFF and WebP and
    dropped by JPEG. A JPEG is encoded from ``pixels`` themselves, swapped to BGR and back in
    place when they are writable uint8: do not read them from another thread meanwhile. The
    write is atomic. Refuses to replace an existing file unless ``overwrite``, and always
    refuses to write onto ``source.path``. Raises :class:`ImageWriteError`.
    """
    path = Path(path)
    fmt = WRITE_FORMATS.get(path.suffix.lower())
    if fmt is None:
        raise ImageWriteError(path, f"unsupported file type '{path.suffix}'; use one of {', '.join(WRITE_FORMATS)}")
    rgb = _check_pixels(path, pixels)
    alpha_values = _check_alpha(path, alpha, rgb.shape[:2])
    if source is not None and _same_file(path, source.path):
        raise ImageWriteError(path, "this is the original image; refusing to overwrite it")
    if path.is_dir():
        raise ImageWriteError(path, "a folder of that name exists")
    if path.exists() and not overwrite:
        raise OutputExistsError(path)
    folder = path.parent if str(path.parent) else Path(".")
    if not folder.is_dir():
        raise ImageWriteError(path, f"folder '{folder}' does not exist")

    depth = bit_depth if bit_depth is not None else (source.bit_depth if source is not None else 8)
    if depth not in (8, 16):
        raise ImageWriteError(path, f"bit depth must be 8 or 16, not {depth}")
    if depth == 16 and fmt not in ("PNG", "TIFF", "HEIF"):
        log.info("%s: %s holds 8 bits per channel; writing 8-bit", path, fmt)
        depth = 8
    if not 1 <= int(quality) <= 100:
        raise ImageWriteError(path, f"quality must be 1..100, not {quality}")

    exif = icc = None
    if keep_metadata and source is not None:
        exif = _exif_for_output(source.exif)
        icc = source.icc_profile if _is_rgb_profile(source.icc_profile) else None
    try:
        encoded = _encode(fmt, rgb, alpha_values, depth, int(quality), exif, icc)
    except _ENCODE_ERRORS as exc:
        if not (exif or icc):
            raise ImageWriteError(path, f"encoding as {fmt} failed ({exc})") from exc
        # e.g. EXIF larger than JPEG's 64 KB segment: keep the picture, drop the metadata
        log.warning("%s: metadata could not be written (%s); writing without it", path, exc)
        try:
            encoded = _encode(fmt, rgb, alpha_values, depth, int(quality), None, None)
        except _ENCODE_ERRORS as exc2:
            raise ImageWriteError(path, f"encoding as {fmt} failed ({exc2})") from exc2
    _write_atomically(path, encoded, overwrite=overwrite)
    return path


def same_format_extension(path: str | Path) -> str:
    """The extension ``--format same`` gives the output of ``path``: its own where it can be
    written, 16-bit TIFF (``.tif``) for camera RAW, PNG for BMP and GIF."""
    suffix = Path(path).suffix
    if suffix.lower() in WRITE_FORMATS:
        return suffix
    return SAME_FORMAT_FALLBACK.get(suffix.lower(), ".png")


def unique_path(path: str | Path) -> Path:
    """``path`` if no such file exists, else the first free ``name (1).ext``, ``name (2).ext``..."""
    return free_name(path)


def _check_pixels(path: Path, pixels: np.ndarray) -> np.ndarray:
    if not isinstance(pixels, np.ndarray) or pixels.ndim != 3 or pixels.shape[2] != 3:
        shape = getattr(pixels, "shape", type(pixels).__name__)
        raise ImageWriteError(path, f"pixels must be an H x W x 3 array, got {shape}")
    if pixels.dtype in INTEGER_MAX:
        return pixels
    if not np.issubdtype(pixels.dtype, np.floating):
        raise ImageWriteError(path, f"pixels must be floating point in [0, 1], uint8 or uint16, got {pixels.dtype}")
    return np.clip(np.nan_to_num(pixels.astype(np.float32, copy=False), nan=0.0), 0.0, 1.0)


def _check_alpha(path: Path, alpha: np.ndarray | None, shape: tuple[int, ...]) -> np.ndarray | None:
    if alpha is None:
        return None
    if not isinstance(alpha, np.ndarray) or alpha.shape != tuple(shape):
        raise ImageWriteError(path, f"alpha must be an H x W array of shape {tuple(shape)}")
    if alpha.dtype in INTEGER_MAX:
        return alpha
    return np.clip(np.nan_to_num(alpha.astype(np.float32, copy=False), nan=1.0), 0.0, 1.0)


def _same_file(a: Path, b: Path) -> bool:
    try:
        if a.exists() and b.exists():
            return os.path.samefile(a, b)
        return os.path.normcase(str(a.resolve())) == os.path.normcase(str(b.resolve()))
    except OSError:
        return False


def _exif_for_output(raw: bytes | None) -> bytes | None:
    if not raw:
        return None
    try:
        exif = Image.Exif()
        with _quiet_pillow():
            exif.load(raw)
        return _clean_exif(exif, orientation=1)
    except Exception as exc:  # a broken EXIF block is dropped, not fatal
        log.warning("dropping unreadable EXIF: %s", exc)
        return None


def _is_rgb_profile(icc: bytes | None) -> bool:
    """True for an ICC profile that describes RGB data (gray/CMYK profiles would be wrong)."""
    return bool(icc) and len(icc) >= 20 and icc[16:20] == b"RGB "


def _quantize(values: np.ndarray, depth: int) -> np.ndarray:
    if values.dtype in INTEGER_MAX:
        return convert_depth(values, np.uint16 if depth == 16 else np.uint8)
    if depth == 16:
        return (values * 65535.0 + 0.5).astype(np.uint16)
    return (values * 255.0 + 0.5).astype(np.uint8)


def _encode(fmt: str, rgb: np.ndarray, alpha: np.ndarray | None, depth: int, quality: int,
            exif: bytes | None, icc: bytes | None) -> bytes:
    if fmt == "JPEG":
        alpha = None
    if alpha is not None and (alpha.dtype in INTEGER_MAX) != (rgb.dtype in INTEGER_MAX):  # one type for both
        alpha = (convert_depth(alpha, rgb.dtype) if alpha.dtype in INTEGER_MAX else to_integers(alpha, rgb.dtype)) \
            if rgb.dtype in INTEGER_MAX else alpha.astype(np.float32) / np.float32(INTEGER_MAX[alpha.dtype])
    elif alpha is not None and alpha.dtype in INTEGER_MAX:
        alpha = convert_depth(alpha, rgb.dtype)
    planes = rgb if alpha is None else np.concatenate([rgb, alpha[:, :, None]], axis=2)
    values = _quantize(planes, depth)
    if fmt == "TIFF":
        return _encode_tiff(values, exif, icc)
    if fmt == "HEIF":
        return encode_heif(values, quality, exif, icc)
    if fmt == "PNG" and depth == 16:
        bgr = values[:, :, [2, 1, 0, 3]] if values.shape[2] == 4 else values[:, :, ::-1]
        ok, buffer = cv2.imencode(".png", np.ascontiguousarray(bgr))
        if not ok:
            raise ValueError("OpenCV could not encode the 16-bit PNG")
        return _add_png_metadata(buffer.tobytes(), exif, icc)
    if fmt == "JPEG":
        return _encode_jpeg(values, quality, exif, icc)
    image = Image.fromarray(values)
    options: dict[str, object] = {}
    if exif:
        options["exif"] = exif
    if icc:
        options["icc_profile"] = icc
    if fmt == "WEBP":
        options.update(quality=quality, method=4)
    elif fmt == "AVIF":
        options.update(quality=quality)
    elif fmt == "PNG":
        options.update(compress_level=6)
    buffer = io.BytesIO()
    image.save(buffer, format=fmt, **options)
    return buffer.getvalue()


def _encode_jpeg(rgb: np.ndarray, quality: int, exif: bytes | None, icc: bytes | None) -> bytes:
    """An 8-bit RGB JPEG by OpenCV (4:4:4 from quality 90, else 4:2:0), with the EXIF and ICC
    segments inserted after the JFIF header, as Pillow places them.

    The Huffman tables are the standard ones: optimised tables make libjpeg keep the whole
    picture's DCT coefficients, 2 bytes per sample (two frames at 4:4:4, one at 4:2:0), for
    files 2-3 % smaller.

    OpenCV reads BGR: a writable C-contiguous ``rgb`` is swapped to BGR in place for the
    encode and back afterwards (no full-size copy, where Pillow would hold 4 bytes a pixel);
    others are copied. Metadata that does not fit raises ValueError before anything is encoded.
    """
    segments = _jpeg_metadata(exif, icc)
    sampling = cv2.IMWRITE_JPEG_SAMPLING_FACTOR_444 if quality >= 90 else cv2.IMWRITE_JPEG_SAMPLING_FACTOR_420
    params = [cv2.IMWRITE_JPEG_QUALITY, quality, cv2.IMWRITE_JPEG_SAMPLING_FACTOR, sampling,
              cv2.IMWRITE_JPEG_OPTIMIZE, 0]
    if rgb.flags.writeable and rgb.flags.c_contiguous:
        _swap_red_blue(rgb)
        try:
            ok, buffer = cv2.imencode(".jpg", rgb, params)
        finally:
            _swap_red_blue(rgb)
    else:
        ok, buffer = cv2.imencode(".jpg", np.ascontiguousarray(rgb[:, :, ::-1]), params)
    if not ok:
        raise ValueError("OpenCV could not encode the JPEG")
    encoded = memoryview(buffer.reshape(-1))  # (n, 1) in some OpenCV versions
    start = 2  # after SOI, and after OpenCV's JFIF APP0 segment when it wrote one
    if encoded[2:4] == b"\xff\xe0":
        start = 4 + int.from_bytes(encoded[4:6], "big")
    return b"".join((encoded[:start], segments, encoded[start:]))


def _jpeg_metadata(exif: bytes | None, icc: bytes | None) -> bytes:
    """JPEG APP1 (EXIF) and APP2 (ICC profile, in numbered chunks) segments; ValueError for EXIF
    larger than one segment holds or an ICC profile of more than 255 chunks."""
    segments = []
    if exif:
        payload = exif if exif.startswith(b"Exif\x00\x00") else b"Exif\x00\x00" + exif
        if len(payload) > _JPEG_SEGMENT_MAX:
            raise ValueError(f"EXIF data is too long for JPEG ({len(payload):,} bytes, "
                             f"at most {_JPEG_SEGMENT_MAX:,})")
        segments.append(b"\xff\xe1" + struct.pack(">H", 2 + len(payload)) + payload)
    if icc:
        room = _JPEG_SEGMENT_MAX - 14  # b"ICC_PROFILE\0", sequence number, count
        chunks = [icc[i:i + room] for i in range(0, len(icc), room)]
        if len(chunks) > 255:
            raise ValueError(f"ICC profile is too long for JPEG ({len(icc):,} bytes, at most 255 segments)")
        segments += [b"\xff\xe2" + struct.pack(">H", 16 + len(chunk)) + b"ICC_PROFILE\x00"
                     + bytes((number, len(chunks))) + chunk for number, chunk in enumerate(chunks, 1)]
    return b"".join(segments)


def _png_chunk(kind: bytes, payload: bytes) -> bytes:
    return struct.pack(">I", len(payload)) + kind + payload + struct.pack(">I", zlib.crc32(kind + payload))


def _add_png_metadata(png: bytes, exif: bytes | None, icc: bytes | None) -> bytes:
    """Insert iCCP and eXIf chunks right after IHDR (OpenCV writes neither)."""
    extra = b""
    if icc:
        extra += _png_chunk(b"iCCP", b"ICC Profile\x00\x00" + zlib.compress(icc))
    if exif:
        extra += _png_chunk(b"eXIf", exif.removeprefix(b"Exif\x00\x00"))
    ihdr_end = 8 + 8 + 13 + 4
    return png[:ihdr_end] + extra + png[ihdr_end:]


def _encode_tiff(values: np.ndarray, exif: bytes | None, icc: bytes | None) -> bytes:
    """A single-strip little-endian TIFF of 8- or 16-bit RGB(A): Deflate with horizontal predictor."""
    height, width, channels = values.shape
    bits = values.dtype.itemsize * 8
    differences = values.copy()
    differences[:, 1:] -= values[:, :-1]  # TIFF predictor 2 (unsigned wrap-around is intended)
    strip = zlib.compress(differences.astype(values.dtype.newbyteorder("<"), copy=False).tobytes(), 3)
    ifd = TiffImagePlugin.ImageFileDirectory_v2(prefix=b"II")
    if exif:
        parsed = Image.Exif()
        parsed.load(exif)
        for tag, value in parsed.items():
            if tag in (_EXIF_IFD_TAG, _GPS_IFD_TAG):
                sub = parsed.get_ifd(tag)
                if sub:
                    ifd[tag] = dict(sub)
            elif tag not in _STRUCTURAL_TAGS:
                ifd[tag] = value
    layout = {256: width, 257: height, 258: (bits,) * channels, 259: 8, 262: 2, 273: (0,), 277: channels,
              278: height, 279: (len(strip),), 284: 1, 317: 2}
    if channels == 4:
        layout[338] = (2,)  # unassociated alpha
    for tag, value in layout.items():
        ifd[tag] = value
        ifd.tagtype[tag] = 3 if tag in (258, 259, 262, 277, 284, 317, 338) else 4
    if icc:
        ifd[34675] = icc
        ifd.tagtype[34675] = 7
    # Layout: header, IFD at offset 8, then the strip; Pillow moves StripOffsets past the IFD.
    return b"II*\x00" + struct.pack("<I", 8) + ifd.tobytes(8) + strip


def _write_atomically(path: Path, data: bytes, *, overwrite: bool) -> None:
    """Publish ``data`` as ``path`` with :func:`core.atomic.write_atomically`; errors as
    :class:`ImageWriteError` (:class:`OutputExistsError` when the name is taken)."""
    folder = path.parent if str(path.parent) else Path(".")
    created = False

    def write(tmp: Path) -> None:
        nonlocal created
        created = True
        tmp.write_bytes(data)

    try:
        write_atomically(path, write, mode="replace" if overwrite else "no_clobber", suffix=".part")
    except FileExistsError:
        raise OutputExistsError(path) from None
    except PermissionError as exc:
        if created:
            raise ImageWriteError(path, f"writing failed ({exc.strerror or exc})") from exc
        raise ImageWriteError(path, f"folder '{folder}' is not writable (permission denied)") from None
    except OSError as exc:
        if created:
            raise ImageWriteError(path, f"writing failed ({exc.strerror or exc})") from exc
        raise ImageWriteError(path, f"cannot create a file in '{folder}' ({exc.strerror or exc})") from None
