"""The photo viewer: the before/after view under its toolbar, and what it shows for a queue item."""

from __future__ import annotations

from PySide6.QtGui import QAction
from PySide6.QtWidgets import QLabel, QToolBar, QVBoxLayout, QWidget

from ..jobs import QuickPreview
from ..models.photo_queue import PhotoItem, PhotoState
from .compare_view import CompareView


def overlay_text(item: PhotoItem, has_model: bool) -> str:
    """The status pill over a photo: progress, failure, cancelled, waiting; "" when done."""
    return {PhotoState.WORKING: f"Enhancing… {round(item.progress * 100)} %",
            PhotoState.FAILED: f"Failed: {item.error}", PhotoState.CANCELLED: "Cancelled",
            PhotoState.QUEUED: "Queued" if has_model else "Waiting for a model"}.get(item.state, "")


class PhotoViewer(QWidget):
    """:class:`CompareView` with a toolbar of view actions and the zoom level."""

    def __init__(self, parent: QWidget | None = None) -> None:
        super().__init__(parent)
        self.view = CompareView()
        self.bar = QToolBar("View")
        self.bar.setMovable(False)
        self.zoom_label = QLabel("")
        self.zoom_label.setMinimumWidth(52)
        layout = QVBoxLayout(self)
        layout.setContentsMargins(0, 0, 0, 0)
        layout.setSpacing(0)
        layout.addWidget(self.bar)
        layout.addWidget(self.view, 1)
        self.view.zoom_changed.connect(self._on_view_zoom_changed)

    def add_actions(self, zoom: list[QAction], toggles: list[QAction]) -> None:
        """Zoom actions, then the zoom level, then the split / before toggles."""
        self.bar.addActions(zoom)
        self.bar.addWidget(self.zoom_label)
        self.bar.addSeparator()
        self.bar.addActions(toggles)

    def show_item(self, item: PhotoItem | None, *, has_model: bool, keep_view: bool = False) -> None:
        """The result of ``item``, else its (quick) preview, else a message; None: nothing."""
        if item is None:
            self.view.clear()
            self.view.set_overlay("")
            return
        result = item.result
        preview = item.extra.get("preview")
        if result is not None:
            self.view.set_images(result.before_levels, result.after_levels, size=result.size,
                                 before_full=result.before_full, after_full=result.after_full, keep_view=keep_view)
        elif preview is not None:
            self.view.set_images(preview.preview, getattr(preview, "enhanced", None),
                                 size=(preview.width, preview.height), keep_view=keep_view)
        else:
            self.view.clear()
            if item.state is PhotoState.FAILED:
                self.view.set_message(f"Cannot show {item.path.name}:\n{item.error}")
            else:
                self.view.set_message("Cancelled" if item.state is PhotoState.CANCELLED else "Loading…")
        self.update_overlay(item, has_model)

    def show_quick(self, item: PhotoItem, quick: QuickPreview, *, has_model: bool) -> None:
        """A fast result of the display-size copy: on screen until the real result replaces it."""
        self.view.set_images(quick.preview, quick.enhanced, size=(quick.width, quick.height), keep_view=True)
        self.update_overlay(item, has_model)

    def update_overlay(self, item: PhotoItem, has_model: bool) -> None:
        self.view.set_overlay(overlay_text(item, has_model))

    def _on_view_zoom_changed(self, scale: float) -> None:
        self.zoom_label.setText(f"{scale * 100:.0f} %")
