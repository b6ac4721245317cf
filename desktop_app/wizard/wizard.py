"""The retraining wizard: data → settings → training → results."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import Qt, Signal
from PySide6.QtGui import QCloseEvent
from PySide6.QtWidgets import QMessageBox, QWidget, QWizard

from core.user_folders import runs_dir
from trainer.user_models import find_runs

from .data_page import DataPage
from .finish_page import FinishPage
from .settings_page import SettingsPage
from .state import RunPlan, WizardContext, default_weights
from .training_page import TrainingPage

log = logging.getLogger(__name__)


class RetrainWizard(QWizard):
    """Retrain MIRNet on the user's pairs. ``weightsInstalled(Path)`` fires when new weights are installed."""

    weightsInstalled = Signal(Path)  # noqa: N815 (Qt naming)

    DATA, SETTINGS, TRAINING, FINISH = range(4)

    def __init__(self, context: WizardContext | None = None, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.context = context or WizardContext()
        self.runs_dir = self.context.runs_dir or runs_dir()
        self.plan: RunPlan | None = None
        self.setWindowTitle("Retrain the model")
        self.setWizardStyle(QWizard.WizardStyle.ModernStyle)
        self.setOption(QWizard.WizardOption.NoBackButtonOnStartPage, True)
        self.setOption(QWizard.WizardOption.NoCancelButtonOnLastPage, True)
        self.setWindowFlag(Qt.WindowType.WindowMaximizeButtonHint, True)
        self.resize(860, 700)

        self.data_page = DataPage()
        self.settings_page = SettingsPage(self.runs_dir, self.context.current_weights or default_weights())
        self.training_page = TrainingPage()
        self.finish_page = FinishPage()
        for page_id, page in enumerate((self.data_page, self.settings_page, self.training_page, self.finish_page)):
            self.setPage(page_id, page)
        self.finish_page.weightsInstalled.connect(self.weightsInstalled)
        self._prefill_dataset()

    # ------------------------------------------------------------------ QWizard
    def validateCurrentPage(self) -> bool:  # noqa: N802
        if self.currentId() == self.SETTINGS:
            self.plan = self.settings_page.plan()
            if self.plan is None:
                return False
        return super().validateCurrentPage()

    def reject(self) -> None:
        """Closing while training runs asks first, then stops the process (its checkpoint stays)."""
        if self.training_page.is_running():
            if not self.confirm_stop_on_close():
                return
            self.training_page.process.shutdown()
        self._shutdown_jobs()
        super().reject()

    def done(self, result: int) -> None:
        self._shutdown_jobs()
        super().done(result)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        if self.training_page.is_running() and not self.confirm_stop_on_close():
            event.ignore()
            return
        self.training_page.process.shutdown()
        self._shutdown_jobs()
        super().closeEvent(event)

    # ------------------------------------------------------------------ helpers
    def confirm_stop_on_close(self) -> bool:
        """Ask before stopping a running training (tests replace this)."""
        answer = QMessageBox.question(
            self, "Stop training?",
            "Training is still running. Stop it and close the wizard?\n\nCompleted epochs are kept: "
            "choose Tools → Retrain Model… → Resume later to continue.",
            QMessageBox.StandardButton.Yes | QMessageBox.StandardButton.No, QMessageBox.StandardButton.No)
        return answer == QMessageBox.StandardButton.Yes

    def _shutdown_jobs(self) -> None:
        self.settings_page.cancel_probe()
        for page in (self.data_page, self.settings_page, self.finish_page):
            page.runner.shutdown(10_000)

    def _prefill_dataset(self) -> None:
        """The context's dataset, or the one the most recent run used."""
        folder = self.context.dataset
        if folder is None:
            runs = find_runs(self.runs_dir)
            train_dir = runs[0].config.get("data", {}).get("train_dir") if runs else None
            folder = Path(train_dir) if train_dir and Path(train_dir).is_dir() else None
        if folder is not None:
            self.data_page.set_folder(folder)

    @property
    def dataset_summary(self):  # type: ignore[no-untyped-def]
        return self.data_page.summary
