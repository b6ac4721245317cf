"""Page 4: compare input, autocontrast, the current and the new model on the validation images; install."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import Qt, QUrl, Signal
from PySide6.QtGui import QDesktopServices, QFont
from PySide6.QtWidgets import (
    QAbstractItemView,
    QHBoxLayout,
    QHeaderView,
    QLabel,
    QLineEdit,
    QPushButton,
    QTableWidget,
    QTableWidgetItem,
    QVBoxLayout,
    QWidget,
    QWizardPage,
)

from core.user_folders import user_models_dir
from trainer.user_models import install_weights

from ..workers import JobRunner, Worker
from .evaluation import EvalRow, compare_on_validation
from .state import RunPlan, default_weights

log = logging.getLogger(__name__)

ROW_KEYS = ["input", "autocontrast", "current", "new"]
ROW_LABELS = ["Input (no enhancement)", "Autocontrast", "Current model", "New model"]


class FinishPage(QWizardPage):
    """Evaluates off the UI thread and installs the new weights on request."""

    weightsInstalled = Signal(Path)  # noqa: N815 (Qt naming)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTitle("Results")
        self.setSubTitle("Mean PSNR and SSIM on the validation images (whole images, data range 1.0). "
                         "Higher is better.")
        self.setFinalPage(True)
        self.runner = JobRunner(1, self)
        self.rows: dict[str, EvalRow] = {}
        self.installed: Path | None = None
        self.evaluating = False
        self._plan: RunPlan | None = None
        self._weights: Path | None = None

        self.summary_label = QLabel("")
        self.summary_label.setWordWrap(True)
        self.summary_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.table = QTableWidget(len(ROW_KEYS), 2)
        self.table.setHorizontalHeaderLabels(["PSNR (dB)", "SSIM"])
        self.table.setVerticalHeaderLabels(ROW_LABELS)
        self.table.horizontalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Stretch)
        self.table.verticalHeader().setSectionResizeMode(QHeaderView.ResizeMode.Fixed)
        self.table.setEditTriggers(QAbstractItemView.EditTrigger.NoEditTriggers)
        self.table.setSelectionMode(QAbstractItemView.SelectionMode.NoSelection)
        self.table.verticalHeader().setDefaultSectionSize(30)
        self.table.setFixedHeight(self.table.horizontalHeader().sizeHint().height() + len(ROW_KEYS) * 30
                                  + 2 * self.table.frameWidth())
        self.eval_label = QLabel("")
        self.eval_label.setWordWrap(True)
        self.name_edit = QLineEdit()
        self.install_button = QPushButton("Use these weights")
        self.install_button.setDefault(False)
        self.install_button.setToolTip("Copy the new model into your models folder and switch the app to it")
        self.open_button = QPushButton("Open run folder")
        self.install_label = QLabel("")
        self.install_label.setWordWrap(True)
        self.install_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)

        install_row = QHBoxLayout()
        install_row.addWidget(QLabel("Model name:"))
        install_row.addWidget(self.name_edit, 1)
        install_row.addWidget(self.install_button)
        install_row.addWidget(self.open_button)
        layout = QVBoxLayout(self)
        layout.addWidget(self.summary_label)
        layout.addWidget(self.table)
        layout.addWidget(self.eval_label)
        layout.addSpacing(8)
        layout.addLayout(install_row)
        layout.addWidget(self.install_label)
        layout.addStretch(1)

        self.install_button.clicked.connect(self._on_install_clicked)
        self.open_button.clicked.connect(self._on_open_clicked)

    # ------------------------------------------------------------------ wizard hooks
    def initializePage(self) -> None:  # noqa: N802
        wizard = self.wizard()
        self._plan = getattr(wizard, "plan", None)
        self._weights = wizard.training_page.best_weights() if hasattr(wizard, "training_page") else None
        if self._plan is None or self._weights is None:
            self.summary_label.setText("There are no new weights to compare.")
            self.install_button.setEnabled(False)
            return
        self.name_edit.setText(self._plan.name)
        self.summary_label.setText(self._summary_text())
        self.install_button.setEnabled(self.installed is None)
        self._start_evaluation(getattr(wizard, "context", None))

    # ------------------------------------------------------------------ API
    def models_dir(self) -> Path:
        context = getattr(self.wizard(), "context", None)
        folder = getattr(context, "models_dir", None)
        return Path(folder) if folder else user_models_dir()

    def install(self) -> Path | None:
        """Install the new weights under the chosen name; emits :attr:`weightsInstalled`."""
        if self._weights is None or self.installed is not None:
            return self.installed
        try:
            path = install_weights(self._weights, self.name_edit.text() or "retrained", self.models_dir())
        except OSError as exc:
            self.install_label.setText(f"Could not install the weights: {exc}")
            self.install_label.setStyleSheet("color: #ff8080;")
            return None
        self.installed = path
        self.install_button.setEnabled(False)
        self.install_label.setStyleSheet("color: #7bd88f;")
        self.install_label.setText(f"✓ Installed as {path}. The app's model list now offers it.")
        self.weightsInstalled.emit(path)
        return path

    # ------------------------------------------------------------------ slots
    def _on_install_clicked(self) -> None:
        self.install()

    def _on_open_clicked(self) -> None:
        if self._plan is not None:
            QDesktopServices.openUrl(QUrl.fromLocalFile(str(self._plan.run_dir)))

    def _on_row_reported(self, row: EvalRow) -> None:
        self.rows[row.key] = row
        r = ROW_KEYS.index(row.key)
        self.table.setVerticalHeaderItem(r, QTableWidgetItem(row.label))
        if row.error:
            cells = ["–", "–"]
            self.table.verticalHeaderItem(r).setToolTip(row.error)
        else:
            cells = [f"{row.psnr:.2f}", f"{row.ssim:.3f}"]
        for c, text in enumerate(cells):
            item = QTableWidgetItem(text)
            item.setTextAlignment(Qt.AlignmentFlag.AlignCenter)
            if row.error:
                item.setToolTip(row.error)
            self.table.setItem(r, c, item)
        self._highlight_best()

    def _on_evaluation_returned(self, rows: list[EvalRow]) -> None:
        self.evaluating = False
        new, current = self.rows.get("new"), self.rows.get("current")
        text = "Done."
        if new and new.psnr is not None and current and current.psnr is not None:
            diff = new.psnr - current.psnr
            text = (f"The new model is {abs(diff):.2f} dB {'better' if diff >= 0 else 'worse'} than the current one "
                    "on these images.")
        elif current and current.error:
            text = f"The current model could not be measured ({current.error})."
        self.eval_label.setText(text)

    def _on_evaluation_errored(self, exc: Exception) -> None:
        self.evaluating = False
        self.eval_label.setText(f"Evaluation failed: {exc}")
        self.eval_label.setStyleSheet("color: #ff8080;")

    # ------------------------------------------------------------------ helpers
    def _summary_text(self) -> str:
        assert self._plan is not None and self._weights is not None
        from core.weights import read_weights_info

        try:
            info = read_weights_info(self._weights).summary()
        except Exception as exc:  # noqa: BLE001 - shown, never fatal
            info = f"unreadable ({exc})"
        return f"Run '{self._plan.name}': best weights {info}.\n{self._weights}"

    def _start_evaluation(self, context: object) -> None:
        assert self._plan is not None and self._weights is not None
        self.rows.clear()
        for r in range(len(ROW_KEYS)):
            for c in range(2):
                self.table.setItem(r, c, QTableWidgetItem("…"))
        current = getattr(context, "current_weights", None) or default_weights()
        self.evaluating = True
        self.eval_label.setText("Measuring on the validation images…")
        worker = Worker(compare_on_validation, self._plan.config, self._weights, current, name="compare models")
        worker.signals.progress.connect(self._on_row_reported)
        worker.signals.returned.connect(self._on_evaluation_returned)
        worker.signals.errored.connect(self._on_evaluation_errored)
        self.runner.submit(worker)

    def _highlight_best(self) -> None:
        scored = [(row.psnr, ROW_KEYS.index(key)) for key, row in self.rows.items() if row.psnr is not None]
        best = max(scored)[1] if scored else -1
        for r in range(len(ROW_KEYS)):
            for c in range(2):
                item = self.table.item(r, c)
                if item is not None:
                    font = QFont(item.font())
                    font.setBold(r == best)
                    item.setFont(font)
