"""A pasted image (not a file) becomes a PNG in the user's Pictures folder, so it can be queued."""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QMimeData, QStandardPaths
from PySide6.QtGui import QImage

from core.io import unique_path


def paste_folder() -> Path:
    """``Pictures/Pasted`` (the home folder when the platform names no Pictures folder)."""
    pictures = QStandardPaths.writableLocation(QStandardPaths.StandardLocation.PicturesLocation)
    return Path(pictures or Path.home()) / "Pasted"


def save_pasted_image(mime: QMimeData | None, folder: Path | None = None) -> Path | None:
    """Write the image of ``mime`` as ``pasted-<time>.png`` (a free name) in ``folder``; the
    written path, or None when ``mime`` holds no image or it could not be written."""
    if mime is None or not mime.hasImage():
        return None
    image = QImage(mime.imageData())
    folder = folder if folder is not None else paste_folder()
    folder.mkdir(parents=True, exist_ok=True)
    target = Path(unique_path(folder / time.strftime("pasted-%Y%m%d-%H%M%S.png")))
    return target if image.save(str(target)) else None
