"""About box: versions of the app, PyTorch, Qt/PySide and the loaded model."""

from __future__ import annotations

import html
import platform

import PySide6
import torch
from PySide6.QtCore import Qt, qVersion
from PySide6.QtWidgets import QDialog, QDialogButtonBox, QHBoxLayout, QLabel, QVBoxLayout, QWidget

from . import APP_DISPLAY_NAME, __version__
from .resources import icon


def version_rows(model_text: str = "", device: str = "") -> list[tuple[str, str]]:
    """(label, value) pairs shown in the About dialog."""
    rows = [
        ("Version", __version__),
        ("PyTorch", torch.__version__),
        ("Qt", f"{qVersion()} (PySide6 {PySide6.__version__})"),
        ("Python", platform.python_version()),
    ]
    if model_text:
        rows.append(("Model", model_text))
    if device:
        rows.append(("Device", device))
    return rows


class AboutDialog(QDialog):
    """Non-essential information; closes with Esc or OK."""

    def __init__(self, parent: QWidget | None = None, *, model_text: str = "", model_path: str = "",
                 device: str = "") -> None:
        super().__init__(parent)
        self.setWindowTitle(f"About {APP_DISPLAY_NAME}")
        logo = QLabel()
        logo.setPixmap(icon("app").pixmap(72, 72))
        logo.setAlignment(Qt.AlignmentFlag.AlignTop)
        rows = "".join(f"<tr><td style='color:#9aa3b2;padding-right:12px'>{html.escape(k)}</td>"
                       f"<td>{html.escape(v)}</td></tr>" for k, v in version_rows(model_text, device))
        if model_path:
            rows += (f"<tr><td style='color:#9aa3b2;padding-right:12px'>Weights</td>"
                     f"<td>{html.escape(model_path)}</td></tr>")
        self.text = QLabel(
            f"<h2>{APP_DISPLAY_NAME}</h2><p>Low-light photo enhancement with MIRNet "
            f"(Zamir et al., ECCV 2020).</p><table>{rows}</table>"
        )
        self.text.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.text.setWordWrap(True)
        top = QHBoxLayout()
        top.addWidget(logo)
        top.addWidget(self.text, 1)
        buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Ok)
        buttons.accepted.connect(self.accept)
        layout = QVBoxLayout(self)
        layout.addLayout(top)
        layout.addWidget(buttons)
        self.setMinimumWidth(440)
