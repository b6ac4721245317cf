"""Fast thumbnails and display previews of photos not enhanced yet (pool thread).

JPEGs are decoded at reduced size (Pillow's draft mode), so a list of 12 MP photos gets its
thumbnails quickly; anything Pillow cannot open goes through ``core.io`` instead.
"""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from PIL import Image, ImageOps

from . import engine as eng
from .imaging import PREVIEW_MAX_SIDE, THUMBNAIL_MAX_SIDE, downscale, pyramid, to_uint8
from .jobs import ImageLoaded

log = logging.getLogger(__name__)


def preview_job(path: Path) -> ImageLoaded:
    """Thumbnail and display-size original of ``path`` (upright, RGB uint8)."""
    try:
        with Image.open(path) as image:
            width, height = _upright_size(image)
            if image.mode in ("I", "I;16", "I;16B", "F"):
                raise ValueError(f"{image.mode} needs core.io")
            image.draft("RGB", (PREVIEW_MAX_SIDE, PREVIEW_MAX_SIDE))
            upright = ImageOps.exif_transpose(image)
            if upright.mode != "RGB":
                upright = upright.convert("RGB")
            preview = downscale(np.asarray(upright), PREVIEW_MAX_SIDE)
    except Exception as exc:  # noqa: BLE001 - odd formats: let core.io decide (and name the reason)
        log.debug("quick preview of %s failed (%s); using core.io", path, exc)
        data = eng.read_image(path)
        height, width = data.pixels.shape[:2]
        preview = downscale(to_uint8(data.pixels), PREVIEW_MAX_SIDE)
    levels = pyramid(np.ascontiguousarray(preview))
    return ImageLoaded(path, np.ascontiguousarray(downscale(levels[-1], THUMBNAIL_MAX_SIDE)), levels, width, height)


def _upright_size(image: Image.Image) -> tuple[int, int]:
    """Size after EXIF orientation (without decoding the pixels)."""
    orientation = image.getexif().get(0x0112, 1)
    w, h = image.size
    return (h, w) if orientation in (5, 6, 7, 8) else (w, h)
