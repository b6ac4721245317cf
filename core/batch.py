"""Enhance many files: the one code path behind ``lowlight enhance`` and the app's batch dialog.

:func:`run_batch_steps` is a generator: it yields a :class:`BatchProgress` when each file
starts and when it ends, and *returns* a :class:`BatchReport` (``StopIteration.value``);
:func:`run_batch` drives it to the end. A file that cannot be read, enhanced or written is
recorded in ``BatchReport.failed`` and the batch goes on.

Cancelling (setting ``cancel``) never raises: the engine stops within one tile, the file in
progress is not written (outputs are written atomically, so no partial file exists), files
finished before are kept, and the report comes back with ``cancelled=True``.

Inputs are never written to, and existing outputs are never replaced unless
``overwrite=True``: otherwise they are skipped (``skip_existing=True``) or the new output
gets a free name such as ``photo_enhanced (1).jpg``. The output folder may be the input
folder: an output whose name is an input's gets a free name too, even with ``overwrite``, and
the report's ``notes`` say so. Publishing is race-free when several runs write into one
folder: a name another process took meanwhile moves this output to the next free name (or,
with ``skip_existing``, skips it).

Before the first file, the output folder is checked (writable, room for about one output) and
temporary files a killed earlier run left there are removed (only ours: core/atomic.py).
Inputs that are not regular files (named pipes, devices, broken links, link loops) fail at
once, without being opened.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any, Literal, Protocol, runtime_checkable

import numpy as np

from .atomic import free_name, remove_stale_temp_files
from .errors import CancelledError, CoreError, ImageWriteError, OutputExistsError
from .exposure import check_exposure
from .files import file_problem, resolved
from .formats import OUTPUT_FORMATS as FORMATS
from .io import READ_EXTENSIONS, read_image, same_format_extension, write_image
from .steps import run_to_end

if TYPE_CHECKING:
    from .compiled import BuildDecision, BuildHost, BuildPolicy, BuildProgress
    from .engine import ProgressEvent

log = logging.getLogger(__name__)

#: ``same`` or a name of :data:`core.formats.OUTPUT_FORMATS`.
OutputFormat = Literal["same", "png", "jpg", "tif", "webp", "heic"]
OUTPUT_FORMATS: tuple[str, ...] = ("same", *FORMATS)
#: Added to each output's file name stem: ``photo.jpg`` -> ``photo_enhanced.jpg``.
DEFAULT_SUFFIX = "_enhanced"

Stage = Literal["start", "progress", "done", "skipped", "failed"]
#: Whether a batch first builds the compiled package of full-mode tiles (:mod:`core.compiled`):
#: ``auto`` when :func:`core.compiled.should_build` says it pays back, ``on`` whenever it can be
#: built, ``off`` never (the CLI's ``--compiled off`` also leaves cached packages unused).
CompiledChoice = Literal["auto", "on", "off"]
COMPILED_CHOICES: tuple[str, ...] = ("auto", "on", "off")


class SupportsEnhance(Protocol):
    """What the batch needs from :class:`core.engine.Enhancer`."""

    def enhance(self, image: np.ndarray, mode: Any = ..., strength: float = ...,
                progress: Callable[[ProgressEvent], None] | None = ...,
                cancel: threading.Event | None = ..., exposure: float = ...) -> np.ndarray: ...


@runtime_checkable
class SupportsRender(Protocol):
    """An enhancer that also takes uint8 / uint16 pixels (:meth:`core.engine.Enhancer.render`):
    the batch then keeps each photo in integers, and memory stays flat in its size."""

    def render(self, image: np.ndarray, mode: Any = ..., strength: float = ...,
               progress: Callable[[ProgressEvent], None] | None = ...,
               cancel: threading.Event | None = ..., exposure: float = ..., *, dtype: Any = ...,
               out: np.ndarray | None = ...) -> np.ndarray: ...


@dataclass(frozen=True)
class BatchOptions:
    """How to enhance and where to write. ``bit_depth=None`` keeps each input's depth."""

    mode: Literal["fast", "full"] = "full"
    strength: float = 1.0
    #: Stops from the automatic exposure (-3..+3).
    exposure: float = 0.0
    fmt: OutputFormat = "same"
    suffix: str = DEFAULT_SUFFIX
    quality: int = 95
    bit_depth: int | None = None
    keep_metadata: bool = True
    skip_existing: bool = False
    overwrite: bool = False

    def __post_init__(self) -> None:
        if self.mode not in ("fast", "full"):
            raise ValueError(f"mode must be 'fast' or 'full', not {self.mode!r}")
        check_exposure(self.exposure)
        if self.fmt not in OUTPUT_FORMATS:
            raise ValueError(f"format must be one of {', '.join(OUTPUT_FORMATS)}, not {self.fmt!r}")
        if not 1 <= self.quality <= 100:
            raise ValueError(f"quality must be 1..100, not {self.quality}")
        if self.bit_depth not in (None, 8, 16):
            raise ValueError(f"bit depth must be 8 or 16, not {self.bit_depth}")
        if any(sep in self.suffix for sep in ("/", "\\", os.sep)):
            raise ValueError(f"suffix must not contain a path separator: {self.suffix!r}")
        if self.skip_existing and self.overwrite:
            raise ValueError("choose either skip_existing or overwrite, not both")


@dataclass(frozen=True)
class BatchProgress:
    """One step of a batch: a file started, advanced, finished, was skipped or failed."""

    index: int  # 0-based position of ``path`` in the batch
    total: int
    path: Path
    stage: Stage
    file_fraction: float  # 0..1 within the current file (from the engine's progress)
    elapsed_s: float
    eta_s: float | None  # None until something has been measured
    output: Path | None = None
    message: str | None = None  # failure reason

    @property
    def fraction(self) -> float:
        """Progress of the whole batch, 0..1."""
        return min(1.0, (self.index + self.file_fraction) / self.total) if self.total else 1.0


@dataclass
class BatchReport:
    """Outcome of a batch."""

    succeeded: list[tuple[Path, Path]] = field(default_factory=list)  # (input, output)
    failed: list[tuple[Path, str]] = field(default_factory=list)  # (input, reason)
    skipped: list[tuple[Path, Path]] = field(default_factory=list)  # (input, existing output)
    #: (input, note): e.g. written under another name because the planned one is an input's
    notes: list[tuple[Path, str]] = field(default_factory=list)
    cancelled: bool = False
    elapsed_s: float = 0.0

    @property
    def ok(self) -> bool:
        return not self.failed and not self.cancelled


def collect_inputs(paths: Iterable[str | Path], recursive: bool = False,
                   exclude: Iterable[str | Path] = ()) -> list[Path]:
    """Image files named by ``paths`` (files, or folders searched for image extensions).

    Hidden files are ignored in folders, as is anything under an ``exclude`` folder (for
    example the output folder) unless that folder is, or holds, the named folder itself (the
    output may go beside the originals). Whatever cannot be read as a regular file is kept so
    that the batch reports it as a failure: a named path that does not exist or is no regular
    file (named pipe, device, broken link, link loop), and image-named entries of a folder
    that are such things. The result is sorted and free of duplicates.
    """
    excluded = [resolved(p) for p in exclude]
    found: dict[Path, Path] = {}

    def add(candidate: Path, skip: list[Path]) -> None:
        real = resolved(candidate)
        if any(real.is_relative_to(folder) for folder in skip):
            return
        found.setdefault(real, candidate)

    for item in paths:
        path = Path(item)
        problem = file_problem(path)
        if problem is not None and problem.startswith("is a folder"):
            here = resolved(path)
            skip = [folder for folder in excluded if not here.is_relative_to(folder)]
            pattern = path.rglob("*") if recursive else path.glob("*")
            for candidate in pattern:
                relative = candidate.relative_to(path).parts
                if any(part.startswith(".") for part in relative) or candidate.suffix.lower() not in READ_EXTENSIONS:
                    continue
                entry_problem = file_problem(candidate)
                if entry_problem is None or not entry_problem.startswith("is a folder"):
                    add(candidate, skip)
        elif problem is not None or path.suffix.lower() in READ_EXTENSIONS:
            add(path, [])  # reported by the batch (explicitly named: never silently dropped)
        else:
            log.warning("skipping %s: not an image file extension (%s)", path, ", ".join(sorted(READ_EXTENSIONS)))
    return sorted(found.values(), key=lambda p: (str(p.parent).lower(), p.name.lower(), str(p)))


def plan_output(input_path: str | Path, out_dir: str | Path, suffix: str = DEFAULT_SUFFIX,
                fmt: OutputFormat = "same") -> Path:
    """``out_dir/<stem><suffix>.<ext>``; ``fmt="same"`` keeps the input's extension where it can be
    written (camera RAW -> 16-bit TIFF, BMP and GIF -> PNG: :func:`core.io.same_format_extension`)."""
    source = Path(input_path)
    if fmt == "same":
        extension = same_format_extension(source)
    elif fmt in FORMATS:
        extension = FORMATS[fmt].extension
    else:
        raise ValueError(f"format must be one of {', '.join(OUTPUT_FORMATS)}, not {fmt!r}")
    return Path(out_dir) / f"{source.stem}{suffix}{extension}"


def run_batch_steps(
    enhancer: SupportsEnhance,
    inputs: Iterable[str | Path],
    out_dir: str | Path,
    options: BatchOptions = BatchOptions(),  # noqa: B008 - frozen, so a shared default is safe
    cancel: threading.Event | None = None,
    on_file_progress: Callable[[BatchProgress], None] | None = None,
) -> Generator[BatchProgress, None, BatchReport]:
    """Enhance ``inputs`` into ``out_dir``, yielding progress; returns the :class:`BatchReport`.

    ``on_file_progress`` receives ``stage="progress"`` events from inside the engine (per
    tile), on the thread that runs the batch. See the module docstring for cancel and
    overwrite rules. Raises :class:`ImageWriteError`, before any work, when ``out_dir``
    cannot be made or written to or has no room for an output.
    """
    files = [Path(p) for p in inputs]
    out = Path(out_dir)
    prepare_output_folder(out, files)

    report = BatchReport()
    total = len(files)
    started = time.monotonic()
    protected = {_key(p) for p in files}
    produced: set[str] = set()

    def event(index: int, path: Path, stage: Stage, fraction: float, **extra: Any) -> BatchProgress:
        elapsed = time.monotonic() - started
        overall = (index + fraction) / total if total else 1.0
        eta = elapsed * (1.0 - overall) / overall if overall > 0 and elapsed > 0 else None
        return BatchProgress(index=index, total=total, path=path, stage=stage, file_fraction=fraction,
                             elapsed_s=elapsed, eta_s=eta, **extra)

    for index, path in enumerate(files):
        if cancel is not None and cancel.is_set():
            report.cancelled = True
            break
        yield event(index, path, "start", 0.0)

        problem = file_problem(path)
        if problem is not None:
            report.failed.append((path, problem))
            yield event(index, path, "failed", 1.0, message=problem)
            continue
        target = planned = plan_output(path, out, options.suffix, options.fmt)
        note = None
        if _key(target) in protected:
            target = _free_name(target, produced | protected)
            note = (f"{planned.name} is the name of an input, which is never overwritten; "
                    f"written as {target.name}")
        elif target.exists() or _key(target) in produced:
            if options.skip_existing and _key(target) not in produced:
                report.skipped.append((path, target))
                yield event(index, path, "skipped", 1.0, output=target)
                continue
            if not options.overwrite or _key(target) in produced:
                target = _free_name(target, produced | protected)

        def forward(engine_event: Any, index: int = index, path: Path = path) -> None:
            if on_file_progress is not None:
                on_file_progress(event(index, path, "progress", max(0.0, min(1.0, engine_event.fraction))))

        try:
            data, result = _enhance_file(enhancer, path, options, forward, cancel)
            if cancel is not None and cancel.is_set():
                raise CancelledError()
            written = _publish(
                target, planned, lambda t, r=result, d=data: write_image(
                    t, r, alpha=d.alpha, source=d, quality=options.quality, bit_depth=options.bit_depth,
                    keep_metadata=options.keep_metadata, overwrite=options.overwrite),
                taken=produced | protected, may_skip=options.skip_existing and note is None)
        except _TakenMeanwhile:
            report.skipped.append((path, target))
            yield event(index, path, "skipped", 1.0, output=target)
            continue
        except CancelledError:
            report.cancelled = True
            log.info("batch cancelled at %s; %d file(s) done", path, len(report.succeeded))
            break
        except CoreError as exc:
            reason = getattr(exc, "reason", None) or str(exc)
            report.failed.append((path, reason))
            yield event(index, path, "failed", 1.0, message=reason)
            continue
        except (MemoryError, RuntimeError, ValueError, OSError) as exc:  # engine/torch trouble on one file
            log.exception("enhancing %s failed", path)
            reason = f"{type(exc).__name__}: {exc}"
            report.failed.append((path, reason))
            yield event(index, path, "failed", 1.0, message=reason)
            continue
        produced.add(_key(written))
        report.succeeded.append((path, written))
        if note is not None:
            report.notes.append((path, note))
        yield event(index, path, "done", 1.0, output=written, message=note)

    report.elapsed_s = time.monotonic() - started
    return report


def run_batch(
    enhancer: SupportsEnhance,
    inputs: Iterable[str | Path],
    out_dir: str | Path,
    options: BatchOptions = BatchOptions(),  # noqa: B008 - frozen, so a shared default is safe
    cancel: threading.Event | None = None,
    on_progress: Callable[[BatchProgress], None] | None = None,
    on_file_progress: Callable[[BatchProgress], None] | None = None,
) -> BatchReport:
    """Run :func:`run_batch_steps` to the end, passing each step to ``on_progress``."""
    return run_to_end(run_batch_steps(enhancer, inputs, out_dir, options, cancel, on_file_progress), on_progress)


@dataclass(frozen=True)
class EnginePrepared:
    """What :func:`prepare_engine_steps` did. ``decision`` says why (None: nothing to decide,
    e.g. a GPU, a stub engine, or the package is already in the cache); ``warning`` is the one
    line to show when a build failed and the batch goes on eagerly."""

    decision: BuildDecision | None = None
    built: bool = False
    cached: bool = False
    warning: str | None = None


def prepare_engine_steps(
    enhancer: Any,
    inputs: Iterable[str | Path],
    mode: str,
    choice: CompiledChoice = "auto",
    cancel: threading.Event | None = None,
    policy: BuildPolicy | None = None,
    host: BuildHost | None = None,
) -> Generator[BuildProgress, None, EnginePrepared]:
    """Before a batch: build the compiled package of ``enhancer``'s full-mode tiles when
    ``choice`` and :func:`core.compiled.should_build` say so, yielding its progress (each a
    cancel point: :class:`CancelledError`, nothing left behind); returns what was done.

    Nothing is yielded when no build is due. A failed build never raises: the result's
    ``warning`` says so and the engine stays eager. Engines without
    ``compiled_build_request`` (test stubs) are left alone.
    """
    if choice == "off":
        return EnginePrepared()
    request_for = getattr(enhancer, "compiled_build_request", None)
    request = request_for() if callable(request_for) else None
    if request is None:
        return EnginePrepared()
    if request.path.is_file():
        return EnginePrepared(cached=True)  # the engine loads it by itself
    from .compiled import BuildError, BuildHost, build_steps, policy_for, should_build, tiled_megapixels

    host = host or BuildHost.detect()
    policy = policy or policy_for(host)
    # fast mode never builds: no need to read the photos' headers to say so
    photos, megapixels = tiled_megapixels(inputs, request.shape[0]) if mode == "full" else (0, 0.0)
    decision = should_build(mode, photos, megapixels, host, policy)
    if not (decision.build or (choice == "on" and decision.possible)):
        log.info("no compiled package built: %s", decision.reason)
        return EnginePrepared(decision)
    reason = decision.reason if decision.build else "asked for"
    try:
        yield from build_steps(request, cancel, estimate_s=policy.build_seconds, reason=reason)
    except (BuildError, OSError) as exc:
        log.warning("building the compiled package failed: %s", exc)
        return EnginePrepared(decision, warning=f"the faster engine could not be prepared ({exc}); "
                                                "continuing with the standard engine")
    if enhancer.reload_compiled(request.shape) is None:
        return EnginePrepared(decision, warning=f"the faster engine was built ({request.path.name}) but does not "
                                                "load; continuing with the standard engine")
    return EnginePrepared(decision, built=True)


#: Names tried when other processes keep taking the free name this one picked.
PUBLISH_ATTEMPTS = 100
#: Room an output needs at least, whatever the input's size.
MIN_OUTPUT_BYTES = 64 << 10


def prepare_output_folder(out: Path, inputs: Iterable[Path] = ()) -> None:
    """Create ``out`` if needed, check that it is writable and has room for about one output
    (the first input's size), and remove temporary files a killed run left there.

    Raises :class:`ImageWriteError` with the reason.
    """
    if out.exists() and not out.is_dir():
        raise ImageWriteError(out, "the output folder is a file")
    try:
        out.mkdir(parents=True, exist_ok=True)
    except OSError as exc:
        raise ImageWriteError(out, f"cannot create the output folder ({exc.strerror or exc})") from None
    try:
        fd, probe = tempfile.mkstemp(prefix=".lowlight-write-test.", suffix=".tmp", dir=out)
    except OSError as exc:
        raise ImageWriteError(out, f"the output folder is not writable ({exc.strerror or exc})") from None
    os.close(fd)
    os.unlink(probe)
    remove_stale_temp_files(out)
    needed = MIN_OUTPUT_BYTES
    for path in inputs:
        if file_problem(path) is None:
            needed = max(needed, path.stat().st_size)
            break
    try:
        free = shutil.disk_usage(out).free
    except OSError:
        return
    if free < needed:
        raise ImageWriteError(out, f"the output folder's disk is full ({free / 1e6:.1f} MB free; an output needs "
                                   f"about {needed / 1e6:.1f} MB)")


class _TakenMeanwhile(Exception):
    """Another process published the planned output first (``skip_existing``: skip it)."""


def _publish(target: Path, planned: Path, write: Callable[[Path], Path], taken: set[str], may_skip: bool) -> Path:
    """``write(target)``; when another process takes the name first, the next free name after
    ``planned`` (or skip it)."""
    for _ in range(PUBLISH_ATTEMPTS):
        try:
            return write(target)
        except OutputExistsError:
            if may_skip:
                raise _TakenMeanwhile() from None
            log.info("%s was taken meanwhile (another run?); trying the next free name", target.name)
            target = _free_name(planned, taken)
    raise ImageWriteError(target, f"no free name found after {PUBLISH_ATTEMPTS} attempts")


def _enhance_file(enhancer: SupportsEnhance, path: Path, options: BatchOptions,
                  progress: Callable[[Any], None], cancel: threading.Event | None) -> tuple[Any, np.ndarray]:
    """Read and enhance one file: the decoded photo and the result to write."""
    if isinstance(enhancer, SupportsRender):
        data = read_image(path, integers=True)
        dtype = np.dtype(np.uint16 if (options.bit_depth or data.bit_depth) == 16 else np.uint8)
        # The decoded pixels are not needed afterwards: the result overwrites them where they are
        # writable (core.io's decodes are, JPEG's too since OpenCV decodes it), and they are dropped
        # before writing either way.
        in_place = data.pixels.dtype == dtype and data.pixels.flags.writeable
        result = enhancer.render(data.pixels, mode=options.mode, strength=options.strength, progress=progress,
                                 cancel=cancel, exposure=options.exposure, dtype=dtype,
                                 **({"out": data.pixels} if in_place else {}))
        return dataclasses.replace(data, pixels=result), result
    data = read_image(path)
    return data, enhancer.enhance(data.pixels, mode=options.mode, strength=options.strength,
                                  progress=progress, cancel=cancel, exposure=options.exposure)


def _key(path: Path) -> str:
    return os.path.normcase(str(resolved(path)))


def _free_name(target: Path, taken: set[str]) -> Path:
    """:func:`core.atomic.free_name`, also avoiding names this batch uses or reads."""
    return free_name(target, lambda candidate: _key(candidate) in taken)
