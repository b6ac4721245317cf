"""Classical enhancement baselines to compare the model with.

All functions take and return float32 RGB ``H x W x 3`` arrays with values in [0, 1].
"""

from __future__ import annotations

import numpy as np
from PIL import Image, ImageOps


def _check(image: np.ndarray) -> np.ndarray:
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an H x W x 3 RGB array, got {getattr(image, 'shape', type(image).__name__)}")
    return np.clip(image.astype(np.float32, copy=False), 0.0, 1.0)


def autocontrast(image: np.ndarray, cutoff: float = 0.0) -> np.ndarray:
    """Pillow's ``ImageOps.autocontrast`` on the 8-bit image (stretch each channel's histogram).

    This is the comparison the original MIRNet low-light example used.
    """
    rgb8 = (_check(image) * 255.0 + 0.5).astype(np.uint8)
    stretched = ImageOps.autocontrast(Image.fromarray(rgb8), cutoff=cutoff)
    return np.asarray(stretched, dtype=np.float32) / 255.0


def gamma(image: np.ndarray, exponent: float = 0.4) -> np.ndarray:
    """Power-law brightening ``out = in ** exponent`` (exponent < 1 brightens)."""
    if exponent <= 0:
        raise ValueError(f"gamma exponent must be positive, got {exponent}")
    return np.power(_check(image), np.float32(exponent)).astype(np.float32)
