"""Pixel types the engine accepts and writes: float32 in [0, 1], or integers as files hold them.

Photos stay uint8 / uint16 until a tile or a band of rows needs them; these helpers convert
such a piece to float32 and quantise a finished piece back, with the same arithmetic as
:mod:`core.io` (``value / max`` in, ``floor(value * max + 0.5)`` out), so an integer photo gives
bit for bit what its float32 copy would.
"""

from __future__ import annotations

import numpy as np

#: Integer pixel types and the value that stands for 1.0.
INTEGER_MAX: dict[np.dtype, float] = {np.dtype(np.uint8): 255.0, np.dtype(np.uint16): 65535.0}
#: Pixel types :func:`to_float` and :func:`store` know.
PIXEL_TYPES = (np.dtype(np.float32), *INTEGER_MAX)


def is_integer_pixels(array: np.ndarray) -> bool:
    """Whether ``array`` holds uint8 or uint16 pixels."""
    return array.dtype in INTEGER_MAX


def to_float(array: np.ndarray) -> np.ndarray:
    """float32 in [0, 1] of a piece of a photo: integers are scaled (a new array), float32 is returned as is."""
    scale = INTEGER_MAX.get(array.dtype)
    if scale is None:
        return array if array.dtype == np.float32 else array.astype(np.float32)
    result = array.astype(np.float32)
    result /= np.float32(scale)  # in place: one float array, not two, for a whole photo
    return result


def store(values: np.ndarray, out: np.ndarray) -> None:
    """Write float32 ``values`` (already in [0, 1]) into ``out``, quantised to its pixel type.

    ``values`` is used as scratch space (it is scaled in place for integer outputs).
    """
    scale = INTEGER_MAX.get(out.dtype)
    if scale is None:
        out[...] = values
        return
    np.multiply(values, np.float32(scale), out=values)
    values += np.float32(0.5)
    out[...] = values  # truncation of values >= 0.5: rounding to nearest, as core.io does


def check_pixel_type(dtype: np.dtype | type) -> np.dtype:
    """``dtype`` as a numpy dtype, if it is one of :data:`PIXEL_TYPES` (else ValueError)."""
    wanted = np.dtype(dtype)
    if wanted not in PIXEL_TYPES:
        raise ValueError(f"pixels must be float32, uint8 or uint16, not {wanted}")
    return wanted


def to_integers(values: np.ndarray, dtype: np.dtype | type, band: int = 256) -> np.ndarray:
    """Float pixels in [0, 1] (any shape) quantised to ``dtype`` (uint8 or uint16), a band of
    rows at a time (no full-size float temporary)."""
    out = np.empty(values.shape, dtype=dtype)
    if out.dtype not in INTEGER_MAX:
        raise ValueError(f"not an integer pixel type: {out.dtype}")
    for y0 in range(0, values.shape[0], band):
        rows = np.clip(values[y0 : y0 + band], 0.0, 1.0).astype(np.float32, copy=False)
        store(rows, out[y0 : y0 + band])
    return out


def convert_depth(values: np.ndarray, dtype: np.dtype | type) -> np.ndarray:
    """Integer pixels re-scaled to another integer type (``v * 257`` up, nearest level down)."""
    wanted = np.dtype(dtype)
    if values.dtype == wanted:
        return values
    if values.dtype == np.uint8 and wanted == np.uint16:
        return values.astype(np.uint16) * np.uint16(257)
    if values.dtype == np.uint16 and wanted == np.uint8:
        return ((values.astype(np.uint32) * 255 + 32767) // 65535).astype(np.uint8)
    raise ValueError(f"cannot convert {values.dtype} pixels to {wanted}")
