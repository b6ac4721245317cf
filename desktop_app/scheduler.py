"""What to enhance next, and the bookkeeping of each enhancement (no widgets).

:class:`EnhanceScheduler` watches the photo queue (an item model) and the user's settings,
runs one enhancement at a time on the inference pool (the selected photo first), reads quick
previews on the I/O pool, writes every outcome into the queue model and keeps full-resolution
results within a memory budget. The window only listens to its signals to redraw.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

from PySide6.QtCore import QObject, Signal

from .engine import Engine
from .imaging import qimage_from_rgb
from .jobs import (
    EnhanceResult,
    ImageLoaded,
    ModelLoaded,
    QuickPreview,
    StageProgress,
    enhance_job,
    preview_job,
)
from .messages import error_text
from .model_loader import ModelLoader
from .models.photo_queue import PhotoQueueModel, PhotoState
from .result_cache import FULL_RES_BUDGET_BYTES, FullResolutionCache
from .settings import AppSettings
from .workers import JobRunner, Worker

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EnhanceRequest:
    """The photo being enhanced and the settings it is enhanced with."""

    path: Path
    mode: str
    exposure: float
    model_key: str


class EnhanceScheduler(QObject):
    """Runs the queue's enhancements one at a time; see the module docstring.

    Holds (``hold("model")`` while a model loads, ``hold("batch")`` while a batch runs) keep
    it from starting anything new; :meth:`release` starts the next photo.
    """

    #: An enhancement started (path).
    started = Signal(object)
    #: (path, fraction done, estimated seconds left or None)
    progressed = Signal(object, float, object)
    #: The running enhancement ended (any way); the next one may start right after.
    finished = Signal()
    #: (row, keep_view): the picture of ``row`` changed (a preview, a result, a failure).
    picture_changed = Signal(int, bool)
    #: (row, QuickPreview): a fast result of the display-size copy, until the real one.
    quick_preview = Signal(int, object)
    #: ``row``'s state changed without a new picture (cancelled, back in the queue).
    state_changed = Signal(int)
    info = Signal(str)
    error = Signal(str)

    def __init__(self, queue: PhotoQueueModel, settings: AppSettings, runner: JobRunner, io_runner: JobRunner,
                 current_row: Callable[[], int], parent: QObject | None = None, *,
                 budget_bytes: int = FULL_RES_BUDGET_BYTES) -> None:
        super().__init__(parent)
        self.queue = queue
        self.settings = settings
        self.runner = runner
        self.io_runner = io_runner
        self.current_row = current_row
        self.engine: Engine | None = None
        self.model_key = ""
        self.cache = FullResolutionCache(budget_bytes)
        self._holds: set[str] = set()
        self._closed = False
        self._worker: Worker | None = None
        self._request: EnhanceRequest | None = None
        self._started_at = 0.0
        self._user_cancelled: Path | None = None
        self._preview_pending: set[Path] = set()

    # ------------------------------------------------------------------ state
    @property
    def active_worker(self) -> Worker | None:
        """The running enhancement's worker, if any."""
        return self._worker

    @property
    def active_path(self) -> Path | None:
        return self._request.path if self._request is not None else None

    def hold(self, reason: str) -> None:
        self._holds.add(reason)

    def release(self, reason: str) -> None:
        self._holds.discard(reason)
        self.schedule()

    def close(self) -> None:
        """The window is closing: start nothing, report nothing."""
        self._closed = True

    def follow(self, models: ModelLoader) -> None:
        """Pause while ``models`` loads a model, then enhance with it (or with none, if it failed)."""
        models.loading.connect(self._on_model_loading)
        models.loaded.connect(self._on_model_loaded)
        models.finished.connect(self._on_model_finished)

    def set_engine(self, engine: Engine | None, model_key: str = "") -> None:
        """A model is ready (or gone: ``None``); results of another model go back in the queue."""
        self.engine = engine
        if engine is not None:
            self.model_key = model_key
            self.requeue_stale()

    def is_stale(self, result: EnhanceResult) -> bool:
        """Whether ``result`` was made with other settings than the current ones."""
        return (result.mode != self.settings.mode or result.model_key != self.model_key
                or result.exposure != self.settings.exposure)

    def requeue_stale(self) -> None:
        for row, item in enumerate(self.queue.items()):
            result = item.result
            if item.state is PhotoState.DONE and result is not None and self.is_stale(result):
                self.queue.set_state(row, PhotoState.QUEUED)

    def settings_changed(self) -> None:
        """Mode or exposure changed: stop an enhancement made with the old ones, redo stale results."""
        request = self._request
        if request is not None and (request.mode, request.exposure) != (self.settings.mode, self.settings.exposure):
            self.cancel()
        self.requeue_stale()
        self.schedule()

    # ------------------------------------------------------------------ commands
    def add_rows(self, rows: list[int]) -> None:
        """New photos: start enhancing, and read a quick preview of each one that waits."""
        self.schedule()
        for row in rows:  # the photo being enhanced sends its own preview
            path = self.queue.item(row).path
            if path != self.active_path:
                self.request_preview(path)

    def remove(self, path: Path) -> None:
        """``path`` is about to leave the queue."""
        if path == self.active_path:
            self.cancel()
        self.cache.forget(path)

    def cancel(self, *, by_user: bool = False) -> None:
        """Stop the running enhancement; a photo the user cancelled is not retried by itself."""
        if self._worker is None:
            return
        self._worker.cancel()
        if by_user:
            self._user_cancelled = self.active_path

    def schedule(self) -> None:
        """Start the next enhancement if nothing runs (selected photo first)."""
        if self._closed or self.engine is None or self._worker is not None or self._holds:
            return
        row = self.queue.next_queued(self.current_row())
        if row < 0:
            return
        item = self.queue.item(row)
        self.queue.set_state(row, PhotoState.WORKING, progress=0.0)
        # A photo enhanced before (other exposure, mode or model) is not decoded again.
        decoded = item.result.source if item.result is not None and item.result.has_full_resolution else None
        request = EnhanceRequest(item.path, self.settings.mode, self.settings.exposure, self.model_key)
        worker = Worker(enhance_job, self.engine, request.path, request.mode, request.model_key,
                        exposure=request.exposure, source=decoded, name=f"enhance {item.path.name}")
        worker.signals.progress.connect(self._on_worker_progress)
        worker.signals.preview.connect(self._on_worker_preview)
        worker.signals.returned.connect(self._on_worker_returned)
        worker.signals.errored.connect(lambda exc, p=item.path: self._on_worker_errored(p, exc))
        worker.signals.aborted.connect(lambda p=item.path: self._on_worker_aborted(p))
        worker.signals.finished.connect(self._on_worker_finished)
        self._worker = worker
        self._request = request
        self._started_at = time.monotonic()
        self.started.emit(item.path)
        self.runner.submit(worker)

    def request_preview(self, path: Path) -> None:
        if path in self._preview_pending:
            return
        self._preview_pending.add(path)
        worker = Worker(preview_job, path, name=f"preview {path.name}")
        worker.signals.returned.connect(self._on_preview_returned)
        worker.signals.errored.connect(lambda exc, p=path: self._on_preview_errored(p, exc))
        self.io_runner.submit(worker)

    # ------------------------------------------------------------------ slots: model
    def _on_model_loading(self) -> None:
        self.cancel()
        self.hold("model")
        self.set_engine(None)

    def _on_model_loaded(self, loaded: ModelLoaded) -> None:
        self.set_engine(loaded.engine, str(loaded.weights or "bundled"))

    def _on_model_finished(self) -> None:
        self.release("model")

    # ------------------------------------------------------------------ slots: previews
    def _on_preview_returned(self, loaded: ImageLoaded) -> None:
        if self._closed:
            return
        self._preview_pending.discard(loaded.path)
        row = self.queue.row_of(loaded.path)
        if row < 0:
            return
        item = self.queue.item(row)
        if item.thumbnail is None:
            self.queue.set_thumbnail(row, qimage_from_rgb(loaded.thumbnail).copy(), (loaded.width, loaded.height))
        if "preview" not in item.extra:
            item.extra["preview"] = loaded
            if item.result is None:
                self.picture_changed.emit(row, False)

    def _on_preview_errored(self, path: Path, exc: BaseException) -> None:
        """An unreadable photo fails at once, with its reason (it would not enhance either)."""
        self._preview_pending.discard(path)
        row = self.queue.row_of(path)
        if self._closed or row < 0 or self.queue.item(row).state is not PhotoState.QUEUED:
            return
        self.queue.set_state(row, PhotoState.FAILED, error=error_text(exc))
        self.picture_changed.emit(row, False)

    def _on_quick_preview(self, quick: QuickPreview) -> None:
        row = self.queue.row_of(quick.path)
        if row < 0:
            return
        item = self.queue.item(row)
        if item.thumbnail is None:
            self.queue.set_thumbnail(row, qimage_from_rgb(quick.thumbnail).copy(), (quick.width, quick.height))
        item.extra["preview"] = quick
        if item.result is None or item.state is PhotoState.WORKING:
            self.quick_preview.emit(row, quick)

    # ------------------------------------------------------------------ slots: enhancement
    def _on_worker_preview(self, preview: ImageLoaded | QuickPreview) -> None:
        if self._closed:
            return
        match preview:
            case QuickPreview():
                self._on_quick_preview(preview)
            case ImageLoaded():
                self._on_preview_returned(preview)

    def _on_worker_progress(self, event: StageProgress) -> None:
        if self._closed:
            return
        row = self.queue.row_of(event.path)
        if row < 0:
            return
        self.queue.set_progress(row, event.fraction)
        remaining = None
        if event.fraction > 0.05:
            elapsed = time.monotonic() - self._started_at
            remaining = elapsed * (1 - event.fraction) / event.fraction
        self.progressed.emit(event.path, event.fraction, remaining)
        self.state_changed.emit(row)

    def _on_worker_returned(self, result: EnhanceResult) -> None:
        if self._closed:
            return
        row = self.queue.row_of(result.path)
        if row < 0:
            return
        item = self.queue.item(row)
        if item.thumbnail is None:
            self.queue.set_thumbnail(row, qimage_from_rgb(result.thumbnail).copy(), result.size)
        self.queue.set_result(row, result)
        current = self.current_row()
        self.cache.remember(result.path, result, keep=self.queue.item(current).path if current >= 0 else None)
        self.info.emit(f"Enhanced {result.path.name} in {result.seconds:.1f} s")
        if self.is_stale(result):
            self.queue.set_state(row, PhotoState.QUEUED)  # settings changed meanwhile
        self.picture_changed.emit(row, True)

    def _on_worker_errored(self, path: Path, exc: BaseException) -> None:
        if self._closed:
            return
        row = self.queue.row_of(path)
        reason = error_text(exc)
        if row >= 0:
            self.queue.set_state(row, PhotoState.FAILED, error=reason)
            self.picture_changed.emit(row, True)
        self.error.emit(f"{path.name}: {reason}")

    def _on_worker_aborted(self, path: Path) -> None:
        if self._closed:
            return
        row = self.queue.row_of(path)
        if row < 0:
            return
        if self._user_cancelled == path:
            self._user_cancelled = None
            self.queue.set_state(row, PhotoState.CANCELLED)
            waiting = self.queue.counts()[PhotoState.QUEUED]
            self.info.emit(f"Cancelled {path.name}; " + (
                f"going on with the next photo ({waiting} waiting)" if waiting else "no other photo is waiting"))
        else:
            self.queue.set_state(row, PhotoState.QUEUED)
        self.state_changed.emit(row)

    def _on_worker_finished(self) -> None:
        self._worker = None
        self._request = None
        self.finished.emit()
        if not self._closed:
            self.schedule()
