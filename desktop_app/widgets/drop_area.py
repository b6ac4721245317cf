"""Accept files and folders dropped (or pasted) anywhere on a window."""

from __future__ import annotations

import logging
from pathlib import Path

from PySide6.QtCore import QEvent, QMimeData, QObject, Qt, Signal
from PySide6.QtGui import QColor, QDragEnterEvent, QDropEvent, QPainter, QPaintEvent, QPen
from PySide6.QtWidgets import QWidget

log = logging.getLogger(__name__)


def paths_from_mime(mime: QMimeData | None) -> list[Path]:
    """Local files/folders named by ``mime`` (URLs, or plain text with one path per line)."""
    if mime is None:
        return []
    paths: list[Path] = []
    if mime.hasUrls():
        paths = [Path(url.toLocalFile()) for url in mime.urls() if url.isLocalFile()]
    elif mime.hasText():
        for line in mime.text().splitlines():
            line = line.strip().strip('"')
            if line.startswith("file://"):
                from PySide6.QtCore import QUrl

                line = QUrl(line).toLocalFile()
            if line and Path(line).exists():
                paths.append(Path(line))
    return [p for p in paths if str(p)]


class DropHighlight(QWidget):
    """A translucent frame drawn over the window while something is dragged over it."""

    def __init__(self, parent: QWidget) -> None:
        super().__init__(parent)
        self.setAttribute(Qt.WidgetAttribute.WA_TransparentForMouseEvents)
        self.hide()

    def paintEvent(self, event: QPaintEvent) -> None:  # noqa: N802
        painter = QPainter(self)
        painter.setRenderHint(QPainter.RenderHint.Antialiasing)
        painter.fillRect(self.rect(), QColor(90, 130, 255, 40))
        painter.setPen(QPen(QColor("#7f9cff"), 3, Qt.PenStyle.DashLine))
        painter.drawRoundedRect(self.rect().adjusted(6, 6, -6, -6), 12, 12)
        painter.setPen(QColor("#ffffff"))
        font = painter.font()
        font.setPointSizeF(font.pointSizeF() * 1.6)
        painter.setFont(font)
        painter.drawText(self.rect(), Qt.AlignmentFlag.AlignCenter, "Drop to enhance")


class DropHandler(QObject):
    """Event filter for a window: emits :attr:`paths_dropped` for dropped local files/folders."""

    paths_dropped = Signal(list)

    def __init__(self, window: QWidget) -> None:
        super().__init__(window)
        self._window = window
        self._highlight = DropHighlight(window)
        window.setAcceptDrops(True)
        window.installEventFilter(self)

    def eventFilter(self, watched: QObject, event: QEvent) -> bool:  # noqa: N802
        kind = event.type()
        if kind in (QEvent.Type.DragEnter, QEvent.Type.DragMove):
            assert isinstance(event, QDragEnterEvent | QDropEvent)
            if paths_from_mime(event.mimeData()):
                event.setDropAction(Qt.DropAction.CopyAction)
                event.accept()
                if kind == QEvent.Type.DragEnter:
                    self._show_highlight(True)
            else:
                event.ignore()
            return True
        if kind == QEvent.Type.DragLeave:
            self._show_highlight(False)
            return True
        if kind == QEvent.Type.Drop:
            assert isinstance(event, QDropEvent)
            self._show_highlight(False)
            paths = paths_from_mime(event.mimeData())
            if paths:
                event.setDropAction(Qt.DropAction.CopyAction)
                event.accept()
                log.info("dropped %d path(s)", len(paths))
                self.paths_dropped.emit(paths)
            else:
                event.ignore()
            return True
        return False

    def _show_highlight(self, on: bool) -> None:
        if on:
            self._highlight.setGeometry(self._window.rect())
            self._highlight.raise_()
            self._highlight.show()
        else:
            self._highlight.hide()
