"""Bundled data: the default model (``weights/``) and the app's icons (``icons/``).

This folder is installed as the package ``lowlight_resources`` (pyproject.toml maps the name to
``resources/``), so its files are found with :mod:`importlib.resources` in a wheel, an editable
install or a zip alike. It imports nothing of ours: every layer may use it.
"""

from __future__ import annotations

import atexit
import contextlib
from importlib.resources import as_file, files
from pathlib import Path

#: The bundled default weights, relative to this package.
BUNDLED_WEIGHTS = ("weights", "lite.safetensors")
ICONS = "icons"

_extracted = contextlib.ExitStack()  # files copied out of a zip live until the interpreter exits
atexit.register(_extracted.close)


def resource_path(*parts: str) -> Path:
    """The file-system path of a bundled file, e.g. ``resource_path("icons", "app.svg")``.

    It may not exist (a checkout without weights); callers check. Inside a zip the file is copied
    to a temporary one first, since the model loader and Qt need real files (a folder can be copied
    out only from Python 3.12 on, so ask for files).
    """
    resource = files(__name__)
    for part in parts:
        resource = resource / part
    if isinstance(resource, Path):
        return resource
    return _extracted.enter_context(as_file(resource))
