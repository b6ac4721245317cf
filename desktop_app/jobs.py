"""The work the app hands to workers: load a model, enhance one photo, save one photo.

Functions here run on pool threads. They return numpy arrays and metadata only; the GUI
thread turns the prepared uint8 buffers into QImages.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from . import engine as eng
from .imaging import PREVIEW_MAX_SIDE, THUMBNAIL_MAX_SIDE, downscale, pyramid, to_uint8

log = logging.getLogger(__name__)

Report = Callable[[object], None]


@dataclass(frozen=True)
class ModelLoaded:
    """A loaded engine and how to describe it."""

    engine: eng.Engine
    weights: Path | None
    description: str
    device: str


@dataclass(frozen=True)
class ImageLoaded:
    """Sent as soon as a photo is decoded: its thumbnail and display-size original (pyramid)."""

    path: Path
    thumbnail: np.ndarray
    preview: list[np.ndarray]  # uint8 levels, largest (<= PREVIEW_MAX_SIDE) first
    width: int
    height: int
    #: How the file was read, e.g. "first of 3 pages used" (``core.io.ImageData.notes``).
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class StageProgress:
    """How far one enhancement is (``fraction`` in [0, 1])."""

    path: Path
    fraction: float
    stage: str = ""


@dataclass
class EnhanceResult:
    """Everything the GUI keeps about one enhanced photo."""

    path: Path
    mode: str
    model_key: str
    source: Any  # core.io.ImageData (pixels = full-resolution original, plus metadata)
    enhanced: np.ndarray  # float32 full resolution, strength 1
    before_full: np.ndarray  # uint8 full resolution (100 % zoom)
    after_full: np.ndarray
    before_levels: list[np.ndarray]  # uint8 pyramids, largest (<= PREVIEW_MAX_SIDE) first
    after_levels: list[np.ndarray]
    thumbnail: np.ndarray
    seconds: float = 0.0
    exposure: float = 0.0  # stops from the automatic exposure it was enhanced at
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def size(self) -> tuple[int, int]:
        h, w = self.before_full.shape[:2]
        return w, h

    @property
    def nbytes(self) -> int:
        arrays = (self.source.pixels, self.enhanced, self.before_full, self.after_full)
        return int(sum(a.nbytes for a in arrays))

    def drop_full_resolution(self) -> None:
        """Free the big arrays, keeping the previews (memory cap); saving re-enhances then."""
        self.source = None
        self.enhanced = np.empty((0, 0, 3), np.float32)
        self.before_full = self.before_levels[0]
        self.after_full = self.after_levels[0]

    @property
    def has_full_resolution(self) -> bool:
        return self.source is not None


def load_model_job(factory: eng.EngineFactory, weights: Path | None) -> ModelLoaded:
    """Build the engine (pool thread: loading weights can take a moment)."""
    engine = factory(weights)
    return ModelLoaded(engine, weights, eng.describe_model(getattr(engine, "info", None)),
                       str(getattr(engine, "device_name", "CPU")))


class _Throttle:
    """Forward progress at most every ``interval`` seconds (plus the first and last)."""

    def __init__(self, report: Report, path: Path, interval: float = 0.05) -> None:
        self.report, self.path, self.interval = report, path, interval
        self.last = 0.0

    def __call__(self, event: Any) -> None:
        fraction = float(getattr(event, "fraction", 0.0))
        now = time.monotonic()
        if fraction >= 1.0 or now - self.last >= self.interval:
            self.last = now
            self.report(StageProgress(self.path, fraction, str(getattr(event, "stage", ""))))


def enhance_job(
    engine: eng.Engine,
    path: Path,
    mode: str,
    model_key: str,
    *,
    report: Report,
    cancel: threading.Event,
    read: Callable[[Path], Any] = eng.read_image,
    exposure: float = 0.0,
    source: Any = None,
) -> EnhanceResult:
    """Read ``path`` (or reuse its already decoded ``source``), enhance it at strength 1 and the
    given ``exposure`` (stops from auto), and prepare display buffers (pool thread)."""
    started = time.perf_counter()
    if source is None and eng.is_raw_name(path):
        # Full RAW development takes seconds: show the half-size one first (0.4 s for 24 MP).
        from .previews import preview_job

        try:
            report(preview_job(path))
        except Exception as exc:  # noqa: BLE001 - the full read below names the problem
            log.debug("quick RAW preview of %s failed: %s", path, exc)
    source = source if source is not None else read(path)
    pixels = source.pixels
    before_full = to_uint8(pixels)
    before_levels = pyramid(downscale(before_full, PREVIEW_MAX_SIDE))
    thumbnail = downscale(before_levels[-1], THUMBNAIL_MAX_SIDE)
    h, w = pixels.shape[:2]
    report(ImageLoaded(path, thumbnail, before_levels, w, h, tuple(getattr(source, "notes", ()))))
    if cancel.is_set():
        raise InterruptedError("cancelled")
    report(StageProgress(path, 0.0, "enhancing"))
    enhanced = engine.enhance(pixels, mode=mode, strength=1.0, progress=_Throttle(report, path), cancel=cancel,
                              exposure=exposure)
    enhanced = np.asarray(enhanced, dtype=np.float32)
    after_full = to_uint8(enhanced)
    after_levels = pyramid(downscale(after_full, PREVIEW_MAX_SIDE))
    seconds = time.perf_counter() - started
    log.info("enhanced %s (%dx%d, %s) in %.1fs", path.name, w, h, mode, seconds)
    return EnhanceResult(path, mode, model_key, source, enhanced, before_full, after_full,
                         before_levels, after_levels, thumbnail, seconds, exposure)


@dataclass(frozen=True)
class ExportOptions:
    """How to write an enhanced photo."""

    fmt: str = "jpeg"
    quality: int = 95
    keep_metadata: bool = True


def save_job(result: EnhanceResult, target: Path, strength: float, options: ExportOptions,
             overwrite: bool = False) -> Path:
    """Blend at full resolution and write atomically; never writes onto the original."""
    if target.resolve() == result.path.resolve():
        from core.errors import ImageWriteError

        raise ImageWriteError(target, "that is the original photo; it is never overwritten")
    pixels = eng.blend_strength(result.source.pixels, result.enhanced, strength)
    return eng.write_image(
        target, pixels, alpha=getattr(result.source, "alpha", None), source=result.source,
        quality=options.quality, keep_metadata=options.keep_metadata, overwrite=overwrite,
    )


def enhance_and_save_job(engine: eng.Engine, path: Path, mode: str, model_key: str, target: Path,
                         strength: float, options: ExportOptions, *, report: Report,
                         cancel: threading.Event, exposure: float = 0.0, overwrite: bool = False) -> Path:
    """Enhance a photo again (its full-resolution result was freed, or it is at another exposure),
    then save it."""
    result = enhance_job(engine, path, mode, model_key, report=report, cancel=cancel, exposure=exposure)
    return save_job(result, target, strength, options, overwrite)
