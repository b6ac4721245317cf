"""Drive ``python -m trainer.worker`` through :class:`QProcess`: JSON events in, stop requests out."""

from __future__ import annotations

import logging
import sys
from collections import deque
from pathlib import Path

from PySide6.QtCore import QCoreApplication, QIODevice, QObject, QProcess, QProcessEnvironment, QTimer, Signal

from trainer import protocol
from trainer.worker import STOP_FILE

log = logging.getLogger(__name__)

LOG_FILE = "train.log"


def tail_lines(path: Path, count: int = 15) -> list[str]:
    """The last ``count`` lines of a text file (empty when it cannot be read)."""
    try:
        with path.open("r", encoding="utf-8", errors="replace") as handle:
            return [line.rstrip("\n") for line in deque(handle, maxlen=count)]
    except OSError:
        return []


class TrainingProcess(QObject):
    """One training child process at a time.

    ``event`` carries every event the worker reports (a :mod:`trainer.protocol` dataclass);
    ``ended(outcome, message)`` comes once
    per process with outcome ``done``, ``cancelled``, ``error`` (the worker reported one) or
    ``crashed`` (it died without a word: the message then holds the last lines of its log).
    """

    event = Signal(object)  # trainer.protocol.WorkerEvent
    ended = Signal(str, str)
    runningChanged = Signal(bool)  # noqa: N815 (Qt naming)

    def __init__(self, parent: QObject | None = None, kill_timeout_ms: int = 90_000) -> None:
        super().__init__(parent)
        self.kill_timeout_ms = kill_timeout_ms
        self.run_dir: Path | None = None
        self._process: QProcess | None = None
        self._buffer = b""
        self._last: protocol.WorkerEvent | None = None
        self._killed = False
        self._kill_timer = QTimer(self)
        self._kill_timer.setSingleShot(True)
        self._kill_timer.timeout.connect(self._on_kill_timeout)
        app = QCoreApplication.instance()
        if app is not None:
            app.aboutToQuit.connect(self.shutdown)

    @property
    def log_path(self) -> Path | None:
        return self.run_dir / LOG_FILE if self.run_dir is not None else None

    def is_running(self) -> bool:
        return self._process is not None

    def start(self, config_path: Path, run_dir: Path, resume: bool = False) -> None:
        """Start the worker on ``config_path``; stderr is appended to ``run_dir/train.log``."""
        if self._process is not None:
            raise RuntimeError("a training process is already running")
        self.run_dir = Path(run_dir)
        self.run_dir.mkdir(parents=True, exist_ok=True)
        (self.run_dir / STOP_FILE).unlink(missing_ok=True)
        self._buffer, self._last, self._killed = b"", None, False
        process = QProcess(self)
        env = QProcessEnvironment.systemEnvironment()
        env.insert("PYTHONUNBUFFERED", "1")
        process.setProcessEnvironment(env)
        # The same interpreter finds the installed trainer (no PYTHONPATH, no source tree); the
        # working directory is the app's, so relative paths mean the same in both processes.
        process.setStandardErrorFile(str(self.run_dir / LOG_FILE), QIODevice.OpenModeFlag.Append)
        process.readyReadStandardOutput.connect(self._on_ready_read_standard_output)
        process.finished.connect(self._on_finished)
        process.errorOccurred.connect(self._on_error_occurred)
        args = ["-m", "trainer.worker", "--config", str(config_path)] + (["--resume"] if resume else [])
        self._process = process
        log.info("starting training: %s %s", sys.executable, " ".join(args))
        process.start(sys.executable, args)
        self.runningChanged.emit(True)

    def request_stop(self) -> None:
        """Ask the worker to stop at its next step (STOP file); kill it if it has not after the timeout."""
        if self._process is None or self.run_dir is None:
            return
        (self.run_dir / STOP_FILE).touch()
        if not self._kill_timer.isActive():
            self._kill_timer.start(self.kill_timeout_ms)

    def shutdown(self, timeout_ms: int = 30_000) -> None:
        """Stop and wait (closing the app): the last completed epoch stays resumable."""
        process = self._process
        if process is None:
            return
        self.request_stop()
        if not process.waitForFinished(timeout_ms):
            self._killed = True
            process.kill()
            process.waitForFinished(5000)

    def log_tail(self, count: int = 15) -> list[str]:
        return tail_lines(self.log_path, count) if self.log_path is not None else []

    # ------------------------------------------------------------------ slots
    def _on_ready_read_standard_output(self) -> None:
        if self._process is None:
            return
        self._buffer += bytes(self._process.readAllStandardOutput().data())
        *lines, self._buffer = self._buffer.split(b"\n")
        for raw in lines:
            text = raw.decode("utf-8", errors="replace").strip()
            if not text:
                continue
            try:
                event = protocol.decode(text)
            except ValueError:
                log.warning("training worker said something that is not an event: %s", text[:200])
                continue
            if isinstance(event, protocol.FINAL_EVENTS):
                self._last = event
            self.event.emit(event)

    def _on_kill_timeout(self) -> None:
        if self._process is not None:
            log.warning("training process did not stop in %d ms; killing it", self.kill_timeout_ms)
            self._killed = True
            self._process.kill()

    def _on_error_occurred(self, error: QProcess.ProcessError) -> None:
        if error == QProcess.ProcessError.FailedToStart and self._process is not None:
            message = f"Could not start the training process ({sys.executable}): {self._process.errorString()}"
            self._finish("crashed", message)

    def _on_finished(self, exit_code: int, exit_status: QProcess.ExitStatus) -> None:
        self._on_ready_read_standard_output()  # anything left in the pipe
        last = self._last
        if isinstance(last, protocol.Done):
            self._finish("done", "")
        elif isinstance(last, protocol.Cancelled):
            self._finish("cancelled", last.message)
        elif isinstance(last, protocol.Failed):
            self._finish("error", last.message)
        elif self._killed:
            self._finish("cancelled", "The training process did not stop in time and was ended; "
                                      "the last completed epoch is kept.")
        else:
            how = "crashed" if exit_status == QProcess.ExitStatus.CrashExit else f"ended with exit code {exit_code}"
            self._finish("crashed", f"The training process {how} without reporting why.")

    def _finish(self, outcome: str, message: str) -> None:
        process, self._process = self._process, None
        self._kill_timer.stop()
        if self.run_dir is not None:
            (self.run_dir / STOP_FILE).unlink(missing_ok=True)
        if process is not None:
            process.deleteLater()
        log.info("training process finished: %s %s", outcome, message)
        self.runningChanged.emit(False)
        self.ended.emit(outcome, message)
