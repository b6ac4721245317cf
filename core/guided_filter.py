"""Fast guided filter upsampling (He & Sun 2015, "Fast Guided Filter"), numpy + OpenCV.

The network runs on a small copy of the photo; its result is carried back to full
resolution through per-pixel, per-channel affine coefficients ``out = a * I + b`` fitted at
low resolution between the small input ``I`` and the small output, then resized bilinearly.
Edges come from the full-resolution input, colours and tone from the network.
"""

from __future__ import annotations

import cv2
import numpy as np


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
