"""Page 3: the training process with live curves, progress, ETA, preview, pause/resume and cancel."""

from __future__ import annotations

import logging
import time
from pathlib import Path
from typing import Any

from PySide6.QtCore import Qt
from PySide6.QtGui import QPixmap, QResizeEvent
from PySide6.QtWidgets import (
    QHBoxLayout,
    QLabel,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSizePolicy,
    QVBoxLayout,
    QWidget,
    QWizardPage,
)

from core.progress import format_duration
from trainer import protocol
from trainer.user_models import read_run

from .curves import CurvePlot, Series
from .process import TrainingProcess
from .state import RunPlan

log = logging.getLogger(__name__)

BEST_WEIGHTS = Path("weights") / "best.safetensors"


class TrainingPage(QWizardPage):
    """Starts the worker process for the wizard's plan and shows what it reports."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTitle("Training")
        self.setSubTitle("Training runs in a separate process, so the app stays usable. Pausing keeps every "
                         "completed epoch: Resume continues after the last one, even after closing the app.")
        self.process = TrainingProcess(self)
        self.plan: RunPlan | None = None
        self.state = "idle"  # idle, running, pausing, paused, stopping, stopped, done, failed
        self.epochs_done = 0
        self.last_event: protocol.WorkerEvent | None = None
        self._epoch_times: list[float] = []
        self._epoch_started = time.monotonic()
        self._step_fraction = 0.0

        self.status_label = QLabel("Starting…")
        self.status_label.setWordWrap(True)
        self.progress = QProgressBar()
        self.progress.setRange(0, 1000)
        self.progress.setTextVisible(True)
        self.loss_plot = CurvePlot("Training loss", "Charbonnier")
        self.step_loss = self.loss_plot.add_series(Series("steps", "#5d6b86", width=1.0))
        self.epoch_loss = self.loss_plot.add_series(Series("epoch mean", "#f0a340", markers=True))
        self.psnr_plot = CurvePlot("Validation PSNR", "dB")
        self.input_psnr = self.psnr_plot.add_series(Series("input", "#8a93a6", width=1.5, dashed=True))
        self.val_psnr = self.psnr_plot.add_series(Series("model", "#4fc3f7", markers=True))
        self.preview_label = QLabel("The first validation image appears here after each epoch.")
        self.preview_label.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview_label.setMinimumHeight(120)
        self.preview_label.setSizePolicy(QSizePolicy.Policy.Ignored, QSizePolicy.Policy.Expanding)
        self.preview_caption = QLabel("")
        self.preview_caption.setAlignment(Qt.AlignmentFlag.AlignCenter)
        self.preview_caption.setStyleSheet("color: palette(placeholder-text);")
        self._preview_pixmap: QPixmap | None = None
        self.pause_button = QPushButton("Pause")
        self.pause_button.setToolTip("Stop after the current step; completed epochs are kept and Resume continues")
        self.cancel_button = QPushButton("Cancel training")
        self.cancel_button.setToolTip("Stop training; the last completed epoch stays resumable")
        self.log_view = QPlainTextEdit()
        self.log_view.setReadOnly(True)
        self.log_view.setVisible(False)
        self.log_view.setMaximumHeight(130)

        plots = QHBoxLayout()
        plots.addWidget(self.loss_plot)
        plots.addWidget(self.psnr_plot)
        buttons = QHBoxLayout()
        buttons.addWidget(self.progress, 1)
        buttons.addWidget(self.pause_button)
        buttons.addWidget(self.cancel_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.status_label)
        layout.addLayout(buttons)
        layout.addLayout(plots, 3)
        layout.addWidget(self.preview_label, 2)
        layout.addWidget(self.preview_caption)
        layout.addWidget(self.log_view)

        self.process.event.connect(self._on_process_event)
        self.process.ended.connect(self._on_process_ended)
        self.pause_button.clicked.connect(self._on_pause_clicked)
        self.cancel_button.clicked.connect(self._on_cancel_clicked)

    # ------------------------------------------------------------------ wizard hooks
    def initializePage(self) -> None:  # noqa: N802
        plan = getattr(self.wizard(), "plan", None)
        if plan is None:
            self._set_state("failed", "Nothing to train: go back and choose the settings.")
            return
        self.plan = plan
        self._reset_plots(plan)
        self._start(resume=plan.resume)

    def isComplete(self) -> bool:  # noqa: N802
        return not self.process.is_running() and self.best_weights() is not None

    # ------------------------------------------------------------------ API
    def best_weights(self) -> Path | None:
        if self.plan is None:
            return None
        path = self.plan.run_dir / BEST_WEIGHTS
        return path if path.is_file() else None

    def is_running(self) -> bool:
        return self.process.is_running()

    def pause(self) -> None:
        if self.process.is_running():
            self.process.request_stop()
            self._set_state("pausing", "Pausing after the current step…")

    def cancel(self) -> None:
        if self.process.is_running():
            self.process.request_stop()
            self._set_state("stopping", "Stopping after the current step…")

    def resume(self) -> None:
        if not self.process.is_running() and self.plan is not None and self.epochs_done > 0:
            self._start(resume=True)

    # ------------------------------------------------------------------ slots
    def _on_pause_clicked(self) -> None:
        if self.state in ("paused", "stopped", "failed"):
            self.resume()
        else:
            self.pause()

    def _on_cancel_clicked(self) -> None:
        self.cancel()

    def _on_process_event(self, event: protocol.WorkerEvent) -> None:
        self.last_event = event
        match event:
            case protocol.Step():
                self._on_step(event)
            case protocol.Epoch():
                self._on_epoch(event)
            case protocol.Started():
                self._epoch_started = time.monotonic()

    def _on_process_ended(self, outcome: str, message: str) -> None:
        assert self.plan is not None
        best = self.best_weights()
        if outcome == "done":
            done = self.last_event if isinstance(self.last_event, protocol.Done) else None
            text = f"Finished {self.epochs_done} epochs."
            if done is not None and done.best_psnr is not None:
                text += f" Best validation PSNR {done.best_psnr:.2f} dB."
            completed = done is None or done.completed
            if not completed:
                text += " The time limit ended the run early; Resume continues it."
            self._set_state("done" if completed else "paused", text + " Click Next.")
            self.progress.setValue(1000)
        elif outcome == "cancelled":
            kept = (f"Completed epochs (1–{self.epochs_done}) are kept." if self.epochs_done
                    else "No epoch was completed yet.")
            if self.state == "pausing":
                self._set_state("paused", f"Paused after epoch {self.epochs_done}. {kept} Click Resume to go on"
                                + (", or Next to compare the best weights so far." if best else "."))
            else:
                self._set_state("stopped", f"Training stopped. {kept} The run '{self.plan.name}' can be resumed "
                                "later from Tools → Retrain Model → Resume" + (", or go Next now." if best else "."))
        else:
            tail = self.process.log_tail(15)
            head = "Training failed" if outcome == "error" else "The training process crashed"
            self._set_state("failed", f"{head}: {message}")
            log_path = self.process.log_path
            self.log_view.setPlainText(f"Last lines of {log_path}:\n" + "\n".join(tail) if tail
                                       else f"(nothing in {log_path})")
            self.log_view.setVisible(True)
        self.completeChanged.emit()

    # ------------------------------------------------------------------ helpers
    def _start(self, resume: bool) -> None:
        assert self.plan is not None
        config_path = self.plan.write_config()
        self.log_view.setVisible(False)
        self._epoch_started = time.monotonic()
        self._step_fraction = 0.0
        self.process.start(config_path, self.plan.run_dir, resume=resume)
        verb = "Resuming" if resume else "Starting"
        self._set_state("running", f"{verb} '{self.plan.name}' ({self.plan.config.preset}, "
                                   f"{self.plan.config.epochs} epochs)… loading the data and the model.")
        self.completeChanged.emit()

    def _reset_plots(self, plan: RunPlan) -> None:
        for plot in (self.loss_plot, self.psnr_plot):
            plot.clear()
            plot.set_x_max(plan.config.epochs)
        self.epochs_done = 0
        self._epoch_times = []
        if plan.resume:  # the curves so far, from the run's metrics.json
            info = read_run(plan.run_dir)
            for record in info.history if info else []:
                self._add_epoch_record(record)

    def _add_epoch_record(self, record: dict[str, Any]) -> None:
        epoch = int(record.get("epoch", self.epochs_done + 1))
        self.epochs_done = max(self.epochs_done, epoch)
        if record.get("loss") is not None:
            self.epoch_loss.points.append((epoch, float(record["loss"])))
        if record.get("val_psnr") is not None:
            self.val_psnr.points.append((epoch, float(record["val_psnr"])))
        if record.get("input_psnr") is not None:
            self.input_psnr.points[:] = [(0, float(record["input_psnr"])), (self.psnr_plot.x_max,
                                                                           float(record["input_psnr"]))]
        if record.get("time_s"):
            self._epoch_times.append(float(record["time_s"]))
        self.loss_plot.update()
        self.psnr_plot.update()

    def _on_step(self, event: protocol.Step) -> None:
        epoch, steps, step = event.epoch, max(1, event.steps), event.step
        if self.state != "running":
            return self._update_progress(epoch, step, steps, event.loss)
        self._step_fraction = step / steps
        if event.loss is not None:
            self.step_loss.points.append((epoch - 1 + self._step_fraction, float(event.loss)))
        self.loss_plot.update()
        self._update_progress(epoch, step, steps, event.loss)

    def _on_epoch(self, event: protocol.Epoch) -> None:
        metrics = dict(event.metrics)
        metrics["epoch"] = event.epoch
        self._add_epoch_record(metrics)
        self._epoch_started = time.monotonic()
        self._step_fraction = 0.0
        preview = event.preview
        if preview:
            pixmap = QPixmap(str(preview))
            if not pixmap.isNull():
                self._preview_pixmap = pixmap
                self._fit_preview()
                self.preview_caption.setText(f"Epoch {event.epoch}: input | output | target "
                                             f"(first validation image), {metrics.get('val_psnr', 0):.2f} dB")
        self._update_progress(event.epoch + 1, 0, 1, None, eta=event.eta_s)

    def _update_progress(self, epoch: int, step: int, steps: int, loss: float | None,
                         eta: float | None = None) -> None:
        assert self.plan is not None
        epochs = self.plan.config.epochs
        done_fraction = min(1.0, (epoch - 1 + step / steps) / epochs)
        self.progress.setValue(int(done_fraction * 1000))
        self.progress.setFormat(f"{done_fraction:.0%}")
        if self.state not in ("running",):
            return
        per_epoch = (sum(self._epoch_times[-3:]) / len(self._epoch_times[-3:]) if self._epoch_times
                     else self.plan.estimate_s)
        if eta is None and per_epoch:
            eta = per_epoch * (epochs - (epoch - 1) - step / steps)
        parts = [f"Epoch {min(epoch, epochs)} of {epochs}"]
        if step:
            parts.append(f"step {step} of {steps}")
        if loss is not None:
            parts.append(f"loss {loss:.4f}")
        if self.val_psnr.points:
            parts.append(f"validation {self.val_psnr.points[-1][1]:.2f} dB")
        parts.append(f"about {format_duration(eta)} left" if eta is not None else "estimating time left…")
        self.status_label.setText(" · ".join(parts))

    def _set_state(self, state: str, text: str) -> None:
        self.state = state
        self.status_label.setText(text)
        running = state in ("running", "pausing", "stopping")
        self.pause_button.setText("Resume" if state in ("paused", "stopped", "failed") else "Pause")
        self.pause_button.setEnabled(state == "running" or (not running and self.epochs_done > 0
                                                              and state != "done"))
        self.cancel_button.setEnabled(state == "running")
        self.status_label.setStyleSheet("color: #ff8080;" if state == "failed" else "")

    def _fit_preview(self) -> None:
        if self._preview_pixmap is None:
            return
        size = self.preview_label.size()
        scaled = self._preview_pixmap
        if scaled.width() > size.width() or scaled.height() > size.height():
            scaled = scaled.scaled(size, Qt.AspectRatioMode.KeepAspectRatio,
                                   Qt.TransformationMode.SmoothTransformation)
        self.preview_label.setPixmap(scaled)

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802
        super().resizeEvent(event)
        self._fit_preview()
