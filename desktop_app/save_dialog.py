"""Save As: where, which format, JPEG quality, keep metadata."""

from __future__ import annotations

import os
from pathlib import Path

from PySide6.QtWidgets import (
    QCheckBox,
    QComboBox,
    QDialog,
    QDialogButtonBox,
    QFileDialog,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QLineEdit,
    QPushButton,
    QSpinBox,
    QVBoxLayout,
    QWidget,
)

from core.formats import OUTPUT_FORMATS, output_format_of

from .jobs import ExportOptions
from .settings import FORMAT_EXTENSIONS, FORMATS

FORMAT_LABELS = {"jpg": "JPEG", "png": "PNG (lossless)", "tif": "TIFF (lossless, 16-bit if source)",
                 "webp": "WebP", "heic": "HEIC (10-bit if source is deeper)"}
LOSSY = {name for name, fmt in OUTPUT_FORMATS.items() if fmt.lossy}


def format_of(path: Path, default: str = "jpg") -> str:
    """Format name for ``path``'s extension."""
    fmt = output_format_of(path)
    return fmt.name if fmt is not None else default


def folder_problem(folder: Path) -> str:
    """A people-readable reason why files cannot be written to ``folder``; "" when fine."""
    if not folder.exists():
        return f"The folder {folder} does not exist."
    if not folder.is_dir():
        return f"{folder} is not a folder."
    if not os.access(folder, os.W_OK | os.X_OK):
        return f"The folder {folder} is not writable. Choose another folder."
    return ""


class ExportOptionsBox(QWidget):
    """Format, quality and metadata controls (shared by Save As and the batch dialog)."""

    def __init__(self, options: ExportOptions, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.format_combo = QComboBox()
        for fmt in FORMATS:
            self.format_combo.addItem(FORMAT_LABELS.get(fmt, fmt), fmt)
        self.quality_spin = QSpinBox()
        self.quality_spin.setRange(1, 100)
        self.quality_spin.setSuffix(" %")
        self.keep_metadata = QCheckBox("Keep metadata (EXIF, colour profile)")
        form = QFormLayout(self)
        form.setContentsMargins(0, 0, 0, 0)
        form.addRow("Format", self.format_combo)
        form.addRow("Quality", self.quality_spin)
        form.addRow("", self.keep_metadata)
        self.format_combo.currentIndexChanged.connect(self._on_format_changed)
        self.set_options(options)

    def set_options(self, options: ExportOptions) -> None:
        index = self.format_combo.findData(options.fmt)
        self.format_combo.setCurrentIndex(max(0, index))
        self.quality_spin.setValue(options.quality)
        self.keep_metadata.setChecked(options.keep_metadata)
        self._on_format_changed()

    def options(self) -> ExportOptions:
        return ExportOptions(str(self.format_combo.currentData()), self.quality_spin.value(),
                             self.keep_metadata.isChecked())

    def _on_format_changed(self, *_: object) -> None:
        self.quality_spin.setEnabled(self.format_combo.currentData() in LOSSY)


class SaveAsDialog(QDialog):
    """Choose a file and export options; :meth:`target` and :meth:`options` give the answer."""

    def __init__(self, suggested: Path, options: ExportOptions, original: Path,
                 parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setWindowTitle("Save enhanced photo as")
        self._original = original
        self.overwrite_confirmed = False
        self.path_edit = QLineEdit(str(suggested))
        browse = QPushButton("Browse…")
        row = QHBoxLayout()
        row.addWidget(self.path_edit, 1)
        row.addWidget(browse)
        self.options_box = ExportOptionsBox(options)
        self.problem = QLabel()
        self.problem.setStyleSheet("color: #ff8a80;")
        self.problem.setWordWrap(True)
        self.buttons = QDialogButtonBox(QDialogButtonBox.StandardButton.Save | QDialogButtonBox.StandardButton.Cancel)
        form = QFormLayout()
        form.addRow("File", row)
        layout = QVBoxLayout(self)
        layout.addLayout(form)
        layout.addWidget(self.options_box)
        layout.addWidget(self.problem)
        layout.addWidget(self.buttons)
        browse.clicked.connect(self._on_browse_clicked)
        self.buttons.accepted.connect(self._on_accepted)
        self.buttons.rejected.connect(self.reject)
        self.options_box.format_combo.currentIndexChanged.connect(self._on_format_changed)
        self.path_edit.textChanged.connect(self._on_path_changed)
        self.setMinimumWidth(520)

    def target(self) -> Path:
        return Path(self.path_edit.text()).expanduser()

    def options(self) -> ExportOptions:
        return self.options_box.options()

    def validate(self) -> str:
        """Why the current choice cannot be saved ("" when it can)."""
        target = self.target()
        if not self.path_edit.text().strip():
            return "Enter a file name."
        if target.exists() and target.resolve() == self._original.resolve():
            return "That is the original photo; it is never overwritten. Choose another name."
        return folder_problem(target.parent)

    def _on_browse_clicked(self) -> None:
        path, _ = QFileDialog.getSaveFileName(self, "Save enhanced photo as", str(self.target()),
                                              "Images (*.jpg *.jpeg *.png *.tif *.tiff *.webp *.heic)")
        if path:
            self.path_edit.setText(path)
            self.overwrite_confirmed = Path(path).exists()  # the file dialog asked already
            fmt = format_of(Path(path), self.options().fmt)
            self.options_box.format_combo.setCurrentIndex(self.options_box.format_combo.findData(fmt))

    def _on_format_changed(self, *_: object) -> None:
        fmt = str(self.options_box.format_combo.currentData())
        target = self.target()
        if format_of(target, "") != fmt:
            self.path_edit.setText(str(target.with_suffix(FORMAT_EXTENSIONS[fmt])))

    def _on_path_changed(self, *_: object) -> None:
        self.problem.setText("")
        self.overwrite_confirmed = False

    def _on_accepted(self) -> None:
        problem = self.validate()
        if problem:
            self.problem.setText(problem)
            return
        self.accept()
