"""Background jobs: one :class:`Worker` class with a fixed set of signals, and a :class:`JobRunner`.

The superqt / napari ``thread_worker`` pattern. Long work is a generator function:

* each ``yield`` is a cancellation point; a yielded value is a progress report (``progress``
  signal), a :class:`Preview` (a picture to show) goes to the ``preview`` signal instead, and a
  bare ``yield`` (``None``) is a cancellation point without a report (a step between
  throttled reports);
* the generator's ``return`` value is the result (``returned``).

The signals, always the same: ``started``, ``progress``, ``preview``, ``returned`` (the
result), ``errored`` (the error), ``aborted`` (cancelled), ``finished`` (always last). The
names are superqt's (and STYLE.md's); ``preview`` keeps pictures off the progress signal.

Cancelling (:meth:`Worker.cancel`) closes the generator at its next ``yield`` (its ``finally``
blocks run, so an engine generator below it is closed too) and emits ``aborted``. A job may
also raise ``core.errors.CancelledError`` (the one cancellation exception), with the same
outcome. Any other exception is ``errored``. Plain functions work too (``returned`` gets their
return value). A job that takes a ``cancel`` keyword gets the worker's
:class:`threading.Event` and stops by itself (a batch returns its partial report); one that
takes ``report`` gets a function that emits ``progress`` (progress from inside a blocking call).

Workers never touch widgets. Signals reach the GUI thread through Qt's queued connections:
the runner's relay, a QObject of the GUI thread, re-emits each worker's signals there.
"""

from __future__ import annotations

import inspect
import logging
import os
import threading
import time
import traceback
from collections.abc import Callable, Generator
from typing import Any

from PySide6.QtCore import QCoreApplication, QEvent, QObject, QRunnable, QThreadPool, Signal

from core.errors import CancelledError

log = logging.getLogger(__name__)


class Preview:
    """Base of yielded values that are pictures to show, not progress (``preview`` signal)."""


class WorkerSignals(QObject):
    """The signals of one :class:`Worker` (emitted on the GUI thread when run by a JobRunner)."""

    started = Signal()
    progress = Signal(object)
    preview = Signal(object)  # a Preview
    returned = Signal(object)  # the job's result
    errored = Signal(object)  # the exception; its traceback text is in ``exc.traceback_text``
    aborted = Signal()  # cancelled
    finished = Signal()


class _Relay(QObject):
    """Lives in the GUI thread; pool threads post to it, and it emits there (queued connection)."""

    posted = Signal(object, str, object)

    def __init__(self, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.posted.connect(self._on_posted)
        self.on_finished: Callable[[Worker], None] = lambda worker: None

    def _on_posted(self, worker: Worker, name: str, args: tuple) -> None:
        try:
            getattr(worker.signals, name).emit(*args)
        finally:
            if name == "finished":
                self.on_finished(worker)


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
        self.relay: _Relay | None = None  # set by JobRunner
        self.nice = 0  # set by JobRunner: lower this pool thread's priority first
        try:
            params = inspect.signature(fn).parameters
        except (TypeError, ValueError):
            params = {}
        #: A job that takes the flag stops by itself (e.g. a batch, to return its partial report).
        self.handles_cancel = "cancel" in params
        if self.handles_cancel and "cancel" not in kwargs:
            self.kwargs["cancel"] = self.cancel_event
        if "report" in params and "report" not in kwargs:
            self.kwargs["report"] = lambda value: self._post("progress", value)

    def _post(self, name: str, *args: object) -> None:
        if self.relay is not None:
            self.relay.posted.emit(self, name, args)
        else:  # not run by a JobRunner (called directly): emit on this thread
            getattr(self.signals, name).emit(*args)

    def cancel(self) -> None:
        """Ask the job to stop at its next ``yield`` (within one tile for enhancement)."""
        self.cancel_event.set()

    def run(self) -> None:  # pool thread
        started = time.perf_counter()
        if self.nice > 0:
            lower_thread_priority(self.nice)
        try:
            if self.cancel_event.is_set():
                self._post("aborted")
                return
            self._post("started")
            outcome = self.fn(*self.args, **self.kwargs)
            if inspect.isgenerator(outcome):
                finished, outcome = self._drain(outcome)
                if not finished:
                    self._post("aborted")
                    return
            # a job that returns normally (even after a cancel request, e.g. a batch report
            # with cancelled=True) has a result worth delivering
            self._post("returned", outcome)
        except CancelledError:
            self._post("aborted")
        except Exception as exc:  # report everything; a worker must never take the app down
            exc.traceback_text = traceback.format_exc()  # type: ignore[attr-defined]
            log.warning("job %s failed: %s", self.name, exc)
            self._post("errored", exc)
        finally:
            log.debug("job %s ended after %.2fs", self.name, time.perf_counter() - started)
            self.done.set()
            self._post("finished")

    def _drain(self, gen: Generator[Any, None, Any]) -> tuple[bool, Any]:
        """Run a generator job: (ran to the end, return value)."""
        try:
            while True:
                if self.cancel_event.is_set() and not self.handles_cancel:
                    return False, None
                try:
                    value = next(gen)
                except StopIteration as stop:
                    return True, stop.value
                if value is None:
                    continue
                self._post("preview" if isinstance(value, Preview) else "progress", value)
        finally:
            gen.close()


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
        self._relay = _Relay(self)
        self._relay.on_finished = self._active.discard

    def submit(self, worker: Worker) -> Worker:
        """Queue ``worker``; it stays referenced until its ``finished`` signal."""
        self._active.add(worker)
        worker.relay = self._relay
        worker.nice = self.background_nice
        self.pool.start(worker)
        return worker

    def deliver(self) -> None:
        """Emit, on this (GUI) thread, every signal the workers posted so far."""
        QCoreApplication.sendPostedEvents(self._relay, QEvent.Type.MetaCall)

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
