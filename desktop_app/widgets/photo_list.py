"""The photo list: thumbnail, name, state and progress of each queued photo."""

from __future__ import annotations

from PySide6.QtCore import QModelIndex, QPersistentModelIndex, QRect, QSize, Qt
from PySide6.QtGui import QColor, QImage, QPainter
from PySide6.QtWidgets import (
    QAbstractItemView,
    QListView,
    QStyle,
    QStyledItemDelegate,
    QStyleOptionViewItem,
    QWidget,
)

from ..models.photo_queue import PhotoQueueModel

ROW_HEIGHT = 64
THUMB = 56
STATE_COLOURS = {
    "queued": QColor("#8c96a8"),
    "working": QColor("#7f9cff"),
    "done": QColor("#5fd38d"),
    "failed": QColor("#ff6b6b"),
}


class PhotoDelegate(QStyledItemDelegate):
    """Paints one row: thumbnail, file name, coloured state text and a thin progress bar."""

    def sizeHint(self, option: QStyleOptionViewItem, index: QModelIndex | QPersistentModelIndex) -> QSize:  # noqa: N802
        return QSize(220, ROW_HEIGHT)

    def paint(self, painter: QPainter, option: QStyleOptionViewItem,
              index: QModelIndex | QPersistentModelIndex) -> None:
        painter.save()
        rect: QRect = option.rect  # type: ignore[attr-defined]
        selected = bool(option.state & QStyle.StateFlag.State_Selected)  # type: ignore[attr-defined]
        painter.fillRect(rect, QColor("#2b3a5c") if selected else QColor("#1d2026"))
        thumb_rect = QRect(rect.left() + 6, rect.top() + (rect.height() - THUMB) // 2, THUMB, THUMB)
        painter.fillRect(thumb_rect, QColor("#101216"))
        thumb = index.data(Qt.ItemDataRole.DecorationRole)
        if isinstance(thumb, QImage) and not thumb.isNull():
            scaled = thumb.scaled(THUMB, THUMB, Qt.AspectRatioMode.KeepAspectRatio,
                                  Qt.TransformationMode.SmoothTransformation)
            painter.drawImage(thumb_rect.left() + (THUMB - scaled.width()) // 2,
                              thumb_rect.top() + (THUMB - scaled.height()) // 2, scaled)
        text_left = thumb_rect.right() + 10
        text_rect = QRect(text_left, rect.top() + 8, rect.right() - text_left - 6, 20)
        painter.setPen(QColor("#eef1f6"))
        metrics = painter.fontMetrics()
        name = metrics.elidedText(str(index.data(Qt.ItemDataRole.DisplayRole)), Qt.TextElideMode.ElideMiddle,
                                  text_rect.width())
        painter.drawText(text_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter, name)
        state = str(index.data(PhotoQueueModel.StateRole))
        status = str(index.data(PhotoQueueModel.StatusTextRole))
        status_rect = QRect(text_left, rect.top() + 30, text_rect.width(), 18)
        painter.setPen(STATE_COLOURS.get(state, QColor("#8c96a8")))
        painter.drawText(status_rect, Qt.AlignmentFlag.AlignLeft | Qt.AlignmentFlag.AlignVCenter,
                         metrics.elidedText(status, Qt.TextElideMode.ElideRight, status_rect.width()))
        if state == "working":
            fraction = float(index.data(PhotoQueueModel.ProgressRole) or 0.0)
            bar = QRect(text_left, rect.bottom() - 8, text_rect.width(), 3)
            painter.fillRect(bar, QColor("#343946"))
            painter.fillRect(QRect(bar.left(), bar.top(), int(bar.width() * fraction), bar.height()),
                             STATE_COLOURS["working"])
        painter.restore()


class PhotoListView(QListView):
    """A list view set up for the photo queue."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.setItemDelegate(PhotoDelegate(self))
        self.setSelectionMode(QAbstractItemView.SelectionMode.ExtendedSelection)
        self.setUniformItemSizes(True)
        self.setVerticalScrollMode(QAbstractItemView.ScrollMode.ScrollPerPixel)
        self.setMinimumWidth(200)
        self.setStyleSheet("QListView { background: #1d2026; border: none; }")
