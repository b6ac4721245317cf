"""How photos come in (no widgets): dropped or opened paths are searched for photos; a pasted
image (not a file) becomes a PNG in the user's Pictures folder, so it can be queued."""

from __future__ import annotations

import time
from pathlib import Path

from PySide6.QtCore import QMimeData, QStandardPaths
from PySide6.QtGui import QImage

from core.batch import collect_inputs
from core.io import unique_path

from .messages import error_text


def find_photos(paths: list[Path]) -> tuple[list[Path], list[str]]:
    """The photos among ``paths`` (folders searched with their subfolders, non-photos skipped),
    and a people-readable problem for each path that is missing or unreadable."""
    files: list[Path] = []
    problems: list[str] = []
    for path in map(Path, paths):
        if not path.exists():
            problems.append(f"Not found: {path}")
            continue
        try:
            files.extend(collect_inputs([path], recursive=True))
        except Exception as exc:  # noqa: BLE001 - unreadable folder etc.: tell, never crash
            problems.append(f"Cannot read {path}: {error_text(exc)}")
    return files, problems


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
