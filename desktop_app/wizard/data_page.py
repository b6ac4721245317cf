"""Page 1: choose and validate the dataset folder."""

from __future__ import annotations

import logging
from pathlib import Path

import numpy as np
from PySide6.QtCore import Qt, QTimer
from PySide6.QtGui import QPixmap
from PySide6.QtWidgets import (
    QFileDialog,
    QFrame,
    QGridLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QVBoxLayout,
    QWidget,
    QWizardPage,
)

from ..imaging import qimage_from_rgb
from ..workers import JobRunner, Worker
from .dataset import DatasetSummary, Sample, inspect_dataset

log = logging.getLogger(__name__)

OK_STYLE = "color: #7bd88f;"
ERROR_STYLE = "color: #ff8080;"


def _pair_strip(sample: Sample) -> np.ndarray:
    """low | high side by side (same height), with a 3 px gap."""
    h = min(sample.low.shape[0], sample.high.shape[0])
    gap = np.full((h, 3, 3), 24, dtype=np.uint8)
    return np.ascontiguousarray(np.concatenate([sample.low[:h], gap, sample.high[:h]], axis=1))


class DataPage(QWizardPage):
    """Folder chooser; validation and thumbnails run off the UI thread; Next stays off until valid."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setTitle("Training data")
        self.setSubTitle("Choose a folder of paired photos: the LOL layout (our485/ and eval15/), "
                         "train/ and val/, or low/ and high/ with matching file names.")
        self.summary: DatasetSummary | None = None
        self.error: str = ""
        self._pending = False
        self._generation = 0
        self.runner = JobRunner(1, self)

        self.path_edit = QLineEdit()
        self.path_edit.setPlaceholderText("Dataset folder…")
        self.path_edit.setClearButtonEnabled(True)
        self.browse_button = QPushButton("Browse…")
        self.status_label = QLabel("Choose a folder to check it.")
        self.status_label.setWordWrap(True)
        self.status_label.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.samples_box = QFrame()
        self.samples_layout = QGridLayout(self.samples_box)
        self.samples_layout.setContentsMargins(0, 8, 0, 0)
        self.samples_layout.setHorizontalSpacing(24)
        self.samples_layout.setColumnStretch(2, 1)
        self.samples_title = QLabel("Sample pairs (low | high):")
        self.samples_title.setVisible(False)

        row = QHBoxLayout()
        row.addWidget(self.path_edit, 1)
        row.addWidget(self.browse_button)
        layout = QVBoxLayout(self)
        layout.addLayout(row)
        layout.addWidget(self.status_label)
        layout.addWidget(self.samples_title)
        layout.addWidget(self.samples_box)
        layout.addStretch(1)

        self._debounce = QTimer(self)
        self._debounce.setSingleShot(True)
        self._debounce.setInterval(400)
        self._debounce.timeout.connect(self._on_debounce_timeout)
        self.path_edit.textChanged.connect(self._on_path_text_changed)
        self.browse_button.clicked.connect(self._on_browse_clicked)

    # ------------------------------------------------------------------ API
    def set_folder(self, folder: str | Path) -> None:
        """Put ``folder`` in the field and check it at once."""
        self.path_edit.setText(str(folder))
        self._debounce.stop()
        self._validate()

    def isComplete(self) -> bool:  # noqa: N802
        return self.summary is not None and not self._pending

    def is_busy(self) -> bool:
        return self._pending

    # ------------------------------------------------------------------ slots
    def _on_browse_clicked(self) -> None:
        start = self.path_edit.text() or str(Path.home())
        folder = QFileDialog.getExistingDirectory(self, "Choose the dataset folder", start)
        if folder:
            self.set_folder(folder)

    def _on_path_text_changed(self, _text: str) -> None:
        self.summary = None
        self._pending = bool(self.path_edit.text().strip())
        self.completeChanged.emit()
        self._debounce.start()

    def _on_debounce_timeout(self) -> None:
        self._validate()

    def _validate(self) -> None:
        text = self.path_edit.text().strip()
        self._generation += 1
        self.summary = None
        self._clear_samples()
        if not text:
            self._pending = False
            self._show_status("Choose a folder to check it.", "")
            self.completeChanged.emit()
            return
        self._pending = True
        self._show_status("Checking the folder…", "")
        self.completeChanged.emit()
        worker = Worker(inspect_dataset, Path(text), name="inspect dataset")
        generation = self._generation
        worker.signals.returned.connect(lambda s, g=generation: self._on_inspect_returned(g, s))
        worker.signals.errored.connect(lambda e, g=generation: self._on_inspect_errored(g, e))
        self.runner.submit(worker)

    def _on_inspect_returned(self, generation: int, summary: DatasetSummary) -> None:
        if generation != self._generation:
            return
        self._pending = False
        self.summary = summary
        self.error = ""
        self._show_status("✓ " + summary.describe(), OK_STYLE)
        self._show_samples(summary.samples)
        self.completeChanged.emit()

    def _on_inspect_errored(self, generation: int, exc: Exception) -> None:
        if generation != self._generation:
            return
        self._pending = False
        self.summary = None
        self.error = str(exc)
        self._show_status("✗ This folder cannot be used for training:\n" + self.error, ERROR_STYLE)
        self.completeChanged.emit()

    # ------------------------------------------------------------------ helpers
    def _show_status(self, text: str, style: str) -> None:
        self.status_label.setText(text)
        self.status_label.setStyleSheet(style)

    def _clear_samples(self) -> None:
        while self.samples_layout.count():
            item = self.samples_layout.takeAt(0)
            if item.widget() is not None:
                item.widget().deleteLater()
        self.samples_title.setVisible(False)

    def _show_samples(self, samples: list[Sample]) -> None:
        self._clear_samples()
        for i, sample in enumerate(samples):
            image = QLabel()
            image.setPixmap(QPixmap.fromImage(qimage_from_rgb(_pair_strip(sample))))
            caption = QLabel(sample.name)
            caption.setAlignment(Qt.AlignmentFlag.AlignHCenter)
            caption.setStyleSheet("color: palette(placeholder-text);")
            self.samples_layout.addWidget(image, (i // 2) * 2, i % 2, Qt.AlignmentFlag.AlignLeft)
            self.samples_layout.addWidget(caption, (i // 2) * 2 + 1, i % 2, Qt.AlignmentFlag.AlignLeft)
        self.samples_title.setVisible(bool(samples))
