"""A small line chart drawn with QPainter (loss and validation-PSNR curves)."""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from PySide6.QtCore import QPointF, QRectF, QSize, Qt
from PySide6.QtGui import QColor, QFont, QPainter, QPainterPath, QPaintEvent, QPen
from PySide6.QtWidgets import QSizePolicy, QWidget


@dataclass
class Series:
    """Points (x, y) of one line; ``dashed`` lines are references (e.g. the input's PSNR)."""

    label: str
    color: str
    points: list[tuple[float, float]] = field(default_factory=list)
    width: float = 2.0
    dashed: bool = False
    markers: bool = False


def nice_step(span: float, ticks: int = 4) -> float:
    """A 1-2-5 step that splits ``span`` into about ``ticks`` intervals."""
    if span <= 0 or not math.isfinite(span):
        return 1.0
    raw = span / ticks
    power = 10 ** math.floor(math.log10(raw))
    for m in (1, 2, 5, 10):
        if raw <= m * power:
            return m * power
    return 10 * power


class CurvePlot(QWidget):
    """Plots :class:`Series` against epochs; the y range follows the data."""

    def __init__(self, title: str, y_label: str = "", parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.title = title
        self.y_label = y_label
        self.series: list[Series] = []
        self.x_max = 1.0
        self.setMinimumSize(240, 160)
        self.setSizePolicy(QSizePolicy.Policy.Expanding, QSizePolicy.Policy.Expanding)

    def sizeHint(self) -> QSize:  # noqa: N802
        return QSize(360, 200)

    def add_series(self, series: Series) -> Series:
        self.series.append(series)
        self.update()
        return series

    def set_x_max(self, x_max: float) -> None:
        self.x_max = max(1.0, float(x_max))
        self.update()

    def clear(self) -> None:
        for s in self.series:
            s.points.clear()
        self.update()

    def _ranges(self) -> tuple[float, float]:
        """The y range of the solid lines; dashed references only widen it when they are close."""
        ys = [y for s in self.series if not s.dashed for _, y in s.points if math.isfinite(y)]
        refs = [y for s in self.series if s.dashed for _, y in s.points if math.isfinite(y)]
        if ys and refs:
            span = max(max(ys) - min(ys), 1e-6)
            ys += [y for y in refs if min(ys) - 2 * span <= y <= max(ys) + 2 * span]
        elif refs:
            ys = refs
        if not ys:
            return 0.0, 1.0
        lo, hi = min(ys), max(ys)
        pad = (hi - lo) * 0.08 or max(abs(hi) * 0.05, 0.01)
        return lo - pad, hi + pad

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        p = QPainter(self)
        p.setRenderHint(QPainter.RenderHint.Antialiasing)
        pal = self.palette()
        text = pal.color(pal.ColorRole.WindowText)
        grid = QColor(text)
        grid.setAlpha(40)
        p.fillRect(self.rect(), pal.color(pal.ColorRole.Base))
        font = QFont(self.font())
        font.setPointSizeF(max(7.0, font.pointSizeF() * 0.85))
        p.setFont(font)
        fm = p.fontMetrics()
        left, top, right, bottom = fm.horizontalAdvance("00.000") + 10, fm.height() + 10, 10, fm.height() + 8
        plot = QRectF(left, top, max(10, self.width() - left - right), max(10, self.height() - top - bottom))

        title_font = QFont(font)
        title_font.setBold(True)
        p.setFont(title_font)
        p.setPen(text)
        title = f"{self.title} ({self.y_label})" if self.y_label else self.title
        p.drawText(QRectF(8, 2, self.width() - 16, fm.height() + 6), Qt.AlignmentFlag.AlignLeft
                   | Qt.AlignmentFlag.AlignVCenter, title)
        p.setFont(font)
        self._draw_legend(p, fm.height())

        y0, y1 = self._ranges()
        x0, x1 = 0.0, self.x_max

        def to_px(x: float, y: float) -> QPointF:
            return QPointF(plot.left() + (x - x0) / (x1 - x0) * plot.width(),
                           plot.bottom() - (y - y0) / (y1 - y0) * plot.height())

        # grid and tick labels
        step = nice_step(y1 - y0)
        decimals = max(0, -math.floor(math.log10(step))) if step < 1 else 0
        y = math.ceil(y0 / step) * step
        while y <= y1:
            pt = to_px(x0, y)
            p.setPen(QPen(grid, 1))
            p.drawLine(QPointF(plot.left(), pt.y()), QPointF(plot.right(), pt.y()))
            p.setPen(text)
            p.drawText(QRectF(0, pt.y() - fm.height() / 2, left - 6, fm.height()),
                       Qt.AlignmentFlag.AlignRight | Qt.AlignmentFlag.AlignVCenter, f"{y:.{decimals}f}")
            y += step
        xstep = max(1, int(nice_step(x1 - x0, 5)))
        for xi in range(0, int(x1) + 1, xstep):
            pt = to_px(xi, y0)
            p.setPen(text)
            p.drawText(QRectF(pt.x() - 20, plot.bottom() + 2, 40, fm.height()), Qt.AlignmentFlag.AlignHCenter, str(xi))
        p.setPen(QPen(grid, 1))
        p.drawRect(plot)

        p.setClipRect(plot.adjusted(-2, -2, 2, 2))
        for s in self.series:
            pts = [to_px(x, y) for x, y in s.points if math.isfinite(y)]
            if not pts:
                continue
            pen = QPen(QColor(s.color), s.width)
            if s.dashed:
                pen.setStyle(Qt.PenStyle.DashLine)
            p.setPen(pen)
            if len(pts) > 1:
                path = QPainterPath(pts[0])
                for pt in pts[1:]:
                    path.lineTo(pt)
                p.drawPath(path)
            if s.markers or len(pts) == 1:
                p.setBrush(QColor(s.color))
                for pt in pts:
                    p.drawEllipse(pt, 3, 3)
                p.setBrush(Qt.BrushStyle.NoBrush)
        p.end()

    def _draw_legend(self, p: QPainter, line_height: int) -> None:
        fm = p.fontMetrics()
        x = self.width() - 8
        for s in reversed(self.series):
            if not s.points:
                continue
            label = f"{s.label} {s.points[-1][1]:.2f}" if s.dashed else s.label
            w = fm.horizontalAdvance(label)
            x -= w
            p.setPen(self.palette().color(self.palette().ColorRole.WindowText))
            p.drawText(QRectF(x, 2, w, line_height + 6), Qt.AlignmentFlag.AlignVCenter, label)
            x -= 22
            pen = QPen(QColor(s.color), 2)
            if s.dashed:
                pen.setStyle(Qt.PenStyle.DashLine)
            p.setPen(pen)
            y = 2 + (line_height + 6) / 2
            p.drawLine(QPointF(x, y), QPointF(x + 16, y))
            x -= 12
