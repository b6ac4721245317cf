"""Page 2: model size, epochs, crop, batch, device, run name (with a measured time estimate), or resume."""

from __future__ import annotations

import dataclasses
import datetime as dt
import logging
from pathlib import Path

from PySide6.QtCore import Qt, QTimer
from PySide6.QtWidgets import (
    QButtonGroup,
    QCheckBox,
    QComboBox,
    QFormLayout,
    QGroupBox,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QRadioButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
    QWizard,
    QWizardPage,
)

from core.config import PRESETS
from core.errors import CoreError
from core.progress import format_duration
from core.weights import WeightsInfo, read_weights_info
from trainer.checkpoint import clear_run
from trainer.config import PICTURE_COLOUR_WEIGHT, DataConfig, OptimConfig, TrainConfig, picture_augment
from trainer.probe import ProbeResult, preset_parameters, probe_epoch_time
from trainer.user_models import RunInfo, find_runs, safe_name

from ..workers import JobRunner, Worker
from .state import RunPlan

log = logging.getLogger(__name__)

PRESET_NOTES = {
    "tiny": "for tests only: trains in seconds, enhances little",
    "lite": "good on a CPU",
    "standard": "needs a GPU",
    "paper": "the paper's size; needs a strong GPU",
}
DEVICES = [("Automatic (GPU when available)", "auto"), ("CPU", "cpu"), ("GPU (CUDA)", "cuda")]


def _format_count(n: int) -> str:
    return f"{n / 1e6:.1f} M" if n >= 1e6 else f"{n / 1e3:.0f} k"


def _parameter_counts() -> dict[str, int]:
    return {name: preset_parameters(name) for name in PRESETS}


def _cuda_available() -> bool:
    import torch

    return bool(torch.cuda.is_available())


def _weights_info(path: Path | None) -> WeightsInfo | None:
    if path is None:
        return None
    try:
        return read_weights_info(path)
    except CoreError as exc:  # an unreadable current model only means "train from scratch"
        log.warning("cannot fine-tune %s: %s", path, exc)
        return None


def default_run_name() -> str:
    return "retrain-" + dt.datetime.now().strftime("%Y%m%d-%H%M")


class SettingsPage(QWizardPage):
    """New-run settings or the choice of an unfinished run; the epoch time is probed off the UI thread."""

    def __init__(self, runs_dir: Path, start_weights: Path | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.runs_dir = runs_dir
        self.start_weights = start_weights
        self._start_info = _weights_info(start_weights)
        self.setTitle("Training settings")
        self.setSubTitle("Pick the model size and how long to train. The time per epoch is measured on "
                         "this computer with a few real training steps.")
        self.setCommitPage(True)
        self.setButtonText(QWizard.WizardButton.CommitButton, "Start training")
        self.runner = JobRunner(1, self)
        self.probe_result: ProbeResult | None = None
        self._probe_worker: Worker | None = None
        self._probe_key: tuple | None = None
        self._probe_error = ""
        self._params: dict[str, int] = {}
        self.runs: list[RunInfo] = []

        # --- new run
        self.new_radio = QRadioButton("Start a new training run")
        self.resume_radio = QRadioButton("Resume an unfinished run")
        self.mode_group = QButtonGroup(self)
        self.mode_group.addButton(self.new_radio)
        self.mode_group.addButton(self.resume_radio)
        self.new_radio.setChecked(True)

        self.preset_combo = QComboBox()
        for name in PRESETS:
            self.preset_combo.addItem(name, name)
        self.preset_combo.setCurrentIndex(max(0, self.preset_combo.findData("lite")))
        self.epochs_spin = QSpinBox()
        self.epochs_spin.setRange(1, 2000)
        self.epochs_spin.setValue(50)
        self.crop_spin = QSpinBox()
        self.crop_spin.setRange(32, 512)
        self.crop_spin.setSingleStep(16)
        self.crop_spin.setValue(128)
        self.crop_spin.setSuffix(" px")
        self.batch_spin = QSpinBox()
        self.batch_spin.setRange(1, 64)
        self.batch_spin.setValue(8)
        self.device_combo = QComboBox()
        cuda = _cuda_available()
        for label, key in DEVICES:
            self.device_combo.addItem(label, key)
        if not cuda:
            item = self.device_combo.model().item(self.device_combo.findData("cuda"))
            item.setEnabled(False)
            item.setToolTip("No CUDA GPU was found on this computer")
        for spin in (self.epochs_spin, self.crop_spin, self.batch_spin):
            spin.setMinimumWidth(90)
            spin.setMaximumWidth(110)
        self.fine_tune_check = QCheckBox()
        self.fine_tune_check.setChecked(self._start_info is not None)
        self.name_edit = QLineEdit(default_run_name())
        self.name_edit.setMaximumWidth(360)
        # the trainer's --overwrite: offered only while the name is that of an existing run
        self.replace_check = QCheckBox("Replace that run (its weights, metrics and resume state are deleted)")
        self.replace_check.setVisible(False)
        self.estimate_label = QLabel("")
        self.estimate_label.setWordWrap(True)
        self.problem_label = QLabel("")
        self.problem_label.setWordWrap(True)
        self.problem_label.setStyleSheet("color: #ff8080;")

        self.new_box = QGroupBox()
        form = QFormLayout(self.new_box)
        form.addRow("Model size:", self.preset_combo)
        form.addRow("Epochs:", self.epochs_spin)
        crop_row = QHBoxLayout()
        crop_row.addWidget(self.crop_spin)
        crop_row.addWidget(QLabel("Batch size:"))
        crop_row.addWidget(self.batch_spin)
        crop_row.addStretch(1)
        form.addRow("Training crop:", crop_row)
        form.addRow("Device:", self.device_combo)
        form.addRow("Start from:", self.fine_tune_check)
        form.addRow("Run name:", self.name_edit)
        form.addRow("", self.replace_check)
        form.addRow("Estimate:", self.estimate_label)

        # --- resume
        self.run_combo = QComboBox()
        self.resume_epochs_spin = QSpinBox()
        self.resume_epochs_spin.setRange(1, 2000)
        self.resume_epochs_spin.setMaximumWidth(110)
        self.resume_box = QGroupBox()
        rform = QFormLayout(self.resume_box)
        rform.addRow("Run:", self.run_combo)
        rform.addRow("Train until epoch:", self.resume_epochs_spin)
        resume_note = QLabel("Training continues after the last completed epoch, with the run's own settings.")
        resume_note.setWordWrap(True)
        rform.addRow(resume_note)

        layout = QVBoxLayout(self)
        layout.addWidget(self.new_radio)
        layout.addWidget(self.new_box)
        layout.addWidget(self.resume_radio)
        layout.addWidget(self.resume_box)
        layout.addWidget(self.problem_label)
        layout.addStretch(1)

        self._probe_timer = QTimer(self)
        self._probe_timer.setSingleShot(True)
        self._probe_timer.setInterval(700)
        self._probe_timer.timeout.connect(self._on_probe_timer_timeout)
        for signal in (self.preset_combo.currentIndexChanged, self.crop_spin.valueChanged,
                       self.batch_spin.valueChanged, self.device_combo.currentIndexChanged):
            signal.connect(self._on_probe_input_changed)
        self.preset_combo.currentIndexChanged.connect(self._update_fine_tune)
        self.epochs_spin.valueChanged.connect(self._on_epochs_changed)
        self.name_edit.textChanged.connect(self._on_name_changed)
        self.replace_check.toggled.connect(self._on_name_changed)
        self.mode_group.buttonToggled.connect(self._on_mode_toggled)
        self.run_combo.currentIndexChanged.connect(self._on_run_chosen)
        self._update_fine_tune()

    # ------------------------------------------------------------------ wizard hooks
    def initializePage(self) -> None:  # noqa: N802
        self.runs = find_runs(self.runs_dir, unfinished_only=True)
        self.run_combo.clear()
        for run in self.runs:
            self.run_combo.addItem(run.summary(), str(run.path))
        has_runs = bool(self.runs)
        self.resume_radio.setEnabled(has_runs)
        self.resume_radio.setText("Resume an unfinished run" if has_runs else "Resume an unfinished run (none found)")
        if not has_runs:
            self.new_radio.setChecked(True)
        self._on_run_chosen()
        self._update_mode()
        self._on_name_changed()
        if not self._params:
            worker = Worker(_parameter_counts, name="parameter counts")
            worker.signals.returned.connect(self._on_parameter_counts_returned)
            self.runner.submit(worker)
        self._schedule_probe(immediately=True)

    def cleanupPage(self) -> None:  # noqa: N802
        self.cancel_probe()

    def isComplete(self) -> bool:  # noqa: N802
        problem = self.problem()
        self.problem_label.setText(problem)
        return not problem

    def validatePage(self) -> bool:  # noqa: N802
        self.cancel_probe()
        plan = self.plan()
        if plan is None:
            return False
        if not plan.resume and self.replaces_run():
            try:
                clear_run(plan.run_dir)
            except OSError as exc:
                self.problem_label.setText(f"Cannot remove the old run: {exc}")
                return False
        return True

    # ------------------------------------------------------------------ API
    def summary(self):  # type: ignore[no-untyped-def]
        return getattr(self.wizard(), "dataset_summary", None)

    def is_resume(self) -> bool:
        return self.resume_radio.isChecked() and bool(self.runs)

    def chosen_run(self) -> RunInfo | None:
        i = self.run_combo.currentIndex()
        return self.runs[i] if self.is_resume() and 0 <= i < len(self.runs) else None

    def fine_tunes(self) -> bool:
        """Whether the new run starts from the current model rather than from scratch."""
        return self.fine_tune_check.isEnabled() and self.fine_tune_check.isChecked()

    def replaces_run(self) -> bool:
        """Whether a new run replaces the existing run of the same name (the user ticked it)."""
        name = self.run_name()
        return bool(name) and (self.runs_dir / name).exists() and self.replace_check.isChecked()

    def run_name(self) -> str:
        return safe_name(self.name_edit.text(), default="")

    def new_config(self) -> TrainConfig | None:
        summary = self.summary()
        if summary is None:
            return None
        data = DataConfig(train_dir=str(summary.folder), val_split=summary.val_split,
                          crop=self.crop_spin.value(), batch_size=self.batch_spin.value(),
                          val_max_side=1024)
        # The same picture recipe as `lowlight train` (true exposure, EV jitter, JPEG/chroma noise).
        return TrainConfig(out_dir=str(self.runs_dir / (self.run_name() or "run")), data=data,
                           augment=picture_augment(), optim=OptimConfig(colour_weight=PICTURE_COLOUR_WEIGHT),
                           preset=str(self.preset_combo.currentData()), epochs=self.epochs_spin.value(),
                           device=str(self.device_combo.currentData()),  # type: ignore[arg-type]
                           init_weights=str(self.start_weights) if self.fine_tunes() else None)

    def problem(self) -> str:
        """Why Start cannot be pressed ("" when it can)."""
        if self.is_resume():
            run = self.chosen_run()
            return "" if run is not None else "Choose a run to resume."
        summary = self.summary()
        if summary is None:
            return "Go back and choose a dataset folder."
        name = self.run_name()
        if not name:
            return "Give the run a name (letters, digits, - and _)."
        if (self.runs_dir / name).exists() and not self.replace_check.isChecked():
            return (f"A run named '{name}' exists already: choose another name, resume it (above, if it is "
                    "unfinished), or tick 'Replace that run'.")
        if summary.train_pairs // self.batch_spin.value() < 1:
            return (f"The batch size ({self.batch_spin.value()}) is larger than the {summary.train_pairs} "
                    "training pairs; lower it.")
        return ""

    def plan(self) -> RunPlan | None:
        """What the training page should run (None when the page is incomplete)."""
        if self.problem():
            return None
        if self.is_resume():
            run = self.chosen_run()
            assert run is not None
            raw = dict(run.config)
            raw["epochs"] = self.resume_epochs_spin.value()
            raw["out_dir"] = str(run.path)
            return RunPlan(TrainConfig.from_dict(raw), run.path, resume=True)
        cfg = self.new_config()
        assert cfg is not None
        return RunPlan(cfg, Path(cfg.out_dir), resume=False, estimate_s=self._estimate_s())

    def cancel_probe(self) -> None:
        self._probe_timer.stop()
        if self._probe_worker is not None:
            self._probe_worker.cancel()

    # ------------------------------------------------------------------ slots
    def _on_parameter_counts_returned(self, counts: dict[str, int]) -> None:
        self._params = counts
        for i in range(self.preset_combo.count()):
            name = self.preset_combo.itemData(i)
            self.preset_combo.setItemText(i, f"{name}: {_format_count(counts[name])} parameters, "
                                             f"{PRESET_NOTES.get(name, '')}")

    def _on_probe_input_changed(self) -> None:
        self._schedule_probe()
        self.completeChanged.emit()

    def _on_epochs_changed(self) -> None:
        self._show_estimate()

    def _on_name_changed(self) -> None:
        name = self.run_name()
        taken = bool(name) and (self.runs_dir / name).exists()
        self.replace_check.setVisible(taken)
        if not taken:
            self.replace_check.setChecked(False)
        self.completeChanged.emit()

    def _on_mode_toggled(self) -> None:
        self._update_mode()
        self.completeChanged.emit()

    def _on_run_chosen(self) -> None:
        run = self.runs[self.run_combo.currentIndex()] if 0 <= self.run_combo.currentIndex() < len(self.runs) else None
        if run is not None:
            self.resume_epochs_spin.setMinimum(max(1, run.epochs_done + 1))
            self.resume_epochs_spin.setValue(max(run.epochs, run.epochs_done + 1))
        self.completeChanged.emit()

    def _on_probe_timer_timeout(self) -> None:
        self._start_probe()

    def _on_probe_returned(self, key: tuple, result: ProbeResult) -> None:
        if key == self._probe_key:
            self.probe_result = result
            self._probe_error = ""
            self._show_estimate()

    def _on_probe_errored(self, key: tuple, exc: Exception) -> None:
        if key == self._probe_key:
            self.probe_result = None
            self._probe_error = str(exc).splitlines()[0]
            self._show_estimate()

    def _on_probe_finished(self, worker: Worker) -> None:
        if worker is self._probe_worker:
            self._probe_worker = None
            if self._probe_key != self._current_key():  # settings changed while measuring
                self._schedule_probe()

    # ------------------------------------------------------------------ helpers
    def _update_fine_tune(self) -> None:
        """Fine-tuning needs current weights of the chosen model size."""
        info = self._start_info
        preset = self.preset_combo.currentData()
        if info is None:
            self.fine_tune_check.setEnabled(False)
            self.fine_tune_check.setText("Random weights (no current model found to fine-tune)")
        elif info.preset != preset:
            self.fine_tune_check.setEnabled(False)
            self.fine_tune_check.setText(f"Random weights (the current model is '{info.preset or 'custom'}'; "
                                         f"choose that size to fine-tune it)")
        else:
            self.fine_tune_check.setEnabled(True)
            self.fine_tune_check.setText(f"The current model ({Path(info.path).name}): fine-tuning needs far "
                                         "fewer epochs than random weights")

    def _update_mode(self) -> None:
        resume = self.is_resume()
        self.new_box.setEnabled(not resume)
        self.resume_box.setEnabled(resume)
        self.resume_box.setVisible(bool(self.runs))

    def _current_key(self) -> tuple:
        summary = self.summary()
        return (str(summary.folder) if summary else "", self.preset_combo.currentData(), self.crop_spin.value(),
                self.batch_spin.value(), self.device_combo.currentData())

    def _schedule_probe(self, immediately: bool = False) -> None:
        if self._current_key() == self._probe_key and (self.probe_result is not None or self._probe_worker):
            return
        self.probe_result = None
        self._show_estimate(measuring=True)
        self._probe_timer.start(0 if immediately else self._probe_timer.interval())

    def _start_probe(self) -> None:
        cfg = self.new_config()
        if cfg is None or self.problem().startswith("The batch size"):
            self._show_estimate()
            return
        if self._probe_worker is not None:  # one at a time: re-scheduled when it finishes
            self._probe_worker.cancel()
            return
        key = self._current_key()
        self._probe_key = key
        cfg = dataclasses.replace(cfg, out_dir=str(self.runs_dir / ".probe"))
        worker = Worker(self._probe_job, cfg, name="probe")
        worker.signals.returned.connect(lambda r, k=key: self._on_probe_returned(k, r))
        worker.signals.errored.connect(lambda e, k=key: self._on_probe_errored(k, e))
        worker.signals.finished.connect(lambda w=worker: self._on_probe_finished(w))
        self._probe_worker = worker
        self.runner.submit(worker)

    @staticmethod
    def _probe_job(cfg: TrainConfig, cancel) -> ProbeResult:  # type: ignore[no-untyped-def]
        return probe_epoch_time(cfg, steps=2, warmup=1, should_stop=cancel.is_set)

    def _estimate_s(self) -> float | None:
        return self.probe_result.epoch_s if self.probe_result is not None else None

    def _show_estimate(self, measuring: bool = False) -> None:
        r = self.probe_result
        if measuring or (r is None and self._probe_worker is not None):
            device = self.device_combo.currentText().split(" (")[0]
            self.estimate_label.setText(f"Measuring a few training steps on this computer ({device})…")
            return
        if r is None:
            self.estimate_label.setText(f"Could not measure: {self._probe_error}" if self._probe_error else "")
            return
        epochs = self.epochs_spin.value()
        self.estimate_label.setText(
            f"<b>about {format_duration(r.epoch_s)} per epoch</b>, {format_duration(r.epoch_s * epochs)} for "
            f"{epochs} epochs on {r.device.upper()}<br><span style='color: palette(placeholder-text)'>"
            f"{r.steps_per_epoch} steps × {r.seconds_per_step:.2f} s + {r.val_pairs} validation images × "
            f"{r.seconds_per_val_image:.2f} s; {_format_count(r.parameters)} parameters</span>")
        self.estimate_label.setTextFormat(Qt.TextFormat.RichText)
