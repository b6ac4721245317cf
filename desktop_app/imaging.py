"""Numpy-side display helpers: float->uint8, downscaling, fast uint8 strength blending, QImage wrap.

The heavy conversions run in workers; the GUI thread only blends display-sized uint8 copies
and wraps ready buffers in :class:`QImage` (no per-pixel Python work on the GUI thread).
"""

from __future__ import annotations

import cv2
import numpy as np
from PySide6.QtGui import QImage

from core.pixels import convert_depth

PREVIEW_MAX_SIDE = 2048
THUMBNAIL_MAX_SIDE = 160


def to_uint8(image: np.ndarray) -> np.ndarray:
    """Float RGB in [0, 1] or uint16 -> contiguous uint8 RGB (rounded, clipped); uint8 as it is."""
    if image.dtype == np.uint8:
        return np.ascontiguousarray(image)
    if image.dtype == np.uint16:
        return np.ascontiguousarray(convert_depth(image, np.uint8))
    out = np.empty(image.shape, dtype=np.float32)
    np.multiply(image, 255.0, out=out, casting="unsafe")
    np.add(out, 0.5, out=out)
    np.clip(out, 0, 255, out=out)
    return np.ascontiguousarray(out.astype(np.uint8))


def fit_size(width: int, height: int, max_side: int) -> tuple[int, int]:
    """(w, h) scaled down so the longer side is at most ``max_side`` (never scaled up)."""
    scale = min(1.0, max_side / max(width, height, 1))
    return max(1, round(width * scale)), max(1, round(height * scale))


def downscale(image: np.ndarray, max_side: int) -> np.ndarray:
    """Area-averaged downscale of an HxWxC array; returns the input itself when already small."""
    h, w = image.shape[:2]
    tw, th = fit_size(w, h, max_side)
    if (tw, th) == (w, h):
        return image
    return cv2.resize(image, (tw, th), interpolation=cv2.INTER_AREA)


def pyramid(image: np.ndarray, min_side: int = 320) -> list[np.ndarray]:
    """``[image, image/2, image/4, …]`` (area-averaged halvings) down to about ``min_side``.

    The viewer draws from the smallest level that is still at least as large as the screen
    size, so it only ever shrinks by less than 2x (cheap bilinear) on the GUI thread.
    """
    levels = [np.ascontiguousarray(image)]
    while max(levels[-1].shape[:2]) >= 2 * min_side:
        h, w = levels[-1].shape[:2]
        levels.append(cv2.resize(levels[-1], (max(1, w // 2), max(1, h // 2)), interpolation=cv2.INTER_AREA))
    return levels


def shrink(image: np.ndarray, width: int, height: int) -> np.ndarray:
    """Resize down to (width, height): bilinear for small ratios, area averaging beyond 2x."""
    ratio = image.shape[1] / max(width, 1)
    interpolation = cv2.INTER_LINEAR if ratio <= 2.0 else cv2.INTER_AREA
    return cv2.resize(image, (width, height), interpolation=interpolation)


def blend_uint8(before: np.ndarray, after: np.ndarray, strength: float) -> np.ndarray:
    """``before + strength * (after - before)`` on uint8 arrays (a display-resolution preview)."""
    if strength >= 1.0:
        return after
    if strength <= 0.0:
        return before
    return cv2.addWeighted(after, float(strength), before, 1.0 - float(strength), 0.0)


def qimage_from_rgb(array: np.ndarray) -> QImage:
    """Wrap a contiguous HxWx3 uint8 array as a QImage that owns a copy-free reference.

    The array is kept alive on the QImage object (``_keepalive``), so no pixel copy happens.
    """
    array = np.ascontiguousarray(array)
    h, w = array.shape[:2]
    image = QImage(array.data, w, h, array.strides[0], QImage.Format.Format_RGB888)
    image._keepalive = array  # type: ignore[attr-defined]
    return image
