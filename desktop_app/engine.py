"""The app's view of the enhancer: what it needs of an engine, loading one, the model picker's list.

The GUI takes an :data:`EngineFactory`, so tests swap in a stub engine (any object with
``info``, ``device_name``, ``enhance_steps`` and, for batches, ``enhance``). Everything else
the app needs from ``core`` (reading and writing images, batches, errors) it imports from
``core`` directly.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Generator
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from core.engine import Enhancer, default_weights_path
from core.formats import HEIF_EXTENSIONS, RASTER_EXTENSIONS, RAW_EXTENSIONS
from core.pixels import INTEGER_MAX, to_float, to_integers
from core.user_folders import installed_models, user_models_dir

log = logging.getLogger(__name__)


class Engine(Protocol):
    """What the GUI uses of ``core.engine.Enhancer``."""

    info: Any
    device_name: str

    def enhance_steps(
        self,
        image: np.ndarray,
        mode: str = "fast",
        strength: float = 1.0,
        cancel: threading.Event | None = None,
        exposure: float = 0.0,
    ) -> Generator[Any, None, np.ndarray]: ...

    def enhance(  # core.batch's path for engines without ``render``
        self,
        image: np.ndarray,
        mode: str = "fast",
        strength: float = 1.0,
        progress: Callable[[Any], None] | None = None,
        cancel: threading.Event | None = None,
        exposure: float = 0.0,
    ) -> np.ndarray: ...


EngineFactory = Callable[[Path | None], Engine]


def load_engine(weights: Path | None) -> Engine:
    """Load the real enhancer (``None`` = bundled default weights). Raises ``core`` errors."""
    return Enhancer(weights)


@dataclass(frozen=True)
class ModelEntry:
    """One choice of the model picker; ``path=None`` means the bundled default."""

    label: str
    path: Path | None


def list_models(extra: list[Path] | None = None) -> list[ModelEntry]:
    """The bundled model, the installed models (``core.user_folders.user_models_dir``) and
    ``extra`` files, without duplicates."""
    entries = [ModelEntry("Bundled model", None)]
    seen: set[Path] = {default_weights_path().resolve()}
    folder = user_models_dir()
    found = installed_models(folder)
    for path in [*found, *(extra or [])]:
        resolved = path.resolve()
        if resolved in seen:
            continue
        seen.add(resolved)
        where = "installed" if resolved.parent == folder.resolve() else "file"
        entries.append(ModelEntry(f"{path.stem} ({where})", path))
    return entries


def describe_model(info: Any) -> str:
    """People-readable metadata of a weights file: preset, validation PSNR/SSIM, epochs."""
    if info is None:
        return "no model loaded"
    summary = getattr(info, "summary", None)
    if callable(summary):
        return str(summary())
    return str(info)


def enhance_steps(engine: Engine, pixels: np.ndarray, *, mode: str, exposure: float = 0.0,
                  fast_pixels: int | None = None) -> Generator[Any, None, np.ndarray]:
    """``engine``'s strength-1 result in the pixels' own type (uint8, uint16 or float32), as a
    generator of the engine's progress events (each a cancellation point).

    The real engine's ``render_steps`` works tile by tile, without full-size float copies; an
    engine with only ``enhance_steps`` (a test stub) gets float32 and its result is quantised
    back. ``fast_pixels``: the network's input size in fast mode, where the engine takes it.
    """
    render_steps = getattr(engine, "render_steps", None)
    if callable(render_steps):
        extra = {"fast_pixels": fast_pixels} if fast_pixels else {}
        return (yield from render_steps(pixels, mode=mode, strength=1.0, exposure=exposure, **extra))
    result = yield from engine.enhance_steps(to_float(pixels), mode=mode, strength=1.0, exposure=exposure)
    result = np.asarray(result, dtype=np.float32)
    return to_integers(result, pixels.dtype) if pixels.dtype in INTEGER_MAX else result


#: What the app opens, for messages.
SUPPORTED_FORMATS_TEXT = "JPEG, PNG, TIFF, WebP, HEIC, AVIF, camera RAW, BMP, GIF"


def open_dialog_filter() -> str:
    """File-dialog filters for every format ``core`` reads (both letter cases: cameras write .NEF)."""

    def patterns(extensions: frozenset[str]) -> str:
        return " ".join(f"*{case}" for name in sorted(extensions) for case in (name, name.upper()))

    every = RASTER_EXTENSIONS | HEIF_EXTENSIONS | RAW_EXTENSIONS
    return (f"Photos ({patterns(every)});;Camera RAW ({patterns(RAW_EXTENSIONS)});;"
            f"HEIC / HEIF / AVIF ({patterns(HEIF_EXTENSIONS)});;All files (*)")
