"""Fast guided filter upsampling (He & Sun 2015, "Fast Guided Filter"), numpy + OpenCV.

The network runs on a small copy of the photo; its result is carried back to full
resolution through per-pixel, per-channel affine coefficients ``out = a * I + b`` fitted at
low resolution between the small input ``I`` and the small output, then resized bilinearly.
Edges come from the full-resolution input, colours and tone from the network.

Both resizes are separable, which lets large photos be handled a band of rows at a time
(:func:`area_downscale`, :func:`apply_coefficients_rows`): no full-size float copy is made.
"""

from __future__ import annotations

import cv2
import numpy as np

from .pixels import to_float

#: Rows converted to float32 at a time by the banded helpers.
BAND_ROWS = 256


def box_mean(x: np.ndarray, radius: int) -> np.ndarray:
    """Mean over a ``(2r+1) x (2r+1)`` window (reflected borders), float32, channel by channel."""
    size = 2 * radius + 1
    return cv2.boxFilter(x, -1, (size, size), normalize=True, borderType=cv2.BORDER_REFLECT)


def guided_coefficients(guide: np.ndarray, target: np.ndarray, radius: int, eps: float) -> tuple[np.ndarray, np.ndarray]:
    """Smoothed affine coefficients ``(a, b)`` with ``target ~ a * guide + b`` locally, per channel.

    ``guide`` and ``target`` are ``h x w x 3`` float32 of the same size; ``eps`` regularises
    ``a`` where the guide is flat (larger: smoother, less edge transfer).
    """
    mean_i = box_mean(guide, radius)
    mean_p = box_mean(target, radius)
    cov = box_mean(guide * target, radius) - mean_i * mean_p
    var = box_mean(guide * guide, radius) - mean_i * mean_i
    a = cov / (np.maximum(var, 0.0) + np.float32(eps))
    b = mean_p - a * mean_i
    return box_mean(a, radius), box_mean(b, radius)


def apply_coefficients(guide: np.ndarray, a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """``a * guide + b`` with ``a`` and ``b`` resized bilinearly to ``guide``'s size (a new array).

    Works in place on the resized coefficients: peak extra memory is two full-size images.
    """
    height, width = guide.shape[:2]
    out = cv2.resize(a, (width, height), interpolation=cv2.INTER_LINEAR)
    cv2.multiply(out, guide, dst=out)  # OpenCV: threaded, in place, no temporaries
    cv2.add(out, cv2.resize(b, (width, height), interpolation=cv2.INTER_LINEAR), dst=out)
    return out


def guided_upsample(
    guide_full: np.ndarray, guide_small: np.ndarray, target_small: np.ndarray, radius: int, eps: float
) -> np.ndarray:
    """Carry ``target_small`` (computed from ``guide_small``) to the resolution of ``guide_full``."""
    a, b = guided_coefficients(guide_small, target_small, radius, eps)
    return apply_coefficients(guide_full, a, b)


def area_downscale(image: np.ndarray, size: tuple[int, int], band: int = BAND_ROWS) -> np.ndarray:
    """``cv2.resize(image, size, interpolation=INTER_AREA)`` of a float32 copy of ``image``
    (float32, uint8 or uint16), without making that full-size copy.

    Area resampling is separable: each band of rows is converted and shrunk horizontally,
    then the narrow result is shrunk vertically. ``size`` is ``(width, height)``, not larger.
    """
    height = image.shape[0]
    width, out_height = size
    narrow = np.empty((height, width, image.shape[2]), dtype=np.float32)
    for y0 in range(0, height, band):
        y1 = min(height, y0 + band)
        rows = to_float(image[y0:y1])
        narrow[y0:y1] = cv2.resize(rows, (width, y1 - y0), interpolation=cv2.INTER_AREA).reshape(y1 - y0, width, -1)
    return cv2.resize(narrow, (width, out_height), interpolation=cv2.INTER_AREA).reshape(out_height, width, -1)


def resize_rows(small: np.ndarray, height: int, width: int, y0: int, y1: int) -> np.ndarray:
    """Rows ``y0:y1`` of ``cv2.resize(small, (width, height), interpolation=INTER_LINEAR)``.

    Vertical interpolation (OpenCV's half-pixel centres, borders replicated) of the few rows
    needed, then a horizontal-only OpenCV resize.
    """
    src_h = small.shape[0]
    ys = (np.arange(y0, y1, dtype=np.float64) + 0.5) * (src_h / height) - 0.5
    top = np.floor(ys)
    frac = (ys - top).astype(np.float32)[:, None, None]
    top = top.astype(np.int64)
    upper = small[np.clip(top, 0, src_h - 1)]
    lower = small[np.clip(top + 1, 0, src_h - 1)]
    rows = upper * (np.float32(1.0) - frac) + lower * frac
    return cv2.resize(rows, (width, y1 - y0), interpolation=cv2.INTER_LINEAR).reshape(y1 - y0, width, -1)


def apply_coefficients_rows(guide_rows: np.ndarray, a: np.ndarray, b: np.ndarray, y0: int, height: int) -> np.ndarray:
    """Rows ``y0 : y0 + len(guide_rows)`` of :func:`apply_coefficients` for a guide ``height`` rows tall
    (a new float32 array); ``guide_rows`` may be float32 or integer pixels."""
    y1 = y0 + guide_rows.shape[0]
    width = guide_rows.shape[1]
    out = resize_rows(a, height, width, y0, y1)
    cv2.multiply(out, to_float(guide_rows), dst=out)
    cv2.add(out, resize_rows(b, height, width, y0, y1), dst=out)
    return out
