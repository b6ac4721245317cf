"""The application's only door into :mod:`core`: engine loading, model catalogue, image I/O.

Everything the GUI needs from ``core`` goes through these few functions, so tests can swap
in a stub engine (any object with ``info``, ``device_name`` and ``enhance``) through an
:data:`EngineFactory`.
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Protocol

import numpy as np

from core.user_folders import user_models_dir as _user_models_dir

log = logging.getLogger(__name__)


class Engine(Protocol):
    """What the GUI uses of ``core.engine.Enhancer``."""

    info: Any
    device_name: str

    def enhance(
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
    from core.engine import Enhancer

    return Enhancer(weights)


def default_weights_path() -> Path:
    """The bundled model file (it may not exist)."""
    from core.engine import default_weights_path as _default

    return _default()


def user_models_dir() -> Path:
    """Where installed models live; the same folder the retraining wizard installs into."""
    return _user_models_dir()


@dataclass(frozen=True)
class ModelEntry:
    """One choice of the model picker; ``path=None`` means the bundled default."""

    label: str
    path: Path | None


def list_models(extra: list[Path] | None = None) -> list[ModelEntry]:
    """The bundled model, the models in :func:`user_models_dir` and ``extra`` files, without duplicates."""
    entries = [ModelEntry("Bundled model", None)]
    seen: set[Path] = {default_weights_path().resolve()}
    folder = user_models_dir()
    found = sorted(folder.glob("*.safetensors")) if folder.is_dir() else []
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


def read_image(path: Path) -> Any:
    """``core.io.read_image`` (raises ``core.errors.ImageReadError``)."""
    from core.io import read_image as _read

    return _read(path)


def read_pixels(path: Path) -> Any:
    """``core.io.read_image`` keeping the decoded uint8 / uint16 pixels (a quarter / half of float32)."""
    from core.io import read_image as _read

    return _read(path, integers=True)


def enhance_pixels(engine: Engine, pixels: np.ndarray, *, mode: str, exposure: float = 0.0,
                   progress: Callable[[Any], None] | None = None,
                   cancel: threading.Event | None = None, fast_pixels: int | None = None) -> np.ndarray:
    """``engine``'s strength-1 result in the pixels' own type (uint8, uint16 or float32).

    The real engine's ``render`` works tile by tile, without full-size float copies; an engine
    with only ``enhance`` (a test stub) gets float32 and its result is quantised back.
    ``fast_pixels``: the network's input size in fast mode, where the engine takes it.
    """
    render = getattr(engine, "render", None)
    if callable(render):
        extra = {"fast_pixels": fast_pixels} if fast_pixels else {}
        return render(pixels, mode=mode, strength=1.0, progress=progress, cancel=cancel, exposure=exposure, **extra)
    from core.pixels import INTEGER_MAX, to_float, to_integers

    result = np.asarray(engine.enhance(to_float(pixels), mode=mode, strength=1.0, progress=progress, cancel=cancel,
                                       exposure=exposure), dtype=np.float32)
    return to_integers(result, pixels.dtype) if pixels.dtype in INTEGER_MAX else result


def read_preview(path: Path, max_side: int) -> Any:
    """``core.io.read_preview``: a fast upright uint8 display copy (RAW: half-size development)."""
    from core.io import read_preview as _preview

    return _preview(path, max_side)


def is_raw_name(path: Path) -> bool:
    """Whether ``path`` is named like a camera RAW file (its full development takes seconds)."""
    from core.formats import RAW_EXTENSIONS

    return path.suffix.lower() in RAW_EXTENSIONS


#: What the app opens, for messages.
SUPPORTED_FORMATS_TEXT = "JPEG, PNG, TIFF, WebP, HEIC, AVIF, camera RAW, BMP, GIF"


def open_dialog_filter() -> str:
    """File-dialog filters for every format ``core`` reads (both letter cases: cameras write .NEF)."""
    from core.formats import HEIF_EXTENSIONS, RASTER_EXTENSIONS, RAW_EXTENSIONS

    def patterns(extensions: frozenset[str]) -> str:
        return " ".join(f"*{case}" for name in sorted(extensions) for case in (name, name.upper()))

    every = RASTER_EXTENSIONS | HEIF_EXTENSIONS | RAW_EXTENSIONS
    return (f"Photos ({patterns(every)});;Camera RAW ({patterns(RAW_EXTENSIONS)});;"
            f"HEIC / HEIF / AVIF ({patterns(HEIF_EXTENSIONS)});;All files (*)")


def write_image(path: Path, pixels: np.ndarray, **kwargs: Any) -> Path:
    """``core.io.write_image`` (atomic; raises ``core.errors.ImageWriteError``)."""
    from core.io import write_image as _write

    return Path(_write(path, pixels, **kwargs))


def unique_path(path: Path) -> Path:
    """A path like ``path`` that does not exist yet."""
    from core.io import unique_path as _unique

    return Path(_unique(path))


def blend_strength(original: np.ndarray, enhanced: np.ndarray, strength: float) -> np.ndarray:
    """Full-resolution strength blend, as the engine defines it, in ``enhanced``'s pixel type
    (band by band: no full-size float copy of integer photos)."""
    from core.engine import blend_pixels

    return blend_pixels(original, enhanced, strength)


def collect_inputs(paths: list[Path], recursive: bool = False) -> list[Path]:
    """Image files among ``paths`` (folders expanded), via ``core.batch``."""
    from core.batch import collect_inputs as _collect

    return list(_collect(paths, recursive=recursive))
