"""Where and how an enhanced photo is written (no widgets).

A result that still holds its full-resolution arrays at the current exposure is blended and
written on the I/O pool; one whose arrays were freed (memory cap) or that was made at another
exposure is enhanced again first, on the inference pool.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from .engine import Engine
from .jobs import EnhanceResult, ExportOptions, enhance_and_save_job, save_job
from .messages import error_text
from .settings import FORMAT_EXTENSIONS, AppSettings
from .workers import JobRunner, Worker


def default_target(source: Path, settings: AppSettings) -> Path:
    """``photo_enhanced.jpg`` in the last save folder (if it still exists), else beside ``source``."""
    folder = Path(settings.last_save_dir) if settings.last_save_dir else source.parent
    if not folder.is_dir():
        folder = source.parent
    return folder / f"{source.stem}{settings.save_suffix}{FORMAT_EXTENSIONS[settings.export_format]}"


def export_options(settings: AppSettings) -> ExportOptions:
    """How photos are written, as last chosen."""
    return ExportOptions(settings.export_format, settings.jpeg_quality, settings.keep_metadata)


def remember_export(settings: AppSettings, options: ExportOptions, folder: Path) -> None:
    """Save As chose ``options`` and ``folder``: the next save starts from them."""
    settings.export_format, settings.jpeg_quality = options.fmt, options.quality
    settings.keep_metadata = options.keep_metadata
    settings.last_save_dir = str(folder)


@dataclass(frozen=True)
class SavePlan:
    """The job that writes one photo, and whether it needs the model (the inference pool)."""

    worker: Worker
    needs_model: bool


def plan_save(result: EnhanceResult, target: Path, options: ExportOptions, *, strength: float, exposure: float,
              engine: Engine | None, overwrite: bool = False) -> SavePlan:
    """The save job of ``result`` at ``strength`` and ``exposure``. Raises RuntimeError when the
    photo must be enhanced again and no model is loaded."""
    name = f"save {target.name}"
    if result.has_full_resolution and result.exposure == exposure:
        worker = Worker(save_job, result, target, strength, options, overwrite, name=name, cancellable=False)
        return SavePlan(worker, needs_model=False)
    if engine is None:
        raise RuntimeError("no model loaded")
    worker = Worker(enhance_and_save_job, engine, result.path, result.mode, result.model_key, target, strength,
                    options, exposure=exposure, overwrite=overwrite, name=name, cancellable=False)
    return SavePlan(worker, needs_model=True)


class PhotoSaver(QObject):
    """Runs save jobs: straight ones on the I/O pool, re-enhancing ones on the inference pool."""

    saved = Signal(object, object)  # (the photo, the written file)
    failed = Signal(str)  # people-readable

    def __init__(self, runner: JobRunner, io_runner: JobRunner, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.runner = runner
        self.io_runner = io_runner

    def save(self, result: EnhanceResult, target: Path, options: ExportOptions, *, strength: float,
             exposure: float, engine: Engine | None, overwrite: bool = False) -> Worker:
        """Start writing ``result`` to ``target``; raises RuntimeError as :func:`plan_save`."""
        plan = plan_save(result, target, options, strength=strength, exposure=exposure, engine=engine,
                         overwrite=overwrite)
        plan.worker.signals.returned.connect(lambda written, p=result.path: self.saved.emit(p, Path(written)))
        plan.worker.signals.errored.connect(
            lambda exc, t=target: self.failed.emit(f"Could not save {t.name}: {error_text(exc)}"))
        return (self.runner if plan.needs_model else self.io_runner).submit(plan.worker)
