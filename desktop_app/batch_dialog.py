"""Batch export of a whole folder, through ``core.batch`` (the code path of ``lowlight enhance``)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable, Generator
from pathlib import Path
from typing import Any

from PySide6.QtCore import QUrl, Signal
from PySide6.QtGui import QCloseEvent, QDesktopServices
from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPlainTextEdit,
    QProgressBar,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from core.batch import (
    BatchOptions,
    BatchProgress,
    BatchReport,
    CompiledChoice,
    EnginePrepared,
    collect_inputs,
    prepare_engine_steps,
    prepare_output_folder,
    run_batch_steps,
)
from core.compiled import BuildProgress
from core.errors import CancelledError
from core.formats import OUTPUT_FORMATS
from core.progress import Throttle, format_duration

from .engine import Engine
from .save_dialog import folder_problem
from .settings import AppSettings
from .widgets.controls import ExposureSlider
from .workers import JobRunner, Worker

log = logging.getLogger(__name__)

# core's format names (the settings use the same), with labels
BATCH_FORMATS = [("same", "Same as original (RAW: 16-bit TIFF)"),
                 *((name, fmt.label) for name, fmt in OUTPUT_FORMATS.items())]


def format_eta(seconds: float | None) -> str:
    if seconds is None:
        return "estimating…"
    return f"{format_duration(seconds)} left"


BatchEvent = BatchProgress | BuildProgress | EnginePrepared


def batch_job(engine: Engine, inputs: list[Path], out_dir: Path, options: BatchOptions, *,
              compiled: CompiledChoice = "auto", report: Callable[[BatchProgress], None],
              cancel: threading.Event) -> Generator[BatchEvent, None, BatchReport]:
    """Pool thread: drive ``core.batch.run_batch_steps``, yielding each file's start and end.

    First, where ``core.batch.prepare_engine_steps`` (the CLI's policy) says it pays back, the
    faster compiled engine is built, yielding :class:`BuildProgress`; cancelling then stops the
    build (nothing is written) and returns an empty cancelled report. What the preparation did
    is yielded as :class:`EnginePrepared` when there is something to say (built, or a warning:
    a failed build leaves the engine eager and the batch goes on).

    Progress inside a file comes from inside the engine call, so it arrives through ``report``
    (throttled). ``cancel`` goes to core, which stops within one tile and still returns the
    report of what was done (``cancelled=True``).
    """
    throttle = Throttle(0.1)

    def on_file_progress(step: BatchProgress) -> None:
        if throttle.ready():
            report(step)

    prepare_output_folder(out_dir, inputs)  # a folder problem shows before minutes of building
    try:
        prepared = yield from prepare_engine_steps(engine, inputs, options.mode, compiled, cancel)
    except CancelledError:
        return BatchReport(cancelled=True)
    if prepared.built or prepared.warning:
        yield prepared
    return (yield from run_batch_steps(engine, inputs, out_dir, options, cancel, on_file_progress))


def summary_text(report: Any) -> str:
    """People-readable end-of-batch summary, listing every failure with its reason."""
    lines = []
    head = "Cancelled." if report.cancelled else "Finished."
    lines.append(f"{head} {len(report.succeeded)} saved, {len(report.skipped)} skipped (already exported), "
                 f"{len(report.failed)} failed, in {report.elapsed_s:.1f} s.")
    if report.failed:
        lines.append("")
        lines.append("Failures:")
        lines.extend(f"  {path.name}: {reason}" for path, reason in report.failed)
    notes = getattr(report, "notes", [])
    if notes:  # e.g. an output renamed because its name was an input's
        lines.append("")
        lines.append("Notes:")
        lines.extend(f"  {path.name}: {note}" for path, note in notes)
    if report.cancelled:
        lines.append("")
        lines.append("The photo in progress was not written; finished photos are kept.")
    return "\n".join(lines)


class BatchDialog(QDialog):
    """Choose a folder and options, watch progress, read the summary."""

    running_changed = Signal(bool)
    batch_finished = Signal(object)  # core.batch.BatchReport (or None when it could not start)
    #: A sentence for the main window's status bar (e.g. why the batch builds a faster engine first).
    status_message = Signal(str)

    def __init__(self, settings: AppSettings, runner: JobRunner, engine: Engine,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Batch export")
        self.settings = settings
        self.runner = runner
        self.engine = engine
        self.worker: Worker | None = None
        self.report: Any = None
        self._close_when_done = False
        self._building = False
        self._engine_note = ""  # what preparing the engine said (built, or why it failed)

        self.input_edit = QLineEdit(settings.batch_input_dir)
        self.recursive = QCheckBox("Include subfolders")
        self.recursive.setChecked(settings.batch_recursive)
        self.found_label = QLabel("")
        self.output_edit = QLineEdit(settings.batch_output_dir)
        self.output_edit.setPlaceholderText("default: an 'enhanced' folder inside the input folder")
        self.suffix_edit = QLineEdit(settings.save_suffix)
        self.format_combo = QComboBox()
        for value, label in BATCH_FORMATS:
            self.format_combo.addItem(label, value)
        self.format_combo.setCurrentIndex(
            max(0, self.format_combo.findData(settings.export_format)))
        self.quality_spin = QSpinBox()
        self.quality_spin.setRange(1, 100)
        self.quality_spin.setSuffix(" %")
        self.quality_spin.setValue(settings.jpeg_quality)
        self.keep_metadata = QCheckBox("Keep metadata (EXIF, colour profile)")
        self.keep_metadata.setChecked(settings.keep_metadata)
        self.skip_existing = QCheckBox("Skip photos already exported")
        self.skip_existing.setChecked(settings.batch_skip_existing)
        self.mode_combo = QComboBox()
        self.mode_combo.addItem("Full quality", "full")
        self.mode_combo.addItem("Fast preview", "fast")
        self.mode_combo.setCurrentIndex(max(0, self.mode_combo.findData(settings.mode)))
        self.compiled_engine = QCheckBox("Full quality: first prepare a faster engine for this CPU when the batch "
                                         "is big enough to repay it (minutes, once)")
        self.compiled_engine.setChecked(settings.batch_compiled_engine)
        self.strength_label = QLabel(f"{round(settings.strength * 100)} % (the main window's slider)")
        self.exposure = ExposureSlider()
        self.exposure.set_value(settings.exposure)

        input_row = self._with_browse(self.input_edit, self._on_browse_input_clicked)
        output_row = self._with_browse(self.output_edit, self._on_browse_output_clicked)
        form = QFormLayout()
        form.addRow("Photos in", input_row)
        form.addRow("", self.recursive)
        form.addRow("", self.found_label)
        form.addRow("Save to", output_row)
        form.addRow("Name suffix", self.suffix_edit)
        form.addRow("Format", self.format_combo)
        form.addRow("Quality", self.quality_spin)
        form.addRow("", self.keep_metadata)
        form.addRow("", self.skip_existing)
        form.addRow("Mode", self.mode_combo)
        form.addRow("", self.compiled_engine)
        form.addRow("Strength", self.strength_label)
        form.addRow("Exposure", self.exposure)
        self.options_box = QGroupBox("Options")
        self.options_box.setLayout(form)

        self.overall_bar = QProgressBar()
        self.overall_bar.setRange(0, 1000)
        self.overall_label = QLabel("")
        self.file_bar = QProgressBar()
        self.file_bar.setRange(0, 100)
        self.file_label = QLabel("")
        self.summary = QPlainTextEdit()
        self.summary.setReadOnly(True)
        self.summary.setPlaceholderText("A summary appears here when the batch ends.")
        self.summary.setMaximumHeight(150)
        progress_layout = QVBoxLayout()
        progress_layout.addWidget(self.overall_label)
        progress_layout.addWidget(self.overall_bar)
        progress_layout.addWidget(self.file_label)
        progress_layout.addWidget(self.file_bar)
        progress_layout.addWidget(self.summary)
        progress_box = QGroupBox("Progress")
        progress_box.setLayout(progress_layout)

        self.buttons = QDialogButtonBox()
        self.start_button = self.buttons.addButton("Start", QDialogButtonBox.ButtonRole.AcceptRole)
        self.cancel_button = self.buttons.addButton("Cancel batch", QDialogButtonBox.ButtonRole.ActionRole)
        self.open_button = self.buttons.addButton("Open output folder", QDialogButtonBox.ButtonRole.ActionRole)
        self.close_button = self.buttons.addButton(QDialogButtonBox.StandardButton.Close)
        self.cancel_button.setEnabled(False)
        self.open_button.setEnabled(False)
        layout = QVBoxLayout(self)
        layout.addWidget(self.options_box)
        layout.addWidget(progress_box)
        layout.addWidget(self.buttons)
        self.setMinimumWidth(560)

        self.start_button.clicked.connect(self._on_start_clicked)
        self.cancel_button.clicked.connect(self._on_cancel_clicked)
        self.open_button.clicked.connect(self._on_open_clicked)
        self.close_button.clicked.connect(self.reject)
        self.input_edit.textChanged.connect(self._on_input_changed)
        self.recursive.toggled.connect(self._on_input_changed)
        self.format_combo.currentIndexChanged.connect(self._on_format_changed)
        self._on_input_changed()
        self._on_format_changed()

    def _with_browse(self, edit: QLineEdit, slot: Any) -> QHBoxLayout:
        button = QPushButton("Browse…")
        button.clicked.connect(slot)
        row = QHBoxLayout()
        row.addWidget(edit, 1)
        row.addWidget(button)
        return row

    # --- values -------------------------------------------------------------------------
    def input_dir(self) -> Path:
        return Path(self.input_edit.text().strip()).expanduser()

    def output_dir(self) -> Path:
        text = self.output_edit.text().strip()
        return Path(text).expanduser() if text else self.input_dir() / "enhanced"

    def inputs(self) -> list[Path]:
        if not self.input_edit.text().strip() or not self.input_dir().is_dir():
            return []
        return collect_inputs([self.input_dir()], recursive=self.recursive.isChecked(),
                              exclude=[self.output_dir()])

    def options(self) -> BatchOptions:
        return BatchOptions(
            mode=self.mode_combo.currentData(), strength=self.settings.strength, exposure=self.exposure.value(),
            fmt=self.format_combo.currentData(), suffix=self.suffix_edit.text(),
            quality=self.quality_spin.value(), keep_metadata=self.keep_metadata.isChecked(),
            skip_existing=self.skip_existing.isChecked(),
        )

    def note_waiting(self) -> None:
        self.overall_label.setText("The batch starts when the photo being enhanced now is finished.")

    # --- slots --------------------------------------------------------------------------
    def _on_browse_input_clicked(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Folder of photos to enhance", self.input_edit.text())
        if folder:
            self.input_edit.setText(folder)

    def _on_browse_output_clicked(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Save enhanced photos to",
                                                  self.output_edit.text() or self.input_edit.text())
        if folder:
            self.output_edit.setText(folder)

    def _on_input_changed(self, *_: object) -> None:
        if not self.input_edit.text().strip():
            self.found_label.setText("Choose a folder.")
            return
        if not self.input_dir().is_dir():
            self.found_label.setText("That folder does not exist.")
            return
        count = len(self.inputs())
        self.found_label.setText(f"{count} photo{'s' if count != 1 else ''} found")

    def _on_format_changed(self, *_: object) -> None:
        fmt = OUTPUT_FORMATS.get(self.format_combo.currentData())
        self.quality_spin.setEnabled(fmt is None or fmt.lossy)  # "same" may be lossy

    def _on_start_clicked(self) -> None:
        inputs = self.inputs()
        if not inputs:
            self.summary.setPlainText("No photos to export: choose a folder that holds JPEG, PNG, TIFF, WebP or BMP files.")
            return
        out_dir = self.output_dir()
        out_dir_existed = out_dir.exists()
        if out_dir_existed:
            problem = folder_problem(out_dir)
            if problem:
                self.summary.setPlainText(f"Cannot export: {problem}")
                return
        try:
            options = self.options()
        except ValueError as exc:
            self.summary.setPlainText(f"Cannot export: {exc}")
            return
        self._remember()
        self.report = None
        self._engine_note = ""
        self.summary.clear()
        self.overall_bar.setValue(0)
        self.file_bar.setValue(0)
        self.overall_label.setText(f"0 / {len(inputs)} · starting…")
        compiled = "auto" if self.compiled_engine.isChecked() else "off"
        worker = Worker(batch_job, self.engine, inputs, out_dir, options, compiled=compiled, name="batch")
        worker.signals.progress.connect(self._on_worker_progress)
        worker.signals.returned.connect(self._on_worker_returned)
        worker.signals.errored.connect(self._on_worker_errored)
        worker.signals.finished.connect(self._on_worker_finished)
        self.worker = worker
        self._set_running(True)
        self.runner.submit(worker)

    def _on_cancel_clicked(self) -> None:
        if self.worker is not None:
            self.worker.cancel()
            self.overall_label.setText("Cancelling… (stops the engine build)" if self._building
                                       else "Cancelling… (stops within one tile)")

    def _on_open_clicked(self) -> None:
        QDesktopServices.openUrl(QUrl.fromLocalFile(str(self.output_dir())))

    def _on_worker_progress(self, step: Any) -> None:
        if isinstance(step, BuildProgress):
            self._show_build(step)
            return
        if isinstance(step, EnginePrepared):
            self._building = False
            self._engine_note = (step.warning or "A faster engine for this CPU was prepared; it is kept for "
                                                 "later batches.")
            self.file_label.setText(self._engine_note)
            self.status_message.emit(f"Batch export: {self._engine_note}")
            return
        self._building = False
        done = step.index + (1 if step.stage in ("done", "skipped", "failed") else 0)
        self.overall_bar.setValue(round(step.fraction * 1000))
        self.overall_label.setText(f"{done} / {step.total} · {format_eta(step.eta_s)}")
        verb = {"start": "Enhancing", "progress": "Enhancing", "done": "Saved", "skipped": "Skipped",
                "failed": "Failed"}.get(step.stage, step.stage)
        detail = f": {step.message}" if step.message else ""
        self.file_label.setText(f"{verb} {step.path.name}{detail}")
        self.file_bar.setValue(round(step.file_fraction * 100))

    def _show_build(self, step: BuildProgress) -> None:
        """The batch's first step: building the faster engine (a time estimate, no finer steps)."""
        if not self._building:
            self._building = True
            text = (f"Preparing a faster engine for this CPU, once (about {format_duration(step.estimate_s)}): "
                    f"{step.reason}")
            self.overall_label.setText(text)
            self.status_message.emit(f"Batch export: {text}")
        self.file_label.setText(f"Preparing the faster engine: {format_duration(step.elapsed_s)} so far "
                                f"(Cancel stops it; the photos are then left as they are)")
        self.file_bar.setValue(round(step.fraction * 100))

    def _on_worker_returned(self, report: Any) -> None:
        self.report = report
        self.summary.setPlainText(summary_text(report) + (f"\n\n{self._engine_note}" if self._engine_note else ""))
        self.overall_label.setText("Cancelled" if report.cancelled else "Done")
        if not report.cancelled:
            self.overall_bar.setValue(1000)
        self.open_button.setEnabled(bool(report.succeeded))

    def _on_worker_errored(self, exc: BaseException) -> None:
        reason = getattr(exc, "reason", None) or str(exc)
        self.summary.setPlainText(f"The batch could not run: {reason}")

    def _on_worker_finished(self) -> None:
        self.worker = None
        self._building = False
        self._set_running(False)
        self.batch_finished.emit(self.report)
        if self._close_when_done:
            self._close_when_done = False
            self.reject()

    def _set_running(self, running: bool) -> None:
        self.options_box.setEnabled(not running)
        self.start_button.setEnabled(not running)
        self.cancel_button.setEnabled(running)
        self.running_changed.emit(running)

    def _remember(self) -> None:
        s = self.settings
        s.batch_input_dir = self.input_edit.text().strip()
        s.batch_output_dir = self.output_edit.text().strip()
        s.batch_recursive = self.recursive.isChecked()
        s.batch_skip_existing = self.skip_existing.isChecked()
        s.batch_compiled_engine = self.compiled_engine.isChecked()
        s.jpeg_quality = self.quality_spin.value()
        s.keep_metadata = self.keep_metadata.isChecked()
        if self.suffix_edit.text():
            s.save_suffix = self.suffix_edit.text()

    def _cancel_then_close(self) -> bool:
        """While running: cancel, close once the worker stopped; True if that was needed."""
        if self.worker is None:
            return False
        self.worker.cancel()
        self._close_when_done = True
        self.overall_label.setText("Cancelling… the dialog closes when the batch has stopped")
        return True

    def reject(self) -> None:
        if not self._cancel_then_close():
            super().reject()

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        if self._cancel_then_close():
            event.ignore()
            return
        super().closeEvent(event)
