"""CompareView: divider drag, zoom, pan, before/after toggle, strength blend, alignment."""

from __future__ import annotations

import numpy as np
import pytest
from PySide6.QtCore import QEvent, QPoint, QPointF, Qt
from PySide6.QtGui import QMouseEvent, QWheelEvent
from PySide6.QtWidgets import QApplication

from desktop_app.widgets.compare_view import CompareMode, CompareView


def _pair(w: int = 400, h: int = 300) -> tuple[np.ndarray, np.ndarray]:
    before = np.full((h, w, 3), 20, np.uint8)
    after = np.full((h, w, 3), 220, np.uint8)
    return before, after


@pytest.fixture
def view(qtbot) -> CompareView:
    widget = CompareView()
    qtbot.addWidget(widget)
    widget.resize(400, 300)
    widget.show()
    qtbot.waitExposed(widget)
    before, after = _pair()
    widget.set_images(before, after)
    return widget


def _mouse(widget, kind: QEvent.Type, x: float, y: float, button=Qt.MouseButton.LeftButton) -> None:
    buttons = Qt.MouseButton.NoButton if kind == QEvent.Type.MouseButtonRelease else button
    pos = QPointF(x, y)
    event = QMouseEvent(kind, pos, widget.mapToGlobal(pos), button if kind != QEvent.Type.MouseMove
                        else Qt.MouseButton.NoButton, buttons, Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(widget, event)


def test_divider_drag_changes_split(qtbot, view: CompareView) -> None:
    assert view.split == 0.5
    x = view.divider_x()
    with qtbot.waitSignal(view.split_changed):
        _mouse(view, QEvent.Type.MouseButtonPress, x, 150)
        _mouse(view, QEvent.Type.MouseMove, 100, 150)
        _mouse(view, QEvent.Type.MouseButtonRelease, 100, 150)
    assert view.split == pytest.approx(100 / view.width())
    # pixels left of the divider show the original, right of it the enhanced photo
    grab = view.grab().toImage()
    assert grab.pixelColor(60, 200).red() < 60
    assert grab.pixelColor(300, 200).red() > 180


def test_before_toggle_key(qtbot, view: CompareView) -> None:
    qtbot.keyClick(view, Qt.Key.Key_B)
    assert view.mode is CompareMode.BEFORE
    assert view.grab().toImage().pixelColor(300, 200).red() < 60
    qtbot.keyClick(view, Qt.Key.Key_B)
    assert view.mode is CompareMode.SPLIT


def test_strength_blends_display_copy(qtbot, view: CompareView) -> None:
    view.set_mode(CompareMode.AFTER)
    view.set_strength(0.5)
    red = view.grab().toImage().pixelColor(200, 150).red()
    assert red == pytest.approx(120, abs=3)


def test_fit_actual_wheel_and_pan(qtbot, view: CompareView) -> None:
    view.set_images(*_pair(1600, 1200), size=(1600, 1200))
    assert view.is_fit and view.scale == pytest.approx(0.25)
    view.zoom_actual()
    assert view.scale == pytest.approx(1.0) and not view.is_fit
    centre = view.center
    view.pan_by(100, 50)
    assert view.center.x() == pytest.approx(centre.x() - 100)
    assert view.center.y() == pytest.approx(centre.y() - 50)
    view.zoom_fit()
    pos = QPointF(100, 100)
    wheel = QWheelEvent(pos, view.mapToGlobal(pos), QPoint(0, 0), QPoint(0, 120), Qt.MouseButton.NoButton,
                        Qt.KeyboardModifier.NoModifier, Qt.ScrollPhase.NoScrollPhase, False)
    image_point = view.widget_to_image(pos)
    QApplication.sendEvent(view, wheel)
    assert view.scale == pytest.approx(0.25 * 1.25)
    after = view.widget_to_image(pos)  # the point under the cursor stays put
    assert (after.x(), after.y()) == pytest.approx((image_point.x(), image_point.y()), abs=0.5)


def test_sides_stay_aligned_when_zoomed(qtbot, view: CompareView) -> None:
    rng = np.random.default_rng(0)
    full = (rng.random((600, 800, 3)) * 255).astype(np.uint8)
    preview = full[::2, ::2].copy()
    view.set_images(preview, preview.copy(), size=(800, 600), before_full=full, after_full=full.copy())
    view.set_strength(1.0)
    for zoom in (view.fit_scale(), 1.0, 3.0):
        view.zoom_to(zoom, QPointF(123, 77))
        view.set_mode(CompareMode.SPLIT)
        split = view.grab().toImage()
        view.set_mode(CompareMode.BEFORE)
        whole = view.grab().toImage()
        # same content on both sides => the split view equals the whole photo away from the divider
        y = view.height() - 40
        xs = [x for x in range(0, view.width(), 7) if abs(x - view.divider_x()) > 20]
        assert [split.pixelColor(x, y) for x in xs] == [whole.pixelColor(x, y) for x in xs]
