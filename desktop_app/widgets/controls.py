"""The side panel: strength, exposure, mode, model picker with its metadata, device."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt, QTimer, Signal
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import (
    QButtonGroup,
    QComboBox,
    QFormLayout,
    QHBoxLayout,
    QLabel,
    QRadioButton,
    QSlider,
    QVBoxLayout,
    QWidget,
)

from core.exposure import EV_RANGE

from ..engine import ModelEntry

BROWSE = "__browse__"
#: Exposure needs inference: the window re-enhances once the slider has rested this long.
EXPOSURE_SETTLE_MS = 150
EV_MIN, EV_MAX = EV_RANGE  # stops from the automatic exposure
EV_STEPS_PER_STOP = 10


def exposure_text(ev: float) -> str:
    """``Auto`` at 0, else the signed stops: ``+1.3 EV``."""
    return "Auto" if abs(ev) < 0.5 / EV_STEPS_PER_STOP else f"{ev:+.1f} EV"


class ExposureSlider(QWidget):
    """Exposure in stops from the automatic choice, -3..+3 in 0.1 steps, with its value label.

    Double-click (on the slider or the label) resets it to Auto. ``exposure_changed`` fires on every
    change; the window debounces the re-enhancement it triggers.
    """

    exposure_changed = Signal(float)

    class _Slider(QSlider):
        double_clicked = Signal()

        def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
            self.double_clicked.emit()
            event.accept()

    class _Label(QLabel):
        double_clicked = Signal()

        def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802 - Qt override
            self.double_clicked.emit()
            event.accept()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.slider = self._Slider(Qt.Orientation.Horizontal)
        self.slider.setRange(round(EV_MIN * EV_STEPS_PER_STOP), round(EV_MAX * EV_STEPS_PER_STOP))
        self.slider.setValue(0)
        self.slider.setPageStep(EV_STEPS_PER_STOP // 2)
        self.slider.setTickPosition(QSlider.TickPosition.TicksBelow)
        self.slider.setTickInterval(EV_STEPS_PER_STOP)
        self.slider.setToolTip("Exposure in stops from the automatic choice (+1 is about twice the light). "
                               "Double-click to return to Auto.")
        self.label = self._Label("Auto")
        self.label.setMinimumWidth(58)
        self.label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        self.label.setToolTip("Double-click to return to Auto")
        row = QHBoxLayout(self)
        row.setContentsMargins(0, 0, 0, 0)
        row.addWidget(self.slider, 1)
        row.addWidget(self.label)
        self.slider.valueChanged.connect(self._on_value_changed)
        self.slider.double_clicked.connect(self.reset)
        self.label.double_clicked.connect(self.reset)

    def value(self) -> float:
        return self.slider.value() / EV_STEPS_PER_STOP

    def set_value(self, ev: float) -> None:
        self.slider.setValue(round(min(EV_MAX, max(EV_MIN, float(ev))) * EV_STEPS_PER_STOP))

    def reset(self) -> None:
        """Back to the automatic exposure."""
        self.slider.setValue(0)

    def _on_value_changed(self, steps: int) -> None:
        ev = steps / EV_STEPS_PER_STOP
        self.label.setText(exposure_text(ev))
        self.exposure_changed.emit(ev)


class ControlPanel(QWidget):
    """Editing controls. Emits plain values; the window decides what they mean."""

    strength_changed = Signal(float)
    exposure_changed = Signal(float)
    #: The exposure once the slider has rested EXPOSURE_SETTLE_MS (a drag does not emit every step).
    exposure_settled = Signal(float)
    mode_changed = Signal(str)
    model_chosen = Signal(object)  # Path | None (None = bundled)
    browse_model_requested = Signal()

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.strength_slider = QSlider(Qt.Orientation.Horizontal)
        self.strength_slider.setRange(0, 100)
        self.strength_slider.setValue(100)
        self.strength_slider.setToolTip("Blend between the original (0 %) and the enhanced photo (100 %)")
        self.strength_label = QLabel("100 %")
        self.strength_label.setMinimumWidth(44)
        self.strength_label.setAlignment(Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter)
        strength_row = QHBoxLayout()
        strength_row.addWidget(self.strength_slider, 1)
        strength_row.addWidget(self.strength_label)

        self.exposure = ExposureSlider()
        self.exposure_note = QLabel("")
        self.exposure_note.setWordWrap(True)
        self.exposure_note.setStyleSheet("color: #9aa3b2;")
        self.exposure_note.hide()

        self.fast_radio = QRadioButton("Fast preview")
        self.full_radio = QRadioButton("Full quality")
        self.fast_radio.setToolTip("Quicker result, good for judging a photo")
        self.full_radio.setToolTip("Best quality (slower); use before saving")
        self.mode_group = QButtonGroup(self)
        self.mode_group.addButton(self.fast_radio)
        self.mode_group.addButton(self.full_radio)
        self.fast_radio.setChecked(True)
        mode_row = QHBoxLayout()
        mode_row.addWidget(self.fast_radio)
        mode_row.addWidget(self.full_radio)
        mode_row.addStretch(1)

        self.model_combo = QComboBox()
        self.model_combo.setSizeAdjustPolicy(QComboBox.SizeAdjustPolicy.AdjustToMinimumContentsLengthWithIcon)
        self.model_combo.setMinimumContentsLength(14)
        self.model_info = QLabel("loading model…")
        self.model_info.setWordWrap(True)
        self.model_info.setTextInteractionFlags(Qt.TextInteractionFlag.TextSelectableByMouse)
        self.model_info.setStyleSheet("color: #9aa3b2;")
        self.device_label = QLabel("—")
        self.device_label.setStyleSheet("color: #9aa3b2;")

        form = QFormLayout()
        form.setLabelAlignment(Qt.AlignmentFlag.AlignLeft)
        form.addRow("Strength", strength_row)
        form.addRow("Exposure", self.exposure)
        form.addRow("", self.exposure_note)
        form.addRow("Mode", mode_row)
        form.addRow("Model", self.model_combo)
        form.addRow("", self.model_info)
        form.addRow("Device", self.device_label)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(12, 8, 12, 8)
        layout.addLayout(form)

        self.strength_slider.valueChanged.connect(self._on_slider_value_changed)
        self.exposure.exposure_changed.connect(self._on_exposure_changed)
        self._exposure_timer = QTimer(self)
        self._exposure_timer.setSingleShot(True)
        self._exposure_timer.setInterval(EXPOSURE_SETTLE_MS)
        self._exposure_timer.timeout.connect(self._on_exposure_timer_timeout)
        self.mode_group.buttonToggled.connect(self._on_mode_toggled)
        self.model_combo.activated.connect(self._on_model_activated)
        self._entries: list[ModelEntry] = []

    # --- values -------------------------------------------------------------------------
    def strength(self) -> float:
        return self.strength_slider.value() / 100.0

    def set_strength(self, value: float) -> None:
        self.strength_slider.setValue(round(value * 100))

    def set_exposure(self, ev: float) -> None:
        self.exposure.set_value(ev)

    def set_exposure_trained(self, trained: bool) -> None:
        """Say so when the loaded model was not trained for exposure (its input is then only scaled)."""
        self.exposure_note.setText("" if trained else
                                   "This model was not trained for exposure: the slider scales its input.")
        self.exposure_note.setVisible(not trained)

    def mode(self) -> str:
        return "full" if self.full_radio.isChecked() else "fast"

    def set_mode(self, mode: str) -> None:
        (self.full_radio if mode == "full" else self.fast_radio).setChecked(True)

    def set_models(self, entries: list[ModelEntry], current: Path | None) -> None:
        """Fill the picker; ``current`` is selected (None = bundled)."""
        self._entries = list(entries)
        self.model_combo.blockSignals(True)
        self.model_combo.clear()
        for entry in self._entries:
            self.model_combo.addItem(entry.label, str(entry.path) if entry.path else "")
            self.model_combo.setItemData(self.model_combo.count() - 1, str(entry.path or "bundled default"),
                                         Qt.ItemDataRole.ToolTipRole)
        self.model_combo.insertSeparator(self.model_combo.count())
        self.model_combo.addItem("Choose a .safetensors file…", BROWSE)
        index = next((i for i, e in enumerate(self._entries) if e.path == current), 0)
        self.model_combo.setCurrentIndex(index)
        self.model_combo.blockSignals(False)

    def set_model_info(self, text: str, *, error: bool = False) -> None:
        self.model_info.setText(text)
        self.model_info.setStyleSheet("color: #ff8a80;" if error else "color: #9aa3b2;")

    def set_device(self, text: str) -> None:
        self.device_label.setText(text)

    def show_model(self, description: str, file_name: str, device: str, exposure_trained: bool) -> None:
        """A model is ready: what it is, its file, where it runs, whether it knows exposure."""
        self.set_model_info(f"{description}\n{file_name}")
        self.set_device(device)
        self.set_exposure_trained(exposure_trained)

    def show_model_error(self, text: str) -> None:
        self.set_model_info(text, error=True)
        self.set_device("—")

    # --- slots --------------------------------------------------------------------------
    def _on_exposure_changed(self, ev: float) -> None:
        self.exposure_changed.emit(ev)
        self._exposure_timer.start()

    def _on_exposure_timer_timeout(self) -> None:
        self.exposure_settled.emit(self.exposure.value())

    def _on_slider_value_changed(self, value: int) -> None:
        self.strength_label.setText(f"{value} %")
        self.strength_changed.emit(value / 100.0)

    def _on_mode_toggled(self, button: QRadioButton, checked: bool) -> None:
        if checked:
            self.mode_changed.emit(self.mode())

    def _on_model_activated(self, index: int) -> None:
        data = self.model_combo.itemData(index)
        if data == BROWSE:
            self.browse_model_requested.emit()
            return
        self.model_chosen.emit(Path(data) if data else None)
