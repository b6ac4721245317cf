"""Background jobs: a generic :class:`Worker` and a one-at-a-time :class:`JobRunner`.

Workers never touch widgets. A job is a plain callable; it may be a generator (each yielded
value becomes a ``progress`` signal, the ``return`` value the ``returned`` signal), or it may
take ``report``/``cancel`` keyword arguments (``report(value)`` emits ``progress``; ``cancel``
is a :class:`threading.Event` to poll). ``core.errors.CancelledError`` (or an
``InterruptedError`` after a cancel request, or a generator stopped by one) is reported as
``aborted``, every other exception as ``errored``; a normal return is always ``returned``.

Signals are never emitted from pool threads: a worker posts ``(signal, args)`` to its
runner's thread-safe queue and the runner emits them on the GUI thread (a 10 ms timer).
PySide6 6.12 corrupts reference counts when Python emits signals across threads (see
:mod:`desktop_app.qt_compat`); this design avoids that path entirely and costs at most
10 ms of latency.
"""

from __future__ import annotations

import inspect
import logging
import os
import queue
import threading
import time
import traceback
from collections.abc import Callable
from typing import Any

from PySide6.QtCore import QObject, QRunnable, QThreadPool, QTimer, Signal

log = logging.getLogger(__name__)


def _is_cancellation(exc: BaseException) -> bool:
    try:
        from core.errors import CancelledError
    except ImportError:  # pragma: no cover - core always present in the app
        return False
    return isinstance(exc, CancelledError)


class WorkerSignals(QObject):
    """Signals of one :class:`Worker` (lives in, and is emitted on, the GUI thread)."""

    started = Signal()
    progress = Signal(object)
    returned = Signal(object)
    errored = Signal(object)  # the exception; its traceback text is in ``exc.traceback_text``
    aborted = Signal()
    finished = Signal()


class Worker(QRunnable):
    """Runs ``fn(*args, **kwargs)`` on a pool thread and reports through :attr:`signals`."""

    def __init__(self, fn: Callable[..., Any], *args: Any, name: str = "", cancellable: bool = True,
                 **kwargs: Any) -> None:
        super().__init__()
        self.cancellable = cancellable  # False: shutdown waits for it instead (saves: never lose a file)
        self.setAutoDelete(False)  # Python keeps it alive (JobRunner holds a reference)
        self.fn = fn
        self.args = args
        self.kwargs = kwargs
        self.name = name or getattr(fn, "__name__", "job")
        self.cancel_event = threading.Event()
        self.signals = WorkerSignals()
        self.done = threading.Event()
        self.outbox: queue.SimpleQueue[tuple[Worker, str, tuple]] | None = None  # set by JobRunner
        self.nice = 0  # set by JobRunner: lower this pool thread's priority first
        try:
            params = inspect.signature(fn).parameters
        except (TypeError, ValueError):
            params = {}
        if "cancel" in params and "cancel" not in kwargs:
            self.kwargs["cancel"] = self.cancel_event
        if "report" in params and "report" not in kwargs:
            self.kwargs["report"] = self.report

    def report(self, value: object) -> None:
        """Send a ``progress`` value (callable from the pool thread)."""
        self._post("progress", value)

    def _post(self, name: str, *args: object) -> None:
        if self.outbox is not None:
            self.outbox.put((self, name, args))
        else:  # not run by a JobRunner: emit directly
            getattr(self.signals, name).emit(*args)

    def cancel(self) -> None:
        """Ask the job to stop; it notices at its next check (within one tile for enhancement)."""
        self.cancel_event.set()

    @property
    def cancelled(self) -> bool:
        return self.cancel_event.is_set()

    def run(self) -> None:  # pool thread
        started = time.perf_counter()
        if self.nice > 0:
            lower_thread_priority(self.nice)
        try:
            if self.cancel_event.is_set():
                self._post("aborted")
                return
            self._post("started")
            result = self.fn(*self.args, **self.kwargs)
            if inspect.isgenerator(result):
                finished, result = self._drain(result)
                if not finished:
                    self._post("aborted")
                    return
            # a job that returns normally (even after a cancel request, e.g. a batch report
            # with cancelled=True) has a result worth delivering
            self._post("returned", result)
        except Exception as exc:  # report everything; a worker must never take the app down
            if _is_cancellation(exc) or (self.cancel_event.is_set() and isinstance(exc, InterruptedError)):
                self._post("aborted")
            else:
                exc.traceback_text = traceback.format_exc()  # type: ignore[attr-defined]
                log.warning("job %s failed: %s", self.name, exc)
                self._post("errored", exc)
        finally:
            log.debug("job %s ended after %.2fs", self.name, time.perf_counter() - started)
            self.done.set()
            self._post("finished")

    def _drain(self, gen: Any) -> tuple[bool, Any]:
        """Run a generator job: (ran to the end, return value)."""
        try:
            while True:
                value = next(gen)
                self._post("progress", value)
                if self.cancel_event.is_set():
                    gen.close()
                    return False, None
        except StopIteration as stop:
            return True, stop.value


def lower_thread_priority(nice: int = 5) -> None:
    """Make the calling thread (and threads it starts later, e.g. torch's) yield to the GUI.

    Linux keeps a nice value per thread, inherited by threads created afterwards; raising it
    needs no privileges. Elsewhere this does nothing.
    """
    if not hasattr(os, "setpriority"):
        return
    try:
        tid = threading.get_native_id()
        current = os.getpriority(os.PRIO_PROCESS, tid)
        if current < nice:
            os.setpriority(os.PRIO_PROCESS, tid, nice)
    except OSError as exc:  # pragma: no cover - sandboxes may refuse
        log.debug("cannot lower thread priority: %s", exc)


class JobRunner(QObject):
    """A private thread pool (one thread by default) that keeps its workers referenced.

    ``background_nice`` > 0 lowers the priority of the pool's threads (inference), so the
    GUI thread wins the CPU when both want it.
    """

    def __init__(self, max_threads: int = 1, parent: QObject | None = None, *, background_nice: int = 0) -> None:
        super().__init__(parent)
        self.background_nice = background_nice
        self.pool = QThreadPool(self)
        self.pool.setMaxThreadCount(max_threads)
        self._active: set[Worker] = set()
        self._outbox: queue.SimpleQueue[tuple[Worker, str, tuple]] = queue.SimpleQueue()
        self._timer = QTimer(self)
        self._timer.setInterval(10)
        self._timer.timeout.connect(self._on_timer_timeout)

    def submit(self, worker: Worker) -> Worker:
        """Queue ``worker``; it stays referenced until its ``finished`` signal."""
        self._active.add(worker)
        worker.outbox = self._outbox
        worker.nice = self.background_nice
        self._timer.start()
        self.pool.start(worker)
        return worker

    def deliver(self) -> None:
        """Emit, on this (GUI) thread, everything the workers posted so far."""
        while True:
            try:
                worker, name, args = self._outbox.get_nowait()
            except queue.Empty:
                break
            try:
                getattr(worker.signals, name).emit(*args)
            finally:
                if name == "finished":
                    self._active.discard(worker)
        if not self._active:
            self._timer.stop()

    def _on_timer_timeout(self) -> None:
        self.deliver()

    @property
    def active(self) -> list[Worker]:
        return list(self._active)

    def is_busy(self) -> bool:
        return bool(self._active)

    def cancel_all(self) -> None:
        """Cancel running jobs and drop queued ones (except those marked not cancellable)."""
        for worker in list(self._active):
            if worker.cancellable:
                worker.cancel()

    def shutdown(self, timeout_ms: int = 30000) -> bool:
        """Cancel everything and wait for the pool thread to finish (closing the window)."""
        self.cancel_all()
        ok = self.pool.waitForDone(timeout_ms)
        self.deliver()
        if not ok:
            log.error("background jobs did not stop within %d ms", timeout_ms)
        return ok
