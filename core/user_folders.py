"""Where the user's folders live: installed models, training runs and the cache.

Data (``models/``, ``runs/``) lives under ``platformdirs.user_data_dir("lowlight-studio")``, or
under ``$LOWLIGHT_STUDIO_DATA_DIR`` when set (tests, portable installs); the cache (compiled
packages) under the user cache folder, or ``$LOWLIGHT_CACHE_DIR``. Nothing is created here.
"""

from __future__ import annotations

import os
from pathlib import Path

APP_NAME = "lowlight-studio"
#: Environment variable replacing the user data folder.
DATA_DIR_ENV = "LOWLIGHT_STUDIO_DATA_DIR"
#: Environment variable replacing the user cache folder.
CACHE_ENV = "LOWLIGHT_CACHE_DIR"
#: Installed models are safetensors files.
MODEL_SUFFIX = ".safetensors"


def data_dir() -> Path:
    """The application's user data folder (``$LOWLIGHT_STUDIO_DATA_DIR`` when set)."""
    override = os.environ.get(DATA_DIR_ENV)
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_data_dir(APP_NAME))


def user_models_dir() -> Path:
    """Where installed models live."""
    return data_dir() / "models"


def installed_models(folder: str | Path | None = None) -> list[Path]:
    """The weights files installed in ``folder`` (default :func:`user_models_dir`), sorted by name;
    hidden files (temporary files of an install in progress) are left out."""
    target = Path(folder) if folder is not None else user_models_dir()
    if not target.is_dir():
        return []
    return sorted(p for p in target.glob(f"*{MODEL_SUFFIX}") if p.is_file() and not p.name.startswith("."))


def runs_dir() -> Path:
    """Where the wizard's training runs live."""
    return data_dir() / "runs"


def cache_dir() -> Path:
    """The application's user cache folder (``$LOWLIGHT_CACHE_DIR`` when set)."""
    override = os.environ.get(CACHE_ENV)
    if override:
        return Path(override)
    import platformdirs

    return Path(platformdirs.user_cache_dir(APP_NAME))
