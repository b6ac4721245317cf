"""Full-reference image quality: PSNR and SSIM, written from their definitions.

Both take two arrays of the same shape (``H x W`` or ``H x W x C``) with values in
``[0, data_range]``; the project's float32 RGB convention uses ``data_range=1.0``.
"""

from __future__ import annotations

import math

import cv2
import numpy as np

from .exposure import LUMA_WEIGHTS

SSIM_WINDOW = 11
SSIM_SIGMA = 1.5
SSIM_K1 = 0.01
SSIM_K2 = 0.03
_RANGE_TOLERANCE = 1e-4


def _validate(a: np.ndarray, b: np.ndarray, data_range: float) -> tuple[np.ndarray, np.ndarray]:
    """Both arrays as float64 after checking shape, dtype and value range."""
    if not isinstance(a, np.ndarray) or not isinstance(b, np.ndarray):
        raise TypeError("expected two numpy arrays")
    if a.shape != b.shape:
        raise ValueError(f"shape mismatch: {a.shape} vs {b.shape}")
    if a.ndim not in (2, 3) or a.size == 0:
        raise ValueError(f"expected an H x W or H x W x C image, got shape {a.shape}")
    if not data_range > 0:
        raise ValueError(f"data_range must be positive, got {data_range}")
    out = []
    for name, x in (("a", a), ("b", b)):
        if not (np.issubdtype(x.dtype, np.floating) or np.issubdtype(x.dtype, np.integer)):
            raise TypeError(f"{name} has unsupported dtype {x.dtype}")
        values = x.astype(np.float64)
        if not np.isfinite(values).all():
            raise ValueError(f"{name} contains NaN or infinite values")
        low, high = float(values.min()), float(values.max())
        tol = _RANGE_TOLERANCE * data_range
        if low < -tol or high > data_range + tol:
            hint = " (8-bit data? convert to float in [0, 1] or pass data_range=255)" if high > 1.5 else ""
            raise ValueError(
                f"{name} has values in [{low:g}, {high:g}], outside [0, {data_range:g}] ({x.dtype}){hint}"
            )
        out.append(values)
    return out[0], out[1]


def psnr(a: np.ndarray, b: np.ndarray, data_range: float = 1.0) -> float:
    """Peak signal-to-noise ratio in dB: ``10 log10(data_range^2 / MSE)`` over all values.

    Identical images give ``inf``.
    """
    x, y = _validate(a, b, data_range)
    mse = float(np.mean((x - y) ** 2))
    if mse == 0.0:
        return math.inf
    return 10.0 * math.log10(data_range**2 / mse)


def _gaussian_taps(size: int = SSIM_WINDOW, sigma: float = SSIM_SIGMA) -> np.ndarray:
    offsets = np.arange(size, dtype=np.float64) - (size - 1) / 2.0
    taps = np.exp(-(offsets**2) / (2.0 * sigma**2))
    return taps / taps.sum()


def _filter_valid(x: np.ndarray, taps: np.ndarray) -> np.ndarray:
    """Separable Gaussian filter keeping only positions where the whole window fits."""
    r = len(taps) // 2
    full = cv2.sepFilter2D(x, cv2.CV_64F, taps, taps, borderType=cv2.BORDER_REFLECT)
    return full[r:-r, r:-r]


def _ssim_channel(x: np.ndarray, y: np.ndarray, data_range: float) -> float:
    taps = _gaussian_taps()
    c1 = (SSIM_K1 * data_range) ** 2
    c2 = (SSIM_K2 * data_range) ** 2
    mu_x = _filter_valid(x, taps)
    mu_y = _filter_valid(y, taps)
    var_x = _filter_valid(x * x, taps) - mu_x**2
    var_y = _filter_valid(y * y, taps) - mu_y**2
    cov = _filter_valid(x * y, taps) - mu_x * mu_y
    numerator = (2 * mu_x * mu_y + c1) * (2 * cov + c2)
    denominator = (mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2)
    return float(np.mean(numerator / denominator))


def ssim(a: np.ndarray, b: np.ndarray, data_range: float = 1.0) -> float:
    """Structural similarity (Wang, Bovik, Sheikh, Simoncelli, IEEE TIP 2004).

    Local statistics use an 11x11 Gaussian window (sigma 1.5, weights summing to 1, no
    Bessel correction), K1=0.01, K2=0.03. Only "valid" positions are used (the window lies
    entirely inside the image, as in the authors' MATLAB code; no border padding), so both
    sides must be at least 11 pixels. No automatic downsampling. For ``H x W x C`` input
    the SSIM is computed per channel (on RGB, not luma) and the channel values are averaged.
    Identical images give 1.0.
    """
    x, y = _validate(a, b, data_range)
    if x.shape[0] < SSIM_WINDOW or x.shape[1] < SSIM_WINDOW:
        raise ValueError(f"SSIM needs images of at least {SSIM_WINDOW}x{SSIM_WINDOW} pixels, got {x.shape[:2]}")
    if x.ndim == 2:
        return _ssim_channel(x, y, data_range)
    return float(np.mean([_ssim_channel(x[:, :, c], y[:, :, c], data_range) for c in range(x.shape[2])]))


def gt_mean_psnr(a: np.ndarray, reference: np.ndarray, data_range: float = 1.0) -> float:
    """PSNR after scaling ``a`` so its mean equals the reference's: the error left once the global
    exposure choice is taken out (the "GT-mean" protocol of low-light papers)."""
    x, y = _validate(a, reference, data_range)
    scaled = np.clip(x * (float(y.mean()) / max(float(x.mean()), 1e-6)), 0.0, data_range)
    return psnr(scaled, y, data_range)


def saturation(image: np.ndarray) -> float:
    """Mean HSV-style saturation ``(max - min) / max`` of an RGB image in [0, 1]."""
    x = np.asarray(image, dtype=np.float64)
    top, bottom = x.max(axis=-1), x.min(axis=-1)
    return float(np.mean((top - bottom) / (top + 1e-6)))


BLOCK_SIDE = 8


def luma(image: np.ndarray) -> np.ndarray:
    """Rec. 709 luma ``H x W`` of an ``H x W x 3`` RGB image (weights applied to the values as they are)."""
    return np.asarray(image) @ np.asarray(LUMA_WEIGHTS, dtype=np.result_type(image, np.float32))


def blockiness(image: np.ndarray, where: np.ndarray | None = None, block: int = BLOCK_SIDE) -> float:
    """How visible a ``block`` x ``block`` grid (JPEG's 8x8 DCT blocks) is in an RGB or grey image
    in [0, 1]: the mean absolute luma step across block boundaries over the mean step between
    neighbours inside blocks, rows and columns pooled (after Wu and Yuen's GBIM, 1997).

    1 means no grid; a photo whose blocks sit at different levels reads well above 1. The ratio
    does not change with brightness or contrast, so an enhancer that lifts a dark JPEG evenly
    keeps its input's figure, and one that amplifies the blocks raises it. ``where`` (a boolean
    ``H x W`` mask) restricts the count to steps whose both pixels are in it, e.g. the dark areas
    where blocks show once lifted. Returns ``nan`` when too few steps are counted.
    """
    x = np.asarray(image, dtype=np.float64)
    grey = luma(x) if x.ndim == 3 else x
    mask = None if where is None else np.asarray(where, dtype=bool)
    boundary_sum = inside_sum = 0.0
    boundary_n = inside_n = 0
    for axis in (0, 1):
        steps = np.abs(np.diff(grey, axis=axis))
        index = np.arange(steps.shape[axis]) % block == block - 1  # step from pixel k to k+1 crosses a boundary
        crosses = np.broadcast_to(index[:, None] if axis == 0 else index[None, :], steps.shape)
        if mask is None:
            counted = np.ones(steps.shape, dtype=bool)
        else:
            counted = (mask[1:, :] & mask[:-1, :]) if axis == 0 else (mask[:, 1:] & mask[:, :-1])
        boundary_sum += float(steps[crosses & counted].sum())
        boundary_n += int((crosses & counted).sum())
        inside_sum += float(steps[~crosses & counted].sum())
        inside_n += int((~crosses & counted).sum())
    if boundary_n < 64 or inside_n < 64:
        return float("nan")
    floor = 1e-5  # a flat area (no steps at all) reads 1, not 0/0
    return (boundary_sum / boundary_n + floor) / (inside_sum / inside_n + floor)
