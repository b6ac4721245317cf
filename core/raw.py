"""Camera RAW files (DNG, CR2, CR3, NEF, ARW, RAF, ORF, RW2, ... everything LibRaw reads), via rawpy.

Development. LibRaw demosaics with the camera's white balance into *linear* 16-bit sRGB
(no automatic brightening, no gamma). This module then does, per value through one lookup
table: an automatic **pre-gain on the linear sensor data** (the white point a camera's
auto-brightening would choose: 1 % of the brightest channel's values above it; at most 8
stops), a highlight shoulder that rolls the values above the new white off instead of
clipping them, and the tone curve (BT.709 by default, the camera-style curve LibRaw also
uses). So the exposure a dark RAW needs is applied to 12-14-bit linear data before the tone
curve, not by stretching 8-bit values, and the network gets a camera-style rendering like the
photos it was trained on; enhancing it measured at least as good as enhancing LibRaw's own
8-bit camera rendering (benchmarks/raw_exposure_eval.py). The engine's own exposure
normalisation and the user's EV then act on this rendering (in sRGB-decoded light). With
``RawConfig(auto_bright=None, tone_curve="srgb")`` the picture is the exact sRGB encoding of
the linear data instead.

Previews use LibRaw's half-size mode (each 2x2 Bayer block becomes one pixel, no
interpolation: 0.4-0.7 s for 24 MP on two cores), developed the same way, so colours and
tones match the full development; the embedded JPEG preview is the fallback when that fails.

EXIF comes from the file's own TIFF structure (DNG, NEF, CR2, ARW, PEF, ORF, RW2...), CR3's
CMT boxes or the embedded JPEG preview, completed from what LibRaw parsed (exposure, ISO,
f-number, focal length, date, lens). Outputs get an sRGB ICC profile.
"""

from __future__ import annotations

import functools
import io
import logging
import math
import struct
import warnings
from dataclasses import dataclass
from datetime import datetime
from fractions import Fraction
from pathlib import Path
from typing import Any

import cv2
import numpy as np
from PIL import Image, ImageCms, TiffImagePlugin

from .errors import ImageReadError
from .formats import KIND_NAMES, TiffWalker, ftyp_brands, sniff

log = logging.getLogger(__name__)

_EXIF_IFD, _GPS_IFD, _ORIENTATION = 0x8769, 0x8825, 0x0112
#: IFD 0 tags that describe the photo (everything else in a RAW's IFD 0 is about its layout).
_IFD0_KEEP = frozenset({270, 271, 272, 274, 305, 306, 315, 33432})
#: EXIF tags never carried over: MakerNote (offsets into the RAW file), the interop pointer.
_EXIF_DROP = frozenset({37500, 0xA005})
_MAX_TAG_BYTES = 4096
#: LibRaw flip codes -> (width, height) swapped.
_SWAPPING_FLIPS = frozenset({5, 6})


@dataclass(frozen=True)
class RawConfig:
    """How RAW files are developed (see the module docstring; figures: benchmarks/raw_exposure_eval.py)."""

    #: LibRaw demosaic algorithm for full quality ("AHD", "PPG", "LINEAR", "DHT", "AAHD", ...);
    #: AHD: 3.3 s for 24 MP on two cores.
    demosaic: str = "AHD"
    #: Saturated sensor values: "clip" keeps them neutral white (no magenta casts).
    highlights: str = "clip"
    #: Automatic pre-gain on the linear data, like a camera's auto-brightening: the level at
    #: which this fraction of the values of the brightest channel lies above becomes white.
    #: None: no pre-gain (the picture as exposed).
    auto_bright: float | None = 0.01
    #: Largest pre-gain (2^8 = 8 stops) and the knee of the highlight shoulder that rolls the
    #: values above the new white off instead of clipping them (``core.exposure.highlight_shoulder``).
    max_pre_gain: float = 256.0
    shoulder_knee: float = 0.85
    #: Tone curve after the pre-gain: "bt709" (the camera-style curve LibRaw also uses; the
    #: network enhances it better: +0.3-0.5 dB over "srgb" on dark synthetic RAW) or "srgb"
    #: (the exact sRGB encoding of the linear data).
    tone_curve: str = "bt709"

    def __post_init__(self) -> None:
        if self.tone_curve not in ("bt709", "srgb"):
            raise ValueError(f"tone_curve must be 'bt709' or 'srgb', not {self.tone_curve!r}")
        if self.auto_bright is not None and not 0.0 < self.auto_bright < 0.5:
            raise ValueError(f"auto_bright must be a fraction in (0, 0.5) or None, not {self.auto_bright}")
        if self.max_pre_gain < 1.0:
            raise ValueError("max_pre_gain must be at least 1")


DEFAULT_RAW_CONFIG = RawConfig()


@dataclass(frozen=True)
class RawFrame:
    """A developed RAW picture: upright float32 sRGB-encoded pixels in [0, 1] and its EXIF."""

    pixels: np.ndarray  # float32 in [0, 1], or uint16 when asked for integers
    exif: bytes | None
    notes: tuple[str, ...] = ()


def _rawpy() -> Any:
    try:
        import rawpy
    except ImportError as exc:  # pragma: no cover - rawpy is a dependency
        raise RuntimeError("reading RAW files needs the 'rawpy' package (pip install rawpy)") from exc
    return rawpy


def libraw_version() -> str:
    try:
        return ".".join(str(v) for v in _rawpy().libraw_version)
    except (RuntimeError, TypeError):
        return "?"


class _Buffer:
    """What ``rawpy`` reads from: hands over the bytes already in memory without a copy."""

    def __init__(self, data: bytes) -> None:
        self._data = data

    def read(self, *_: object) -> bytes:
        return self._data


@functools.cache
def srgb_lut16() -> np.ndarray:
    """float32 sRGB encoding of every 16-bit linear value (65536 entries)."""
    x = np.arange(65536, dtype=np.float64) / 65535.0
    encoded = np.where(x <= 0.0031308, 12.92 * x, 1.055 * np.power(x, 1 / 2.4) - 0.055)
    return encoded.astype(np.float32)


@functools.cache
def srgb_lut16_u16() -> np.ndarray:
    """uint16 sRGB encoding of every 16-bit linear value: :func:`srgb_lut16` quantised exactly as
    ``core.pixels.store`` quantises float32 (so both paths give the same integers)."""
    return (srgb_lut16() * np.float32(65535.0) + np.float32(0.5)).astype(np.uint16)


def pre_gain(linear: np.ndarray, config: RawConfig) -> float:
    """The automatic linear gain for 16-bit ``linear`` RGB: 1 / (the brightest channel's level
    above which ``config.auto_bright`` of its values lie), within [1, ``max_pre_gain``]."""
    if config.auto_bright is None:
        return 1.0
    step = max(1, int((linear.shape[0] * linear.shape[1] / 500_000) ** 0.5))  # ~0.5 MP sample
    sample = linear[::step, ::step]
    white = 1
    for channel in range(3):
        counts = np.bincount(sample[..., channel].ravel(), minlength=65536)
        from_top = np.cumsum(counts[::-1])
        white = max(white, 65535 - int(np.searchsorted(from_top, config.auto_bright * sample[..., 0].size)))
    return float(np.clip(65535.0 / white, 1.0, config.max_pre_gain))


def development_lut(gain: float, config: RawConfig, *, integers: bool = False) -> np.ndarray:
    """What every 16-bit linear value becomes: times ``gain`` in linear light, highlights above
    the new white rolled off, then the tone curve; float32 in [0, 1] (``integers``: uint16,
    quantised as ``core.pixels.store`` does)."""
    x = np.arange(65536, dtype=np.float64) / 65535.0 * gain
    y = np.clip(_shoulder(x, gain, config.shoulder_knee) if gain > 1.0 else x, 0.0, 1.0)
    if config.tone_curve == "bt709":
        encoded = np.where(y < 0.018, 4.5 * y, 1.099 * np.power(y, 0.45) - 0.099)
    else:
        encoded = np.where(y <= 0.0031308, 12.92 * y, 1.055 * np.power(y, 1 / 2.4) - 0.055)
    lut = np.clip(encoded, 0.0, 1.0).astype(np.float32)
    if integers:
        return (lut * np.float32(65535.0) + np.float32(0.5)).astype(np.uint16)
    return lut


def _shoulder(x: np.ndarray, white: float, knee: float) -> np.ndarray:
    """``core.exposure.highlight_shoulder`` for one image, in numpy (65536 values: a few ms instead
    of hundreds of small torch operations; tests/test_raw.py checks that both agree)."""
    span = max(1.0, (white - knee) / (1.0 - knee))
    if span <= 1.0 + 1e-9:
        return np.minimum(x, 1.0)
    lo, hi = 0.0, 2.0 * math.log(span) + 4.0
    for _ in range(60):  # the rate a > 0 with log1p(a * span) == a: slope 1 at the knee
        mid = 0.5 * (lo + hi)
        lo, hi = (mid, hi) if math.log1p(mid * span) > mid else (lo, mid)
    rate = 0.5 * (lo + hi)
    t = np.clip((x - knee) / (1.0 - knee), 0.0, span)
    rolled = knee + (1.0 - knee) * np.log1p(rate * t) / math.log1p(rate * span)
    return np.minimum(np.where(x > knee, rolled, x), 1.0)


def render_linear16(linear: np.ndarray, rows_per_chunk: int = 256, *, integers: bool = False,
                    lut: np.ndarray | None = None) -> np.ndarray:
    """Linear 16-bit RGB through ``lut`` (default: the plain sRGB encoding), in row chunks: float32
    in [0, 1], or uint16 with ``integers``."""
    if lut is None:
        lut = srgb_lut16_u16() if integers else srgb_lut16()
    out = np.empty(linear.shape, dtype=lut.dtype)
    for y in range(0, linear.shape[0], rows_per_chunk):
        np.take(lut, linear[y:y + rows_per_chunk], out=out[y:y + rows_per_chunk])
    return out


@functools.cache
def srgb_icc_profile() -> bytes:
    """An sRGB ICC profile (LittleCMS's built-in one) for outputs developed from RAW."""
    return ImageCms.ImageCmsProfile(ImageCms.createProfile("sRGB")).tobytes()


def _params(rawpy: Any, config: RawConfig, half_size: bool) -> dict[str, Any]:
    algorithm = getattr(rawpy.DemosaicAlgorithm, config.demosaic.upper(), rawpy.DemosaicAlgorithm.AHD)
    highlights = {"clip": rawpy.HighlightMode.Clip, "ignore": rawpy.HighlightMode.Ignore,
                  "blend": rawpy.HighlightMode.Blend}.get(config.highlights, rawpy.HighlightMode.Clip)
    return dict(use_camera_wb=True, no_auto_bright=True, output_bps=16, gamma=(1.0, 1.0),
                output_color=rawpy.ColorSpace.sRGB, highlight_mode=highlights, half_size=half_size,
                demosaic_algorithm=None if half_size else algorithm)


def _open(path: Path, data: bytes) -> Any:
    rawpy = _rawpy()
    raw = rawpy.RawPy()
    try:
        raw.open_buffer(_Buffer(data))
    except rawpy.LibRawError as exc:
        raw.close()
        raise _error(path, data, exc) from None
    return raw


def _upright_size(raw: Any) -> tuple[int, int]:
    sizes = raw.sizes
    width, height = int(sizes.width), int(sizes.height)
    return (height, width) if int(sizes.flip) in _SWAPPING_FLIPS else (width, height)


def _check_size(path: Path, raw: Any, max_pixels: int | None) -> tuple[int, int]:
    width, height = _upright_size(raw)
    if width <= 0 or height <= 0:
        raise ImageReadError(path, "the RAW file holds no image data (its sensor image is empty)")
    if max_pixels is not None and width * height > max_pixels:
        raise ImageReadError(path, f"{width}x{height} ({width * height / 1e6:.0f} MP) is more than the limit of "
                                   f"{max_pixels / 1e6:g} MP, refused as a possible decompression bomb")
    return width, height


def decode_raw(path: Path, data: bytes, *, half_size: bool = False, max_pixels: int | None = None,
               config: RawConfig | None = None, integers: bool = False) -> RawFrame:
    """Develop a RAW file (its bytes ``data``) into upright float32 sRGB-encoded pixels (uint16
    with ``integers``: the 16-bit frame without a float32 copy, for the engine's integer path).

    ``half_size`` skips demosaicing (half the width and height; for previews). Raises
    :class:`ImageReadError` naming the file: truncated or corrupt, unsupported camera, no
    image data, too many pixels.
    """
    rawpy = _rawpy()
    config = config or DEFAULT_RAW_CONFIG
    raw = _open(path, data)
    try:
        _check_size(path, raw, max_pixels)
        try:
            linear = raw.postprocess(**_params(rawpy, config, half_size))
        except rawpy.LibRawError as exc:
            raise _error(path, data, exc) from None
        except MemoryError:
            raise ImageReadError(path, "not enough memory to develop this RAW file") from None
        exif = raw_exif(data, raw)
    finally:
        raw.close()  # frees LibRaw's buffers before the float copy is made
    if linear.ndim != 3 or linear.shape[2] != 3 or linear.size == 0:
        raise ImageReadError(path, f"the RAW file decoded to an unusable image of shape {linear.shape}")
    gain = pre_gain(linear, config)
    pixels = render_linear16(linear, integers=integers, lut=development_lut(gain, config, integers=integers))
    del linear
    log.info("%s: developed with %+.1f EV of automatic pre-gain", path, np.log2(gain))
    return RawFrame(pixels=pixels, exif=exif)


def raw_preview(path: Path, data: bytes, max_side: int, *, max_pixels: int | None = None,
                config: RawConfig | None = None) -> tuple[np.ndarray, int, int]:
    """A quick display copy of a RAW file: (uint8 RGB upright, longest side <= ``max_side``,
    full width, full height). Half-size decoding; the embedded JPEG when that fails."""
    rawpy = _rawpy()
    config = config or DEFAULT_RAW_CONFIG
    raw = _open(path, data)
    try:
        width, height = _check_size(path, raw, max_pixels)
        try:
            linear = raw.postprocess(**_params(rawpy, config, half_size=True))
        except rawpy.LibRawError as exc:
            preview = _embedded_preview(raw)
            if preview is None:
                raise _error(path, data, exc) from None
            log.info("%s: half-size decoding failed (%s); showing the embedded preview", path, exc)
            return fit_within(preview, max_side), width, height
    finally:
        raw.close()
    lut = development_lut(pre_gain(linear, config), config)
    small = fit_within(linear, max_side)
    return (lut[small] * 255.0 + 0.5).astype(np.uint8), width, height


def fit_within(array: np.ndarray, max_side: int) -> np.ndarray:
    """``array`` area-downscaled so its longest side is at most ``max_side`` (unchanged if it is)."""
    h, w = array.shape[:2]
    scale = max_side / max(h, w)
    if scale >= 1.0:
        return np.ascontiguousarray(array)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return cv2.resize(array, size, interpolation=cv2.INTER_AREA)


def _embedded_preview(raw: Any) -> np.ndarray | None:
    """The embedded preview as upright uint8 RGB, or None."""
    rawpy = _rawpy()
    try:
        thumb = raw.extract_thumb()
    except (rawpy.LibRawError, RuntimeError):
        return None
    try:
        if thumb.format == rawpy.ThumbFormat.JPEG:
            with Image.open(io.BytesIO(thumb.data)) as image:
                array = np.asarray(image.convert("RGB"))
        else:
            array = np.asarray(thumb.data, dtype=np.uint8)
    except (OSError, ValueError):
        return None
    flip = int(raw.sizes.flip)
    turns = {3: 2, 5: 1, 6: -1}.get(flip, 0)
    return np.ascontiguousarray(np.rot90(array, turns)) if turns else array


# ------------------------------------------------------------------------------------- errors


def _error(path: Path, data: bytes, exc: Exception) -> ImageReadError:
    """A clear :class:`ImageReadError` for a LibRaw failure."""
    rawpy = _rawpy()
    if isinstance(exc, rawpy.LibRawFileUnsupportedError):
        return ImageReadError(path, _diagnose_unsupported(data))
    if isinstance(exc, (rawpy.LibRawIOError, rawpy.LibRawDataError)):
        return ImageReadError(path, "the RAW file is truncated or corrupt (LibRaw could not read its sensor data)")
    if isinstance(exc, (rawpy.LibRawRequestForNonexistentImageError, rawpy.LibRawNoThumbnailError)):
        return ImageReadError(path, "the RAW file holds no image data")
    if isinstance(exc, (rawpy.LibRawTooBigError, rawpy.LibRawUnsufficientMemoryError,
                        rawpy.LibRawMemPoolOverflowError)):
        return ImageReadError(path, "the RAW image is too large to develop in the memory available")
    message = exc.args[0].decode("utf-8", "replace") if exc.args and isinstance(exc.args[0], bytes) else str(exc)
    return ImageReadError(path, f"the RAW file cannot be developed (LibRaw: {message})")


def _has_pixels(ifd: dict[int, tuple[int, ...]]) -> bool:
    width, height = ifd.get(256, (0,)), ifd.get(257, (0,))
    counts = ifd.get(279, ()) or ifd.get(325, ())
    return bool(width and height and width[0] > 0 and height[0] > 0 and sum(counts) > 0)


def _diagnose_unsupported(data: bytes) -> str:
    """Why LibRaw refused a file: no image data, an unknown camera, or not a RAW file at all."""
    kind = sniff(data)
    version = libraw_version()
    if kind == "TIFF":
        walker = TiffWalker(data)
        ifds = walker.ifds()
        make, model = walker.ascii(271), walker.ascii(272)
        camera = " ".join(part for part in (make, model) if part and not model.startswith(make)) or model or make
        if any(50706 in ifd for ifd in ifds):
            sensor = [ifd for ifd in ifds if ifd.get(262) in ((32803,), (34892,))]
            if not any(_has_pixels(ifd) for ifd in sensor):
                return "the DNG holds no RAW image data (only previews, or an empty sensor image)"
            return f"this DNG variant from '{camera or 'an unknown camera'}' is not supported (LibRaw {version})"
        if make or model:
            return f"unsupported camera '{camera}': LibRaw {version} cannot decode its RAW files"
        return "a TIFF file without camera RAW data (LibRaw cannot develop it)"
    if kind == "RAW" or ftyp_brands(data):
        return f"unsupported camera or RAW variant: LibRaw {version} cannot decode it"
    if kind is not None:
        return f"not a RAW file (the content is {KIND_NAMES.get(kind, kind)})"
    return "not a RAW file (content not recognised)"


# --------------------------------------------------------------------------------------- EXIF


def raw_exif(data: bytes, raw: Any | None = None) -> bytes | None:
    """EXIF bytes for a RAW file: its descriptive tags, completed from LibRaw's metadata."""
    found = _exif_from_structure(data)
    if found is None and raw is not None:
        found = _exif_from_thumbnail(raw)
    exif = _descriptive(found) if found is not None else Image.Exif()
    if raw is not None:
        _complete_from_libraw(exif, raw)
    if not len(exif):
        return None
    try:
        return exif.tobytes()
    except Exception as exc:  # noqa: BLE001 - odd maker values must not cost the picture
        log.warning("dropping RAW EXIF that cannot be re-encoded: %s", exc)
        return None


def _load_exif(tiff: bytes) -> Image.Exif | None:
    exif = Image.Exif()
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", UserWarning)  # Pillow's "Corrupt EXIF data" and the like
            exif.load(tiff)
            _ = exif.get_ifd(_EXIF_IFD), exif.get_ifd(_GPS_IFD)  # parse now: errors surface here
    except Exception as exc:  # noqa: BLE001 - malformed maker files: the picture still counts
        log.debug("RAW EXIF not readable: %s", exc)
        return None
    return exif if len(exif) else None


def _exif_from_structure(data: bytes) -> Image.Exif | None:
    head = data[:4]
    if head in (b"II*\x00", b"MM\x00*"):
        return _load_exif(data)
    if head in (b"IIRO", b"IIRS", b"IIU\x00"):  # ORF, RW2: TIFF with another magic number
        return _load_exif(b"II*\x00" + data[4:8 * 2**20])
    if head == b"MMOR":
        return _load_exif(b"MM\x00*" + data[4:8 * 2**20])
    if b"crx " in ftyp_brands(data):
        return _exif_from_cr3(data)
    return None


def _box_payload(data: bytes, name: bytes, limit: int = 4 * 2**20) -> bytes | None:
    """Payload of the first ISO-BMFF box called ``name`` within the first ``limit`` bytes."""
    at = data.find(name, 0, limit)
    if at < 4:
        return None
    size = struct.unpack(">I", data[at - 4:at])[0]
    if size < 8 or at - 4 + size > len(data):
        return None
    return data[at + 4:at - 4 + size]


def _exif_from_cr3(data: bytes) -> Image.Exif | None:
    """CR3 keeps IFD 0 in a CMT1 box, the EXIF IFD in CMT2 and GPS in CMT4 (each a small TIFF)."""
    cmt1 = _box_payload(data, b"CMT1")
    exif = _load_exif(cmt1) if cmt1 else None
    if exif is None:
        return None
    for box, tag in ((b"CMT2", _EXIF_IFD), (b"CMT4", _GPS_IFD)):
        payload = _box_payload(data, box)
        sub = _load_exif(payload) if payload else None
        if sub is not None:
            exif[tag] = dict(sub.items())
    return exif


def _exif_from_thumbnail(raw: Any) -> Image.Exif | None:
    rawpy = _rawpy()
    try:
        thumb = raw.extract_thumb()
        if thumb.format != rawpy.ThumbFormat.JPEG:
            return None
        with Image.open(io.BytesIO(thumb.data)) as image:
            blob = image.info.get("exif")
    except (rawpy.LibRawError, RuntimeError, OSError, ValueError):
        return None
    return _load_exif(blob) if blob else None


def _descriptive(source: Image.Exif) -> Image.Exif:
    """Only the tags that describe the photo; no layout, maker notes or large blobs."""
    out = Image.Exif()

    def small(value: object) -> bool:
        return not isinstance(value, (bytes, str, tuple)) or len(value) <= _MAX_TAG_BYTES

    for tag, value in source.items():
        if tag in _IFD0_KEEP and small(value):
            out[tag] = value
    try:
        exif_ifd = {t: v for t, v in source.get_ifd(_EXIF_IFD).items() if t not in _EXIF_DROP and small(v)}
        gps_ifd = dict(source.get_ifd(_GPS_IFD).items())
    except Exception:  # noqa: BLE001 - a broken sub-IFD is dropped
        exif_ifd, gps_ifd = {}, {}
    if exif_ifd:
        out[_EXIF_IFD] = exif_ifd
    if gps_ifd:
        out[_GPS_IFD] = gps_ifd
    return out


def _rational(value: float) -> TiffImagePlugin.IFDRational:
    fraction = Fraction(value).limit_denominator(100_000)
    return TiffImagePlugin.IFDRational(fraction.numerator, fraction.denominator)


def _complete_from_libraw(exif: Image.Exif, raw: Any) -> None:
    """Fill what the file's own tags lacked from LibRaw's parsed metadata."""
    try:
        other, lens = raw.other, raw.lens
    except Exception:  # noqa: BLE001 - metadata is a bonus
        return
    current = exif.get(_EXIF_IFD)
    sub = dict(current) if isinstance(current, dict) else {}
    if other.shutter_speed and other.shutter_speed > 0:
        s = float(other.shutter_speed)
        sub.setdefault(33434, TiffImagePlugin.IFDRational(1, round(1 / s)) if s < 0.3 else _rational(s))
    if other.aperture and other.aperture > 0:
        sub.setdefault(33437, _rational(round(float(other.aperture), 1)))
    if other.iso_speed and other.iso_speed > 0:
        sub.setdefault(34855, min(65535, int(round(other.iso_speed))))
    if other.focal_length and other.focal_length > 0:
        sub.setdefault(37386, _rational(round(float(other.focal_length), 1)))
    timestamp = other.timestamp
    if isinstance(timestamp, datetime) and timestamp.year >= 1980:
        sub.setdefault(36867, timestamp.strftime("%Y:%m:%d %H:%M:%S"))
    if lens.model:
        sub.setdefault(42036, lens.model)
    if lens.make:
        sub.setdefault(42035, lens.make)
    if other.artist and 315 not in exif:
        exif[315] = other.artist
    if sub:
        exif[_EXIF_IFD] = sub
