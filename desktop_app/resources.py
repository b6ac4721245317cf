"""The application's icons (bundled in ``lowlight_resources``) and a cached icon loader."""

from __future__ import annotations

import functools
from pathlib import Path

from PySide6.QtGui import QIcon

from lowlight_resources import ICONS, resource_path


def icon_path(name: str) -> Path:
    """Path of the bundled ``icons/<name>.svg``."""
    return resource_path(ICONS, f"{name}.svg")


@functools.lru_cache(maxsize=64)
def icon(name: str) -> QIcon:
    """The icon ``name`` (an empty icon when the file is missing, never an error)."""
    path = icon_path(name)
    return QIcon(str(path)) if path.exists() else QIcon()
