"""The Exposure slider: labels, double-click reset, re-enhancement at the new EV, save, batch, old models."""

from __future__ import annotations

from pathlib import Path

import numpy as np
from app_helpers import StubEngine, make_photo, wait_idle
from PIL import Image
from PySide6.QtCore import QPointF, Qt
from PySide6.QtGui import QMouseEvent
from PySide6.QtWidgets import QApplication

from desktop_app.batch_dialog import BatchDialog
from desktop_app.jobs import ExportOptions
from desktop_app.settings import AppSettings, load_settings, open_store
from desktop_app.widgets.controls import ExposureSlider, exposure_text
from desktop_app.workers import JobRunner


def _double_click(widget) -> None:  # type: ignore[no-untyped-def]
    pos = QPointF(widget.width() / 2, widget.height() / 2)
    event = QMouseEvent(QMouseEvent.Type.MouseButtonDblClick, pos, widget.mapToGlobal(pos),
                        Qt.MouseButton.LeftButton, Qt.MouseButton.LeftButton, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, event)


def test_slider_is_labelled_in_stops_and_double_click_resets(qtbot) -> None:
    slider = ExposureSlider()
    qtbot.addWidget(slider)
    slider.show()
    assert slider.label.text() == "Auto"
    with qtbot.waitSignal(slider.exposure_changed) as changed:
        slider.set_value(1.3)
    assert changed.args == [1.3] and slider.label.text() == "+1.3 EV"
    slider.set_value(-7)  # clamped to the range
    assert slider.value() == -3.0 and slider.label.text() == "-3.0 EV"
    _double_click(slider.slider)
    assert slider.value() == 0.0 and slider.label.text() == "Auto"
    slider.set_value(2)
    _double_click(slider.label)
    assert slider.value() == 0.0
    assert exposure_text(0.01) == "Auto" and exposure_text(-0.5) == "-0.5 EV"


def test_moving_the_slider_reenhances_at_that_exposure(qtbot, make_window, tmp_path: Path) -> None:
    engine = StubEngine()
    window = make_window(engine)
    window.add_paths([make_photo(tmp_path / "dark.jpg")])
    wait_idle(qtbot, window)
    assert engine.exposures == [0.0]
    before = window.queue.item(0).result.after_full.mean()
    window.controls.exposure.set_value(1.0)
    qtbot.waitUntil(lambda: engine.exposures[-1] == 1.0, timeout=10000)
    wait_idle(qtbot, window)
    result = window.queue.item(0).result
    assert result.exposure == 1.0 and result.after_full.mean() > before
    # The photo was not decoded again for the new exposure: the earlier source was reused.
    assert engine.calls == 2


def test_save_uses_the_current_exposure(qtbot, make_window, tmp_path: Path) -> None:
    engine = StubEngine()
    window = make_window(engine)
    photo = make_photo(tmp_path / "dark.png")
    window.add_paths([photo])
    wait_idle(qtbot, window)
    low = tmp_path / "low.png"
    window.save_row(0, low, ExportOptions(fmt="png"))
    qtbot.waitUntil(low.exists, timeout=10000)
    # The slider moved but the save comes before the re-enhancement finished: it still uses the new EV.
    window.settings.exposure = 2.0
    high = tmp_path / "high.png"
    window.save_row(0, high, ExportOptions(fmt="png"))
    qtbot.waitUntil(high.exists, timeout=10000)
    wait_idle(qtbot, window)
    assert 2.0 in engine.exposures
    a = np.asarray(Image.open(low), np.float32).mean()
    b = np.asarray(Image.open(high), np.float32).mean()
    assert b > a


def test_exposure_is_remembered(qtbot, make_window, tmp_path: Path) -> None:
    settings_path = tmp_path / "s.ini"
    window = make_window(settings_path=settings_path)
    window.controls.exposure.set_value(-1.5)
    window.persist_settings()
    assert load_settings(open_store(settings_path)).exposure == -1.5
    again = make_window(settings_path=settings_path)
    assert again.controls.exposure.value() == -1.5


def test_old_model_says_exposure_scales_its_input(qtbot, make_window) -> None:
    engine = StubEngine()
    engine.exposure_is_trained = False
    window = make_window(engine)
    qtbot.waitUntil(lambda: window.engine is not None, timeout=10000)
    assert not window.controls.exposure_note.isHidden()
    assert "scales its input" in window.controls.exposure_note.text()
    trained = StubEngine()
    trained.exposure_is_trained = True
    other = make_window(trained)
    qtbot.waitUntil(lambda: other.engine is not None, timeout=10000)
    assert other.controls.exposure_note.isHidden()


def test_batch_dialog_has_the_exposure_and_uses_it(qtbot, tmp_path: Path) -> None:
    folder = tmp_path / "in"
    for i in range(2):
        make_photo(folder / f"p{i}.png", seed=i)
    engine = StubEngine()
    dialog = BatchDialog(AppSettings(batch_input_dir=str(folder), batch_output_dir=str(tmp_path / "out"),
                                     exposure=0.7), JobRunner(), engine)
    qtbot.addWidget(dialog)
    dialog.show()
    assert dialog.exposure.value() == 0.7
    dialog.exposure.set_value(-1.0)
    assert dialog.options().exposure == -1.0
    with qtbot.waitSignal(dialog.batch_finished, timeout=20000):
        dialog.start_button.click()
    assert engine.exposures == [-1.0, -1.0]
