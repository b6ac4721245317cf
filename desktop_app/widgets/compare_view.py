"""Before/after viewer: one photo, original left of a draggable divider, enhanced right.

Both sides are cut from the same source rectangle and drawn into the same target
rectangle, so they are always aligned at every zoom and pan. Sources are uint8 arrays: a
display-size preview (used up to its own resolution) and optional full-resolution arrays
(used when zoomed in further, cropped to what is visible). The strength blend happens here,
on whichever of those small arrays is drawn, so moving the strength slider never re-runs
the network.
"""

from __future__ import annotations

import enum
import logging
import math

import numpy as np
from PySide6.QtCore import QPointF, QRectF, QSize, Qt, Signal
from PySide6.QtGui import (
    QColor,
    QFont,
    QImage,
    QKeyEvent,
    QMouseEvent,
    QPainter,
    QPainterPath,
    QPaintEvent,
    QPen,
    QResizeEvent,
    QWheelEvent,
)
from PySide6.QtWidgets import QSizePolicy, QWidget

from ..imaging import blend_uint8, qimage_from_rgb, shrink
from ..resources import icon

log = logging.getLogger(__name__)

MIN_SCALE = 0.02
MAX_SCALE = 16.0
WHEEL_STEP = 1.25
HANDLE_GRAB_PX = 10


Levels = np.ndarray | list[np.ndarray]


def _as_levels(images: Levels | None) -> list[np.ndarray]:
    if images is None:
        return []
    return [images] if isinstance(images, np.ndarray) else list(images)


class CompareMode(enum.Enum):
    SPLIT = "split"
    BEFORE = "before"
    AFTER = "after"


class CompareView(QWidget):
    """Paints a before/after pair with zoom, pan and a split divider."""

    split_changed = Signal(float)
    zoom_changed = Signal(float)  # scale: displayed pixels per image pixel
    mode_changed = Signal(str)

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)
        self.setFocusPolicy(Qt.FocusPolicy.StrongFocus)
        self.setMouseTracking(True)
        self.setMinimumSize(240, 180)
        self._before_levels: list[np.ndarray] = []
        self._after_levels: list[np.ndarray] = []
        self._size = (0, 0)  # full-resolution (w, h)
        self._strength = 1.0
        self._split = 0.5  # fraction of the widget width
        self._mode = CompareMode.SPLIT
        self._mode_before_toggle = CompareMode.SPLIT
        self._fit = True
        self._scale = 1.0
        self._center = QPointF(0, 0)  # image coordinates at the widget centre
        self._drag: str | None = None  # "split" | "pan"
        self._drag_origin = QPointF()
        self._drag_center = QPointF()
        self._geometry_key: tuple | None = None
        self._geometry: tuple[np.ndarray, np.ndarray | None, QRectF] | None = None
        self._cache_key: tuple | None = None
        self._cache: tuple[QImage | None, QImage | None, QRectF] | None = None
        self._message = ""
        self._overlay = ""

    # --- content ------------------------------------------------------------------------
    def set_images(
        self,
        before: Levels | None,
        after: Levels | None = None,
        *,
        size: tuple[int, int] | None = None,
        before_full: np.ndarray | None = None,
        after_full: np.ndarray | None = None,
        keep_view: bool = False,
    ) -> None:
        """Show a photo. ``before``/``after`` are uint8 arrays or pyramids (largest first);
        ``after=None`` shows only the original (not enhanced yet). ``size`` is the photo's
        full resolution; ``*_full`` are full-resolution arrays for zooming past the previews.
        """
        before_levels = _as_levels(before)
        after_levels = _as_levels(after)
        new_size = size if size is not None else (
            (before_levels[0].shape[1], before_levels[0].shape[0]) if before_levels else (0, 0))
        same_photo = keep_view and before_levels and new_size == self._size
        bigger = before_full is not None and bool(before_levels) and before_full.shape[1] > before_levels[0].shape[1]
        if bigger and (not after_levels or after_full is not None):
            before_levels = [before_full, *before_levels]
            if after_levels:
                after_levels = [after_full, *after_levels]
        self._before_levels = before_levels
        self._after_levels = after_levels if len(after_levels) == len(before_levels) else []
        self._size = new_size if before_levels else (0, 0)
        if not same_photo:
            self._fit = True
        self._invalidate()

    def clear(self) -> None:
        self.set_images(None)

    def has_image(self) -> bool:
        return bool(self._before_levels)

    def has_result(self) -> bool:
        return bool(self._after_levels)

    def set_strength(self, strength: float) -> None:
        strength = max(0.0, min(1.0, float(strength)))
        if strength != self._strength:
            self._strength = strength
            self._cache_key = None  # re-blend the cached display crops only
            self.update()

    @property
    def strength(self) -> float:
        return self._strength

    def set_message(self, text: str) -> None:
        """Centre text when there is no photo (e.g. "Drop photos here")."""
        self._message = text
        self.update()

    def set_overlay(self, text: str) -> None:
        """A small status pill over the photo (e.g. "Enhancing… 40 %"); "" hides it."""
        if text != self._overlay:
            self._overlay = text
            self.update()

    # --- split / mode -------------------------------------------------------------------
    @property
    def split(self) -> float:
        return self._split

    def set_split(self, fraction: float) -> None:
        fraction = max(0.0, min(1.0, float(fraction)))
        if fraction != self._split:
            self._split = fraction
            self.split_changed.emit(fraction)
            self.update()

    @property
    def mode(self) -> CompareMode:
        return self._mode

    def set_mode(self, mode: CompareMode | str) -> None:
        mode = CompareMode(mode)
        if mode is not self._mode:
            self._mode = mode
            self.mode_changed.emit(mode.value)
            self.update()

    def toggle_before(self) -> None:
        """Whole-image before/after toggle (key B)."""
        if self._mode is CompareMode.BEFORE:
            back = self._mode_before_toggle
            self.set_mode(CompareMode.AFTER if back is CompareMode.BEFORE else back)
        else:
            self._mode_before_toggle = self._mode
            self.set_mode(CompareMode.BEFORE)

    # --- zoom / pan ---------------------------------------------------------------------
    @property
    def scale(self) -> float:
        return self._scale

    @property
    def is_fit(self) -> bool:
        return self._fit

    def fit_scale(self) -> float:
        w, h = self._size
        if not w or not h:
            return 1.0
        return min(self.width() / w, self.height() / h)

    def zoom_fit(self) -> None:
        self._fit = True
        self._apply_fit()
        self.update()

    def zoom_to(self, scale: float, anchor: QPointF | None = None) -> None:
        """Zoom to ``scale`` keeping the image point under ``anchor`` (widget coords) in place."""
        if not self.has_image():
            return
        scale = max(min(self.fit_scale(), 1.0) * 0.5, MIN_SCALE, min(MAX_SCALE, scale))
        anchor = anchor if anchor is not None else QPointF(self.width() / 2, self.height() / 2)
        image_point = self.widget_to_image(anchor)
        self._fit = False
        self._scale = scale
        # keep image_point under anchor
        self._center = QPointF(
            image_point.x() - (anchor.x() - self.width() / 2) / scale,
            image_point.y() - (anchor.y() - self.height() / 2) / scale,
        )
        self._clamp_center()
        self.zoom_changed.emit(self._scale)
        self.update()

    def zoom_actual(self) -> None:
        """100 %: one image pixel per screen pixel."""
        self.zoom_to(1.0 / max(self.devicePixelRatioF(), 1.0) if self.devicePixelRatioF() > 1 else 1.0)

    def zoom_in(self) -> None:
        self.zoom_to(self._scale * WHEEL_STEP)

    def zoom_out(self) -> None:
        self.zoom_to(self._scale / WHEEL_STEP)

    def pan_by(self, dx: float, dy: float) -> None:
        """Move the photo by (dx, dy) widget pixels."""
        self._center = QPointF(self._center.x() - dx / self._scale, self._center.y() - dy / self._scale)
        self._clamp_center()
        self.update()

    @property
    def center(self) -> QPointF:
        return QPointF(self._center)

    def widget_to_image(self, p: QPointF) -> QPointF:
        return QPointF(
            self._center.x() + (p.x() - self.width() / 2) / self._scale,
            self._center.y() + (p.y() - self.height() / 2) / self._scale,
        )

    def image_rect(self) -> QRectF:
        """Where the whole photo lies in widget coordinates."""
        w, h = self._size
        left = self.width() / 2 - self._center.x() * self._scale
        top = self.height() / 2 - self._center.y() * self._scale
        return QRectF(left, top, w * self._scale, h * self._scale)

    def divider_x(self) -> float:
        return self._split * self.width()

    def _apply_fit(self) -> None:
        w, h = self._size
        if w and h:
            self._scale = self.fit_scale()
            self._center = QPointF(w / 2, h / 2)
            self.zoom_changed.emit(self._scale)

    def _clamp_center(self) -> None:
        w, h = self._size
        half_w = self.width() / 2 / self._scale
        half_h = self.height() / 2 / self._scale
        cx = w / 2 if half_w * 2 >= w else min(max(self._center.x(), half_w), w - half_w)
        cy = h / 2 if half_h * 2 >= h else min(max(self._center.y(), half_h), h - half_h)
        self._center = QPointF(cx, cy)

    # --- rendering ----------------------------------------------------------------------
    def _invalidate(self) -> None:
        self._geometry_key = self._geometry = None
        self._cache_key = self._cache = None
        if self._fit:
            self._apply_fit()
        else:
            self._clamp_center()
        self.update()

    def _pick_level(self) -> int:
        """Index of the smallest pyramid level still at least as detailed as the screen."""
        full_w = max(self._size[0], 1)
        best = 0
        for i, level in enumerate(self._before_levels):
            if level.shape[1] / full_w >= self._scale * 0.999:
                best = i
        return best

    def _crops(self) -> tuple[np.ndarray, np.ndarray | None, QRectF] | None:
        """Visible part of both photos at screen size (cached per geometry, not per strength)."""
        index = self._pick_level()
        before = self._before_levels[index]
        after = self._after_levels[index] if self._after_levels else None
        level = before.shape[1] / max(self._size[0], 1)
        img = self.image_rect()
        visible = img.intersected(QRectF(0, 0, self.width(), self.height()))
        f = level / self._scale  # source pixels per widget pixel
        x0 = max(0, math.floor((visible.left() - img.left()) * f))
        y0 = max(0, math.floor((visible.top() - img.top()) * f))
        x1 = min(before.shape[1], math.ceil((visible.right() - img.left()) * f))
        y1 = min(before.shape[0], math.ceil((visible.bottom() - img.top()) * f))
        if x1 <= x0 or y1 <= y0:
            return None
        target = QRectF(img.left() + x0 / f, img.top() + y0 / f, (x1 - x0) / f, (y1 - y0) / f)
        out_w, out_h = max(1, round(target.width())), max(1, round(target.height()))
        key = (index, id(before), id(after), x0, y0, x1, y1, out_w, out_h)
        if key != self._geometry_key or self._geometry is None:
            crop_b = before[y0:y1, x0:x1]
            crop_a = after[y0:y1, x0:x1] if after is not None else None
            if out_w < crop_b.shape[1]:  # shrink here so the painter only blits
                crop_b = shrink(crop_b, out_w, out_h)
                crop_a = shrink(crop_a, out_w, out_h) if crop_a is not None else None
            self._geometry_key = key
            self._geometry = (np.ascontiguousarray(crop_b),
                              np.ascontiguousarray(crop_a) if crop_a is not None else None, target)
            self._cache_key = None
        return self._geometry

    def _render(self) -> tuple[QImage | None, QImage | None, QRectF]:
        """Images of the visible part (before, blended after) and the widget rectangle they fill."""
        crops = self._crops()
        if crops is None:
            return None, None, QRectF()
        key = (self._geometry_key, self._strength)
        if key != self._cache_key or self._cache is None:
            crop_b, crop_a, target = crops
            img_b = qimage_from_rgb(crop_b)
            img_a = qimage_from_rgb(blend_uint8(crop_b, crop_a, self._strength)) if crop_a is not None else None
            self._cache_key = key
            self._cache = (img_b, img_a, target)
        return self._cache

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802 - Qt name
        painter = QPainter(self)
        painter.fillRect(self.rect(), QColor("#16181d"))
        if not self.has_image():
            self._paint_empty(painter)
            return
        before, after, target = self._render()
        # smooth while scaling modestly; nearest from 200 % on (pixel peeping)
        painter.setRenderHint(QPainter.RenderHint.SmoothPixmapTransform, self._scale < 2.0)
        show_after = after is not None
        x = self.divider_x()
        if before is not None:
            if self._mode is CompareMode.BEFORE or not show_after:
                painter.drawImage(target, before)
            elif self._mode is CompareMode.AFTER:
                painter.drawImage(target, after)
            else:
                painter.save()
                painter.setClipRect(QRectF(0, 0, x, self.height()))
                painter.drawImage(target, before)
                painter.setClipRect(QRectF(x, 0, self.width() - x, self.height()))
                painter.drawImage(target, after)
                painter.restore()
        painter.setRenderHint(QPainter.RenderHint.Antialiasing, True)
        if show_after and self._mode is CompareMode.SPLIT:
            self._paint_divider(painter, x)
            self._paint_label(painter, "Before", left=True)
            self._paint_label(painter, "After", left=False)
        elif show_after:
            self._paint_label(painter, "Before" if self._mode is CompareMode.BEFORE else "After", left=True)
        if self._overlay:
            self._paint_overlay(painter)
        painter.end()

    def _paint_empty(self, painter: QPainter) -> None:
        pix = icon("drop").pixmap(QSize(96, 96))
        cx, cy = self.width() / 2, self.height() / 2
        painter.drawPixmap(int(cx - 48), int(cy - 90), pix)
        painter.setPen(QColor("#9aa3b2"))
        font = QFont(self.font())
        font.setPointSizeF(font.pointSizeF() * 1.25)
        painter.setFont(font)
        text = self._message or "Drop dark photos or folders here"
        painter.drawText(QRectF(0, cy + 12, self.width(), 60), Qt.AlignmentFlag.AlignHCenter, text)

    def _photo_band(self) -> tuple[float, float]:
        """Top and bottom of the photo on screen (clipped to the widget)."""
        r = self.image_rect()
        return max(0.0, r.top()), min(float(self.height()), r.bottom())

    def _paint_divider(self, painter: QPainter, x: float) -> None:
        top, bottom = self._photo_band()
        painter.setPen(QPen(QColor(0, 0, 0, 90), 3))
        painter.drawLine(QPointF(x, top), QPointF(x, bottom))
        painter.setPen(QPen(QColor("#f4f6fa"), 1.5))
        painter.drawLine(QPointF(x, top), QPointF(x, bottom))
        cy = (top + bottom) / 2
        painter.setBrush(QColor(24, 26, 32, 220))
        painter.drawEllipse(QPointF(x, cy), 16, 16)
        painter.setBrush(QColor("#f4f6fa"))
        painter.setPen(Qt.PenStyle.NoPen)
        for sign in (-1, 1):
            path = QPainterPath()
            path.moveTo(x + sign * 11, cy)
            path.lineTo(x + sign * 4, cy - 6)
            path.lineTo(x + sign * 4, cy + 6)
            path.closeSubpath()
            painter.drawPath(path)

    def _paint_label(self, painter: QPainter, text: str, *, left: bool) -> None:
        metrics = painter.fontMetrics()
        w = metrics.horizontalAdvance(text) + 16
        h = metrics.height() + 6
        r = self.image_rect()
        top = max(0.0, r.top()) + 10
        left_x = max(0.0, r.left()) + 10
        right_x = min(float(self.width()), r.right()) - w - 10
        rect = QRectF(left_x, top, w, h) if left else QRectF(right_x, top, w, h)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(0, 0, 0, 150))
        painter.drawRoundedRect(rect, h / 2, h / 2)
        painter.setPen(QColor("#f4f6fa"))
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, text)

    def _paint_overlay(self, painter: QPainter) -> None:
        metrics = painter.fontMetrics()
        w = metrics.horizontalAdvance(self._overlay) + 28
        h = metrics.height() + 12
        rect = QRectF((self.width() - w) / 2, self.height() - h - 18, w, h)
        painter.setPen(Qt.PenStyle.NoPen)
        painter.setBrush(QColor(20, 22, 28, 210))
        painter.drawRoundedRect(rect, h / 2, h / 2)
        painter.setPen(QColor("#f4f6fa"))
        painter.drawText(rect, Qt.AlignmentFlag.AlignCenter, self._overlay)

    # --- input --------------------------------------------------------------------------
    def _near_divider(self, x: float) -> bool:
        return (self._mode is CompareMode.SPLIT and self.has_result()
                and abs(x - self.divider_x()) <= HANDLE_GRAB_PX)

    def _can_pan(self) -> bool:
        r = self.image_rect()
        return r.width() > self.width() + 0.5 or r.height() > self.height() + 0.5

    def mousePressEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        pos = event.position()
        if event.button() == Qt.MouseButton.LeftButton and self._near_divider(pos.x()):
            self._drag = "split"
        elif event.button() in (Qt.MouseButton.LeftButton, Qt.MouseButton.MiddleButton) and self._can_pan():
            self._drag = "pan"
            self._drag_origin = pos
            self._drag_center = QPointF(self._center)
            self.setCursor(Qt.CursorShape.ClosedHandCursor)
        elif event.button() == Qt.MouseButton.LeftButton and self._mode is CompareMode.SPLIT and self.has_result():
            self._drag = "split"  # click anywhere moves the divider there
            self.set_split(pos.x() / max(self.width(), 1))
        else:
            super().mousePressEvent(event)
            return
        event.accept()

    def mouseMoveEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        pos = event.position()
        if self._drag == "split":
            self.set_split(pos.x() / max(self.width(), 1))
        elif self._drag == "pan":
            delta = pos - self._drag_origin
            self._center = QPointF(self._drag_center.x() - delta.x() / self._scale,
                                   self._drag_center.y() - delta.y() / self._scale)
            self._clamp_center()
            self.update()
        elif self._near_divider(pos.x()):
            self.setCursor(Qt.CursorShape.SplitHCursor)
        elif self._can_pan():
            self.setCursor(Qt.CursorShape.OpenHandCursor)
        else:
            self.unsetCursor()
        event.accept()

    def mouseReleaseEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        self._drag = None
        self.unsetCursor()
        event.accept()

    def mouseDoubleClickEvent(self, event: QMouseEvent) -> None:  # noqa: N802
        if not self.has_image():
            return
        if self._fit:
            self.zoom_to(1.0, event.position())
        else:
            self.zoom_fit()
        event.accept()

    def wheelEvent(self, event: QWheelEvent) -> None:  # noqa: N802
        steps = event.angleDelta().y() / 120.0
        if not self.has_image() or not steps:
            event.ignore()
            return
        self.zoom_to(self._scale * WHEEL_STEP**steps, event.position())
        event.accept()

    def keyPressEvent(self, event: QKeyEvent) -> None:  # noqa: N802
        key = event.key()
        step = 60.0
        if key == Qt.Key.Key_B and not event.isAutoRepeat():
            self.toggle_before()
        elif key == Qt.Key.Key_Left:
            self.pan_by(step, 0)
        elif key == Qt.Key.Key_Right:
            self.pan_by(-step, 0)
        elif key == Qt.Key.Key_Up:
            self.pan_by(0, step)
        elif key == Qt.Key.Key_Down:
            self.pan_by(0, -step)
        else:
            super().keyPressEvent(event)
            return
        event.accept()

    def resizeEvent(self, event: QResizeEvent) -> None:  # noqa: N802
        if self._fit:
            self._apply_fit()
        else:
            self._clamp_center()
        super().resizeEvent(event)
