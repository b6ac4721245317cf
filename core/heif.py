"""HEIC/HEIF stills in and out, via pillow-heif (libheif with libde265 and x265).

Reading keeps 10- and 12-bit data (returned with ``bit_depth`` 16, the container every deeper
format uses here), EXIF and the ICC profile. libheif applies the file's rotation and mirroring
(``irot``/``imir``), which take precedence over the EXIF orientation, so the pixels come back
upright and the EXIF orientation is not applied a second time. A file holding several images
(a burst or a collection) gives its primary image, with a note saying so.

AVIF is read by Pillow itself (the pillow-heif build used here has no AV1 decoder).
"""

from __future__ import annotations

import io
import logging
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .errors import ImageReadError

log = logging.getLogger(__name__)

_DECODE_ERRORS = (ValueError, RuntimeError, OSError, SyntaxError, EOFError, KeyError, IndexError)


@dataclass(frozen=True)
class HeifFrame:
    """A decoded HEIF primary image: float32 pixels in [0, 1], upright."""

    pixels: np.ndarray
    alpha: np.ndarray | None
    bit_depth: int  # 8, or 16 for 10/12-bit files
    exif: bytes | None
    icc_profile: bytes | None
    notes: tuple[str, ...] = ()


def _pillow_heif() -> Any:
    try:
        import pillow_heif
    except ImportError as exc:  # pragma: no cover - pillow-heif is a dependency
        raise RuntimeError("HEIC/HEIF support needs the 'pillow-heif' package (pip install pillow-heif)") from exc
    return pillow_heif


def decode_heif(path: Path, data: bytes, *, max_pixels: int | None = None) -> HeifFrame:
    """Decode the primary image of HEIF ``data``; raises :class:`ImageReadError` naming ``path``."""
    pillow_heif = _pillow_heif()
    try:
        heif = pillow_heif.open_heif(io.BytesIO(data), convert_hdr_to_8bit=False)
        count = len(heif)
        primary = heif[heif.primary_index] if count > 1 else heif
        width, height = primary.size
    except _DECODE_ERRORS as exc:
        raise ImageReadError(path, f"HEIF file is truncated or corrupt ({_reason(exc)})") from None
    if width <= 0 or height <= 0:
        raise ImageReadError(path, "the HEIF file holds no image data")
    if max_pixels is not None and width * height > max_pixels:
        raise ImageReadError(path, f"{width}x{height} ({width * height / 1e6:.0f} MP) is more than the limit of "
                                   f"{max_pixels / 1e6:g} MP, refused as a possible decompression bomb")
    try:
        array = np.asarray(primary)  # decodes here
    except _DECODE_ERRORS as exc:
        raise ImageReadError(path, f"HEIF file is truncated or corrupt ({_reason(exc)})") from None
    info = primary.info
    depth = int(info.get("bit_depth") or 8)
    if array.dtype == np.uint16:
        top = float(((1 << depth) - 1) << (16 - depth)) if 8 < depth < 16 else 65535.0
        values = np.minimum(array.astype(np.float32) / np.float32(top), np.float32(1.0))
    else:
        values = array.astype(np.float32) / np.float32(255.0)
    if values.ndim == 2:
        values = values[:, :, None]
    channels = values.shape[2]
    rgb = np.repeat(values[:, :, :1], 3, axis=2) if channels in (1, 2) else np.ascontiguousarray(values[:, :, :3])
    alpha = None
    if channels in (2, 4):
        alpha = np.ascontiguousarray(values[:, :, -1])
    notes = (f"primary image of {count} used (the file holds a burst or collection)",) if count > 1 else ()
    exif = info.get("exif") or None
    icc = info.get("icc_profile") or None
    return HeifFrame(pixels=rgb, alpha=alpha, bit_depth=16 if array.dtype == np.uint16 else 8,
                     exif=exif if isinstance(exif, bytes) else None,
                     icc_profile=icc if isinstance(icc, bytes) else None, notes=notes)


def encode_heif(values: np.ndarray, quality: int, exif: bytes | None, icc: bytes | None) -> bytes:
    """HEIC bytes of uint8 (8-bit) or uint16 (written as 10-bit) RGB/RGBA ``values``."""
    pillow_heif = _pillow_heif()
    height, width, channels = values.shape
    mode = ("RGBA" if channels == 4 else "RGB") + (";16" if values.dtype == np.uint16 else "")
    heif = pillow_heif.from_bytes(mode=mode, size=(width, height), data=np.ascontiguousarray(values).tobytes())
    options: dict[str, object] = {"quality": int(quality), "chroma": 444 if quality >= 90 else 420}
    if exif:
        options["exif"] = exif
    if icc:
        options["icc_profile"] = icc
    buffer = io.BytesIO()
    heif.save(buffer, format="HEIF", **options)
    return buffer.getvalue()


def _reason(exc: BaseException) -> str:
    text = str(exc).strip() or type(exc).__name__
    return text if len(text) <= 160 else text[:157] + "..."
