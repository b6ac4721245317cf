"""The work the app hands to workers: load a model, enhance one photo, save one photo.

Functions here run on pool threads. They return numpy arrays and metadata only; the GUI
thread turns the prepared uint8 buffers into QImages. Enhancing is a generator (see
:mod:`.workers`): it yields :class:`StageProgress` reports and the :class:`ImageLoaded` /
:class:`QuickPreview` pictures, and returns the :class:`EnhanceResult`.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np

from core.engine import blend_pixels
from core.errors import ImageWriteError
from core.formats import RAW_EXTENSIONS
from core.io import read_image, read_preview, write_image
from core.progress import Throttle
from core.steps import map_steps

from . import engine as eng
from .imaging import PREVIEW_MAX_SIDE, THUMBNAIL_MAX_SIDE, downscale, pyramid, to_uint8
from .workers import Preview

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class ModelLoaded:
    """A loaded engine and how to describe it."""

    engine: eng.Engine
    weights: Path | None
    description: str
    device: str


@dataclass(frozen=True)
class ImageLoaded(Preview):
    """Sent as soon as a photo is decoded: its thumbnail and display-size original (pyramid)."""

    path: Path
    thumbnail: np.ndarray
    preview: list[np.ndarray]  # uint8 levels, largest (<= PREVIEW_MAX_SIDE) first
    width: int
    height: int
    #: How the file was read, e.g. "first of 3 pages used" (``core.io.ImageData.notes``).
    notes: tuple[str, ...] = ()


@dataclass(frozen=True)
class QuickPreview(Preview):
    """The fast-mode result of a display-size working copy, sent before the real result so that
    something enhanced is on screen within about a second (like :class:`ImageLoaded`, plus
    ``enhanced``)."""

    path: Path
    thumbnail: np.ndarray
    preview: list[np.ndarray]  # uint8 levels of the working copy, largest first
    enhanced: list[np.ndarray]  # the same levels of its fast-mode result (strength 1)
    width: int  # the full photo's size
    height: int
    exposure: float = 0.0
    seconds: float = 0.0  # from the start of the job


#: Photos larger than this (long side), or more than QUICK_FULL_PIXELS in full mode, get a
#: :class:`QuickPreview` first: a copy of at most PREVIEW_MAX_SIDE px is enhanced in fast mode.
QUICK_MIN_SIDE = PREVIEW_MAX_SIDE
QUICK_FULL_PIXELS = 1_000_000
#: The quick preview's network input (fast mode uses 0.2 MP): fast mode's cost is mostly the
#: network, so a first glimpse from fewer pixels comes sooner; the guided filter keeps the edges.
QUICK_NETWORK_PIXELS = 80_000


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
    source: Any  # core.io.ImageData (pixels = full-resolution original, uint8/uint16, plus metadata)
    enhanced: np.ndarray  # full resolution, strength 1, in the source's pixel type
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


EnhanceEvent = StageProgress | ImageLoaded | QuickPreview | None
EnhanceSteps = Generator[EnhanceEvent, None, EnhanceResult]


def _reported(steps: Generator[Any, None, np.ndarray], path: Path) -> Generator[StageProgress | None, None, np.ndarray]:
    """The engine's steps as throttled :class:`StageProgress` reports, with a bare ``yield`` in
    between (every step stays a cancellation point); returns the engine's result."""
    throttle = Throttle()

    def report(event: Any) -> StageProgress | None:
        fraction = float(event.fraction)
        return StageProgress(path, fraction, str(event.stage)) if throttle.ready(final=fraction >= 1.0) else None

    return (yield from map_steps(steps, report))


def read_pixels(path: Path) -> Any:
    """``core.io.read_image`` keeping the decoded uint8 / uint16 pixels (a quarter / half of float32)."""
    return read_image(path, integers=True)


def enhance_job(
    engine: eng.Engine,
    path: Path,
    mode: str,
    model_key: str,
    *,
    read: Callable[[Path], Any] = read_pixels,
    exposure: float = 0.0,
    source: Any = None,
    quick: bool = True,
) -> EnhanceSteps:
    """Read ``path`` (or reuse its already decoded ``source``), enhance it at strength 1 and the
    given ``exposure`` (stops from auto), and prepare display buffers (pool thread).

    With ``quick``, a large photo first gets a :class:`QuickPreview` (its display-size copy in
    fast mode: a reduced JPEG decode or half-size RAW development when nothing is decoded yet).
    """
    started = time.perf_counter()
    look = (yield from _working_copy(path, source)) if quick else None
    if look is not None and _wants_quick(look, mode):
        yield from _quick_preview(engine, path, look, exposure, started)
    source = source if source is not None else read(path)
    pixels = source.pixels
    before_full = to_uint8(pixels)
    exact = look is not None and look.exact  # the same display copy, made from the decoded photo
    before_levels = pyramid(look.pixels if exact else downscale(before_full, PREVIEW_MAX_SIDE))
    thumbnail = downscale(before_levels[-1], THUMBNAIL_MAX_SIDE)
    h, w = pixels.shape[:2]
    yield ImageLoaded(path, thumbnail, before_levels, w, h, tuple(getattr(source, "notes", ())))
    yield StageProgress(path, 0.0, "enhancing")
    enhanced = yield from _reported(eng.enhance_steps(engine, pixels, mode=mode, exposure=exposure), path)
    after_full = to_uint8(enhanced)
    after_levels = pyramid(downscale(after_full, PREVIEW_MAX_SIDE))
    seconds = time.perf_counter() - started
    log.info("enhanced %s (%dx%d, %s) in %.1fs", path.name, w, h, mode, seconds)
    return EnhanceResult(path, mode, model_key, source, enhanced, before_full, after_full,
                         before_levels, after_levels, thumbnail, seconds, exposure)


@dataclass(frozen=True)
class _Look:
    """A display-size upright uint8 copy of a photo and the photo's full size."""

    pixels: np.ndarray
    width: int
    height: int
    exact: bool  # made from the decoded photo (not a reduced decode)


def _working_copy(path: Path, source: Any) -> Generator[ImageLoaded, None, _Look | None]:
    """The display-size copy for the quick preview: from the decoded ``source``, else a fast
    reduced decode (JPEG draft mode, half-size RAW), whose original a RAW also shows at once."""
    if source is not None:
        h, w = source.pixels.shape[:2]
        return _Look(downscale(to_uint8(source.pixels), PREVIEW_MAX_SIDE), w, h, True)
    try:
        preview = read_preview(path, PREVIEW_MAX_SIDE)
    except Exception as exc:  # noqa: BLE001 - the full read below names the problem
        log.debug("quick look at %s failed: %s", path, exc)
        return None
    if path.suffix.lower() in RAW_EXTENSIONS:
        # Full RAW development takes seconds: show the half-size original first (0.4 s for 24 MP).
        yield loaded_from_preview(path, preview)
    return _Look(np.ascontiguousarray(preview.pixels), preview.width, preview.height, False)


def _wants_quick(look: _Look, mode: str) -> bool:
    if max(look.width, look.height) > QUICK_MIN_SIDE:
        return True
    return mode == "full" and look.width * look.height > QUICK_FULL_PIXELS


def _quick_preview(engine: eng.Engine, path: Path, look: _Look, exposure: float,
                   started: float) -> Generator[QuickPreview | None, None, None]:
    """Enhance the working copy in fast mode and yield it as a :class:`QuickPreview` (the
    engine's steps in between are bare cancellation points: the quick look reports no progress)."""
    before = pyramid(look.pixels)
    steps = eng.enhance_steps(engine, look.pixels, mode="fast", exposure=exposure, fast_pixels=QUICK_NETWORK_PIXELS)
    after = pyramid((yield from map_steps(steps, lambda event: None)))
    thumbnail = downscale(before[-1], THUMBNAIL_MAX_SIDE)
    yield QuickPreview(path, thumbnail, before, after, look.width, look.height, exposure,
                       time.perf_counter() - started)


def loaded_from_preview(path: Path, preview: Any) -> ImageLoaded:
    """The :class:`ImageLoaded` of a ``core.io.Preview`` of ``path``."""
    levels = pyramid(np.ascontiguousarray(preview.pixels))
    return ImageLoaded(path, np.ascontiguousarray(downscale(levels[-1], THUMBNAIL_MAX_SIDE)), levels,
                       preview.width, preview.height, tuple(preview.notes))


def preview_job(path: Path) -> ImageLoaded:
    """Thumbnail and display-size original of a photo not enhanced yet (upright, RGB uint8).

    ``core.io.read_preview`` decodes JPEGs at reduced size (Pillow's draft mode), develops camera
    RAW files at half size (0.4 s for 24 MP on two cores, instead of 3 s for the full demosaic)
    and reads and scales down other formats.
    """
    return loaded_from_preview(path, read_preview(path, PREVIEW_MAX_SIDE))


@dataclass(frozen=True)
class ExportOptions:
    """How to write an enhanced photo."""

    fmt: str = "jpg"  # a name of core.formats.OUTPUT_FORMATS
    quality: int = 95
    keep_metadata: bool = True


def save_job(result: EnhanceResult, target: Path, strength: float, options: ExportOptions,
             overwrite: bool = False) -> Path:
    """Blend at full resolution and write atomically; never writes onto the original."""
    if target.resolve() == result.path.resolve():
        raise ImageWriteError(target, "that is the original photo; it is never overwritten")
    # the engine's strength blend, band by band: no full-size float copy of integer photos
    pixels = blend_pixels(result.source.pixels, result.enhanced, strength)
    return Path(write_image(
        target, pixels, alpha=getattr(result.source, "alpha", None), source=result.source,
        quality=options.quality, keep_metadata=options.keep_metadata, overwrite=overwrite,
    ))


def enhance_and_save_job(engine: eng.Engine, path: Path, mode: str, model_key: str, target: Path,
                         strength: float, options: ExportOptions, *, exposure: float = 0.0,
                         overwrite: bool = False) -> Generator[EnhanceEvent, None, Path]:
    """Enhance a photo again (its full-resolution result was freed, or it is at another exposure),
    then save it."""
    result = yield from enhance_job(engine, path, mode, model_key, exposure=exposure, quick=False)
    return save_job(result, target, strength, options, overwrite)
