"""Paths to the application's assets (icons) and a cached icon loader."""

from __future__ import annotations

import functools
from pathlib import Path

from PySide6.QtGui import QIcon

REPO_ROOT = Path(__file__).resolve().parents[1]
ICONS_DIR = REPO_ROOT / "resources" / "icons"


def icon_path(name: str) -> Path:
    """Path of ``resources/icons/<name>.svg``."""
    return ICONS_DIR / f"{name}.svg"


@functools.lru_cache(maxsize=64)
def icon(name: str) -> QIcon:
    """The icon ``name`` (an empty icon when the file is missing, never an error)."""
    path = icon_path(name)
    return QIcon(str(path)) if path.exists() else QIcon()
