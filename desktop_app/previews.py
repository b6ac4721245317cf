"""Fast thumbnails and display previews of photos not enhanced yet (pool thread).

``core.io.read_preview`` does the work: JPEGs are decoded at reduced size (Pillow's draft
mode), camera RAW files are developed at half size (0.4 s for 24 MP on two cores, instead of
3 s for the full demosaic), other formats are read and scaled down.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import numpy as np

from . import engine as eng
from .imaging import PREVIEW_MAX_SIDE, THUMBNAIL_MAX_SIDE, downscale, pyramid
from .jobs import ImageLoaded


def preview_job(path: Path) -> ImageLoaded:
    """Thumbnail and display-size original of ``path`` (upright, RGB uint8)."""
    return loaded_from_preview(path, eng.read_preview(path, PREVIEW_MAX_SIDE))


def loaded_from_preview(path: Path, preview: Any) -> ImageLoaded:
    """The :class:`ImageLoaded` of a ``core.io.Preview`` of ``path``."""
    levels = pyramid(np.ascontiguousarray(preview.pixels))
    return ImageLoaded(path, np.ascontiguousarray(downscale(levels[-1], THUMBNAIL_MAX_SIDE)), levels,
                       preview.width, preview.height, tuple(preview.notes))
