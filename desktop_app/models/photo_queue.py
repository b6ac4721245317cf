"""The list of dropped photos and the state of each one (a real ``QAbstractListModel``)."""

from __future__ import annotations

import enum
import logging
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from PySide6.QtCore import QAbstractListModel, QModelIndex, QPersistentModelIndex, Qt
from PySide6.QtGui import QImage

log = logging.getLogger(__name__)

Index = QModelIndex | QPersistentModelIndex


class PhotoState(enum.Enum):
    QUEUED = "queued"
    WORKING = "working"
    DONE = "done"
    FAILED = "failed"
    #: Stopped by the user (Esc): not a failure, and not retried by itself.
    CANCELLED = "cancelled"


@dataclass
class PhotoItem:
    """One photo of the queue."""

    path: Path
    state: PhotoState = PhotoState.QUEUED
    progress: float = 0.0
    error: str = ""
    thumbnail: QImage | None = None
    size: tuple[int, int] | None = None
    result: Any = None  # jobs.EnhanceResult once done
    saved_to: Path | None = None
    extra: dict[str, Any] = field(default_factory=dict)

    @property
    def status_text(self) -> str:
        if self.state is PhotoState.WORKING:
            return f"Working… {round(self.progress * 100)} %"
        if self.state is PhotoState.FAILED:
            return f"Failed: {self.error}"
        if self.state is PhotoState.CANCELLED:
            return "Cancelled"
        if self.state is PhotoState.DONE:
            return "Saved" if self.saved_to else "Done"
        return "Queued"


class PhotoQueueModel(QAbstractListModel):
    """Photos in the order they were added; views show name, thumbnail and state."""

    PathRole = Qt.ItemDataRole.UserRole + 1
    StateRole = Qt.ItemDataRole.UserRole + 2
    ProgressRole = Qt.ItemDataRole.UserRole + 3
    ErrorRole = Qt.ItemDataRole.UserRole + 4
    StatusTextRole = Qt.ItemDataRole.UserRole + 5

    def __init__(self, parent: Any = None) -> None:
        super().__init__(parent)
        self._items: list[PhotoItem] = []

    # --- Qt model API -------------------------------------------------------------------
    def rowCount(self, parent: Index = QModelIndex()) -> int:  # noqa: B008 - Qt signature
        return 0 if parent.isValid() else len(self._items)

    def data(self, index: Index, role: int = Qt.ItemDataRole.DisplayRole) -> Any:
        if not index.isValid() or not 0 <= index.row() < len(self._items):
            return None
        item = self._items[index.row()]
        if role == Qt.ItemDataRole.DisplayRole:
            return item.path.name
        if role == Qt.ItemDataRole.DecorationRole:
            return item.thumbnail
        if role == Qt.ItemDataRole.ToolTipRole:
            size = f"\n{item.size[0]} × {item.size[1]} px" if item.size else ""
            return f"{item.path}{size}\n{item.status_text}"
        if role == self.PathRole:
            return str(item.path)
        if role == self.StateRole:
            return item.state.value
        if role == self.ProgressRole:
            return item.progress
        if role == self.ErrorRole:
            return item.error
        if role == self.StatusTextRole:
            return item.status_text
        return None

    def roleNames(self) -> dict[int, bytes]:
        names = dict(super().roleNames())
        names.update({self.PathRole: b"path", self.StateRole: b"state", self.ProgressRole: b"progress",
                      self.ErrorRole: b"error", self.StatusTextRole: b"statusText"})
        return names

    def flags(self, index: Index) -> Qt.ItemFlag:
        if not index.isValid():
            return Qt.ItemFlag.NoItemFlags
        return Qt.ItemFlag.ItemIsEnabled | Qt.ItemFlag.ItemIsSelectable

    def removeRows(self, row: int, count: int, parent: Index = QModelIndex()) -> bool:  # noqa: B008
        if parent.isValid() or row < 0 or count <= 0 or row + count > len(self._items):
            return False
        self.beginRemoveRows(QModelIndex(), row, row + count - 1)
        del self._items[row:row + count]
        self.endRemoveRows()
        return True

    # --- queue API ----------------------------------------------------------------------
    def add_paths(self, paths: list[Path]) -> list[int]:
        """Append photos not already in the queue; returns the rows of the new ones."""
        known = {item.path for item in self._items}
        fresh: list[Path] = []
        for path in paths:
            path = Path(path).absolute()
            if path not in known:
                known.add(path)
                fresh.append(path)
        if not fresh:
            return []
        first = len(self._items)
        self.beginInsertRows(QModelIndex(), first, first + len(fresh) - 1)
        self._items.extend(PhotoItem(p) for p in fresh)
        self.endInsertRows()
        return list(range(first, first + len(fresh)))

    def item(self, row: int) -> PhotoItem:
        return self._items[row]

    def items(self) -> list[PhotoItem]:
        return list(self._items)

    def row_of(self, path: Path) -> int:
        """Row of ``path``, or -1."""
        path = Path(path).absolute()
        return next((i for i, item in enumerate(self._items) if item.path == path), -1)

    def next_queued(self, preferred: int = -1) -> int:
        """The row to work on next: ``preferred`` if queued, else the first queued row, else -1."""
        if 0 <= preferred < len(self._items) and self._items[preferred].state is PhotoState.QUEUED:
            return preferred
        return next((i for i, item in enumerate(self._items) if item.state is PhotoState.QUEUED), -1)

    def counts(self) -> dict[PhotoState, int]:
        out = {state: 0 for state in PhotoState}
        for item in self._items:
            out[item.state] += 1
        return out

    def set_state(self, row: int, state: PhotoState, *, progress: float | None = None, error: str = "") -> None:
        item = self._items[row]
        item.state = state
        item.error = error if state is PhotoState.FAILED else ""
        if progress is not None:
            item.progress = max(0.0, min(1.0, progress))
        elif state is PhotoState.QUEUED:
            item.progress = 0.0
        elif state is PhotoState.DONE:
            item.progress = 1.0
        self._changed(row)

    def set_progress(self, row: int, fraction: float) -> None:
        item = self._items[row]
        item.progress = max(0.0, min(1.0, fraction))
        self._changed(row, [self.ProgressRole, self.StatusTextRole, Qt.ItemDataRole.ToolTipRole])

    def set_thumbnail(self, row: int, image: QImage, size: tuple[int, int] | None = None) -> None:
        item = self._items[row]
        item.thumbnail = image
        if size is not None:
            item.size = size
        self._changed(row, [Qt.ItemDataRole.DecorationRole, Qt.ItemDataRole.ToolTipRole])

    def set_result(self, row: int, result: Any) -> None:
        self._items[row].result = result
        self.set_state(row, PhotoState.DONE)

    def set_saved(self, row: int, path: Path) -> None:
        self._items[row].saved_to = path
        self._changed(row)

    def _changed(self, row: int, roles: list[int] | None = None) -> None:
        index = self.index(row, 0)
        self.dataChanged.emit(index, index, roles or [])
