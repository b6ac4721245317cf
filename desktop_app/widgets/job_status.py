"""The status bar's job display: what is being enhanced, a progress bar, a cancel button."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtWidgets import QHBoxLayout, QLabel, QProgressBar, QToolButton, QWidget

from ..resources import icon


class JobStatus(QWidget):
    """Hidden bar and button while nothing runs; the label says what runs and how long is left."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.label = QLabel("")
        self.progress = QProgressBar()
        self.progress.setMaximumWidth(160)
        self.progress.setRange(0, 100)
        self.progress.setTextVisible(False)
        self.progress.hide()
        self.cancel_button = QToolButton()
        self.cancel_button.setIcon(icon("cancel"))
        self.cancel_button.setToolTip("Cancel the running enhancement (Esc)")
        self.cancel_button.setAutoRaise(True)
        self.cancel_button.hide()
        layout = QHBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        for widget in (self.label, self.progress, self.cancel_button):
            layout.addWidget(widget)

    def show_started(self, path: Path) -> None:
        self.label.setText(f"Enhancing {path.name}")
        self.progress.setValue(0)
        self.progress.show()
        self.cancel_button.show()

    def show_progress(self, path: Path, fraction: float, remaining: float | None) -> None:
        self.progress.setValue(round(fraction * 100))
        if remaining is not None:
            self.label.setText(f"Enhancing {path.name} · {remaining:.0f} s left")

    def show_cancelling(self) -> None:
        self.label.setText("Cancelling…")

    def show_finished(self) -> None:
        self.progress.hide()
        self.cancel_button.hide()
        self.label.setText("")
