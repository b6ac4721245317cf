"""The main window: photo list, before/after viewer, controls, menus and actions.

What to enhance next and the memory cap of results live in :mod:`.scheduler` and
:mod:`.result_cache`; which model is used in :mod:`.model_loader`; saving in :mod:`.saving`;
finding dropped photos and a pasted image's file in :mod:`.inputs`. The window lays out
widgets, turns actions into calls and redraws.
"""

from __future__ import annotations

import logging
from functools import partial
from pathlib import Path
from typing import Any

from PySide6.QtCore import QItemSelectionModel, QModelIndex, QSettings, Qt
from PySide6.QtGui import QCloseEvent, QGuiApplication, QKeySequence
from PySide6.QtWidgets import QFileDialog, QLabel, QMainWindow, QSplitter, QToolBar

from core.engine import default_weights_path
from core.io import unique_path
from core.user_folders import user_models_dir

from . import APP_DISPLAY_NAME, wizard
from . import engine as eng
from .inputs import find_photos, save_pasted_image
from .jobs import ExportOptions, ModelLoaded, QuickPreview
from .messages import queue_summary
from .model_loader import ModelLoader
from .models.photo_queue import PhotoQueueModel
from .resources import icon
from .save_dialog import SaveAsDialog, folder_problem
from .saving import PhotoSaver, default_target, export_options, remember_export
from .scheduler import EnhanceScheduler
from .settings import AppSettings, load_settings, save_settings
from .widgets.actions import fill_menus, make_action
from .widgets.compare_view import CompareMode
from .widgets.controls import ControlPanel
from .widgets.drop_area import DropHandler, paths_from_mime
from .widgets.job_status import JobStatus
from .widgets.photo_list import PhotoListView
from .widgets.viewer import PhotoViewer
from .workers import JobRunner, Worker

log = logging.getLogger(__name__)

IMAGE_FILTER = eng.open_dialog_filter()
ERROR_TIMEOUT_MS = 12000
INFO_TIMEOUT_MS = 5000


class MainWindow(QMainWindow):
    """Everything a photographer sees. Background work goes to :class:`JobRunner` pools."""

    def __init__(self, store: QSettings, engine_factory: eng.EngineFactory = eng.load_engine, *,
                 load_model: bool = True, weights: Path | None = None) -> None:
        """``weights``: a model for this session only (the command line's --weights); not saved."""
        super().__init__()
        self.setWindowTitle(APP_DISPLAY_NAME)
        self.setWindowIcon(icon("app"))
        self.store = store
        self.settings: AppSettings = load_settings(store)
        self.model_text = ""
        self.device_text = ""
        self.queue = PhotoQueueModel(self)
        self.runner = JobRunner(1, self, background_nice=5)  # inference: one job at a time
        self.io_runner = JobRunner(1, self, background_nice=2)  # previews and saves
        self.scheduler = EnhanceScheduler(self.queue, self.settings, self.runner, self.io_runner,
                                          self.current_row, self)
        self.models = ModelLoader(self.settings, self.runner, engine_factory, weights, self)
        self.scheduler.follow(self.models)  # before the window's own slots: they show the new state
        self.saver = PhotoSaver(self.runner, self.io_runner, self)
        self._closing = False
        self._build_ui()
        self._build_actions()
        self._restore()
        self._refresh_models()
        if load_model:
            self.load_model(self.models.chosen_weights())
        self._update_actions()

    # ------------------------------------------------------------------ construction
    def _build_ui(self) -> None:
        self.list_view = PhotoListView()
        self.list_view.setModel(self.queue)
        self.viewer = PhotoViewer()
        self.view = self.viewer.view
        self.controls = ControlPanel()
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        for stretch, widget in enumerate((self.list_view, self.viewer, self.controls)):
            self.splitter.addWidget(widget)
            self.splitter.setStretchFactor(stretch, 1 if widget is self.viewer else 0)
        self.splitter.setSizes([230, 900, 300])
        self.splitter.setChildrenCollapsible(False)
        self.setCentralWidget(self.splitter)

        self.job_status = JobStatus()
        self.queue_label = QLabel("")
        self.statusBar().addPermanentWidget(self.job_status)
        self.statusBar().addPermanentWidget(self.queue_label)

        self.drop_handler = DropHandler(self)
        self.drop_handler.paths_dropped.connect(self.add_paths)
        self.list_view.selectionModel().currentChanged.connect(self._on_current_changed)
        self.queue.dataChanged.connect(self._on_queue_changed)
        self.queue.rowsInserted.connect(self._on_queue_changed)
        self.queue.rowsRemoved.connect(self._on_queue_changed)
        self.controls.strength_changed.connect(self._on_strength_changed)
        self.controls.exposure_changed.connect(self._on_exposure_changed)
        self.controls.exposure_settled.connect(self._on_exposure_settled)
        self.controls.mode_changed.connect(self._on_mode_changed)
        self.controls.model_chosen.connect(self._on_model_chosen)
        self.controls.browse_model_requested.connect(self._on_browse_model_requested)
        self.view.mode_changed.connect(self._on_view_mode_changed)
        self.job_status.cancel_button.clicked.connect(self._on_cancel_clicked)
        self.scheduler.started.connect(self.job_status.show_started)
        self.scheduler.progressed.connect(self.job_status.show_progress)
        self.scheduler.finished.connect(self._on_enhance_finished)
        self.scheduler.picture_changed.connect(self._on_picture_changed)
        self.scheduler.quick_preview.connect(self._on_quick_preview)
        self.scheduler.state_changed.connect(self._update_overlay)
        self.scheduler.info.connect(self.show_info)
        self.scheduler.error.connect(self.show_error)
        self.models.loaded.connect(self._on_model_loaded)
        self.models.failed.connect(self._on_model_failed)
        self.saver.saved.connect(self._on_photo_saved)
        self.saver.failed.connect(self.show_error)

    def _build_actions(self) -> None:
        K = QKeySequence.StandardKey
        act = partial(make_action, self)
        self.open_action = act("&Open…", self._on_open_triggered, K.Open, "open", "Open photos")
        self.open_folder_action = act("Open &Folder…", self._on_open_folder_triggered, "Ctrl+Shift+O",
                                               "folder", "Add every photo of a folder")
        self.paste_action = act("&Paste", self._on_paste_triggered, K.Paste, "",
                                         "Add copied files or a copied image")
        self.save_action = act("&Save", self._on_save_triggered, K.Save, "save",
                                        "Save the enhanced photo next to the original (never overwrites)")
        self.save_as_action = act("Save &As…", self._on_save_as_triggered, K.SaveAs, "save-as",
                                           "Choose where and how to save the enhanced photo")
        self.batch_action = act("&Batch Export Folder…", self._on_batch_triggered, "Ctrl+B", "batch",
                                         "Enhance a whole folder")
        self.remove_action = act("&Remove from List", self._on_remove_triggered, K.Delete, "remove",
                                          "Remove the selected photos from the list (files are untouched)")
        self.quit_action = act("&Quit", self.close, K.Quit)
        self.cancel_action = act("Cancel", self._on_cancel_clicked, "Esc")
        self.fit_action = act("&Fit", self.view.zoom_fit, "Ctrl+0", "fit", "Fit the photo in the window")
        self.actual_action = act("&100 %", self.view.zoom_actual, "Ctrl+1", "zoom-100",
                                          "One photo pixel per screen pixel")
        self.zoom_in_action = act("Zoom &In", self.view.zoom_in, K.ZoomIn, "zoom-in")
        self.zoom_out_action = act("Zoom &Out", self.view.zoom_out, K.ZoomOut, "zoom-out")
        self.split_action = act("&Split Before/After", lambda: self.view.set_mode(CompareMode.SPLIT),
                                         "S", "split", "Original left of the divider, enhanced right", True)
        self.before_action = act("Toggle &Before/After", self.view.toggle_before, "B", "before-after",
                                          "Show the whole original; press again for the enhanced photo", True)
        self.retrain_action = act("&Retrain Model…", self._on_retrain_triggered,
                                           tip="Train the model further on your own photo pairs")
        self.about_action = act("&About", self._on_about_triggered, icon_name="about")
        self.split_action.setChecked(True)
        # keyboard shortcuts that are single letters must not steal typing in other widgets
        for action in (self.split_action, self.before_action):
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)

        menus = (("&File", (self.open_action, self.open_folder_action, self.paste_action, None, self.save_action,
                            self.save_as_action, self.batch_action, None, self.remove_action, None, self.quit_action)),
                 ("&View", (self.fit_action, self.actual_action, self.zoom_in_action, self.zoom_out_action, None,
                            self.split_action, self.before_action)),
                 ("&Tools", (self.retrain_action,)), ("&Help", (self.about_action,)))
        fill_menus(self.menuBar(), menus)

        main_bar = QToolBar("Main")
        main_bar.setObjectName("main_toolbar")
        main_bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        main_bar.setMovable(False)
        main_bar.addActions([self.open_action, self.save_action, self.save_as_action, self.batch_action])
        self.addToolBar(main_bar)
        self.viewer.add_actions([self.fit_action, self.actual_action, self.zoom_out_action, self.zoom_in_action],
                                [self.split_action, self.before_action])

    def _restore(self) -> None:
        s = self.settings
        if s.window_geometry:
            self.restoreGeometry(s.window_geometry)
        else:
            self.resize(1400, 860)
        if s.splitter_state:
            self.splitter.restoreState(s.splitter_state)
        self.controls.set_mode(s.mode)
        self.controls.set_strength(s.strength)
        self.controls.set_exposure(s.exposure)
        self.view.set_strength(s.strength)

    # ------------------------------------------------------------------ public API
    @property
    def engine(self) -> eng.Engine | None:
        """The loaded model (None while loading or after a failure)."""
        return self.scheduler.engine

    def add_paths(self, paths: list[Path]) -> list[int]:
        """Queue photos (folders are searched, non-photos skipped); returns the new rows."""
        files, problems = find_photos(paths)
        for problem in problems:
            self.show_error(problem)
        rows = self.queue.add_paths(files)
        if rows:
            self.show_info(f"Added {len(rows)} photo{'s' if len(rows) != 1 else ''}")
            if not self.list_view.currentIndex().isValid():
                self.select_row(rows[0])
            self.scheduler.add_rows(rows)
        elif paths and not files:
            self.show_error(f"No photos found there ({eng.SUPPORTED_FORMATS_TEXT})")
        return rows

    def select_row(self, row: int) -> None:
        index = self.queue.index(row, 0)
        self.list_view.selectionModel().setCurrentIndex(index, QItemSelectionModel.SelectionFlag.ClearAndSelect)

    def current_row(self) -> int:
        index = self.list_view.currentIndex()
        return index.row() if index.isValid() else -1

    def load_model(self, weights: Path | None) -> None:
        """Load a model in the background (None = the bundled default)."""
        self.controls.set_model_info("loading model…")
        self.models.load(weights)

    def show_error(self, text: str) -> None:
        log.warning(text)
        self.statusBar().setStyleSheet("QStatusBar { color: #ff8a80; }")
        self.statusBar().showMessage(text, ERROR_TIMEOUT_MS)

    def show_info(self, text: str) -> None:
        self.statusBar().setStyleSheet("")
        self.statusBar().showMessage(text, INFO_TIMEOUT_MS)

    # ------------------------------------------------------------------ display
    def _show_row(self, row: int, *, keep_view: bool = False) -> None:
        item = self.queue.item(row) if row >= 0 else None
        self.viewer.show_item(item, has_model=self.engine is not None, keep_view=keep_view)
        self._update_actions()

    def _update_overlay(self, row: int) -> None:
        if row >= 0 and row == self.current_row():
            self.viewer.update_overlay(self.queue.item(row), self.engine is not None)

    def _update_actions(self) -> None:
        row = self.current_row()
        item = self.queue.item(row) if row >= 0 else None
        has_result = item is not None and item.result is not None
        self.save_action.setEnabled(has_result)
        self.save_as_action.setEnabled(has_result)
        self.remove_action.setEnabled(item is not None)
        self.before_action.setChecked(self.view.mode is CompareMode.BEFORE)
        self.split_action.setChecked(self.view.mode is CompareMode.SPLIT)

    # ------------------------------------------------------------------ slots: input
    def _on_open_triggered(self) -> None:
        files, _ = QFileDialog.getOpenFileNames(self, "Open photos", self.settings.last_open_dir, IMAGE_FILTER)
        if files:
            self.settings.last_open_dir = str(Path(files[0]).parent)
            self.add_paths([Path(f) for f in files])

    def _on_open_folder_triggered(self) -> None:
        folder = QFileDialog.getExistingDirectory(self, "Add a folder of photos", self.settings.last_open_dir)
        if folder:
            self.settings.last_open_dir = folder
            self.add_paths([Path(folder)])

    def _on_paste_triggered(self) -> None:
        mime = QGuiApplication.clipboard().mimeData()
        paths = paths_from_mime(mime)
        if paths:
            self.add_paths(paths)
            return
        pasted = save_pasted_image(mime)
        if pasted is not None:
            self.add_paths([pasted])
            self.show_info(f"Pasted image saved as {pasted}")
            return
        self.show_error("Nothing to paste: copy photo files or an image first")

    def _on_remove_triggered(self) -> None:
        rows = sorted({i.row() for i in self.list_view.selectionModel().selectedRows()} | {self.current_row()},
                      reverse=True)
        for row in (r for r in rows if r >= 0):
            self.scheduler.remove(self.queue.item(row).path)
            self.queue.removeRows(row, 1)
        if self.queue.rowCount() == 0:
            self._show_row(-1)

    # ------------------------------------------------------------------ slots: controls
    def _on_current_changed(self, current: QModelIndex, previous: QModelIndex) -> None:
        self._show_row(current.row() if current.isValid() else -1)
        self.scheduler.schedule()

    def _on_queue_changed(self, *args: Any) -> None:
        self.queue_label.setText(queue_summary(self.queue.counts()))

    def _on_strength_changed(self, strength: float) -> None:
        self.settings.strength = strength
        self.view.set_strength(strength)  # display-resolution blend, no inference

    def _on_exposure_changed(self, ev: float) -> None:
        self.settings.exposure = ev

    def _on_exposure_settled(self, ev: float) -> None:
        self.scheduler.settings_changed()

    def _on_mode_changed(self, mode: str) -> None:
        if mode != self.settings.mode:
            self.settings.mode = mode
            self.scheduler.settings_changed()

    def _on_model_chosen(self, path: Path | None) -> None:
        self.models.choose(path)
        self.load_model(path)

    def _on_browse_model_requested(self) -> None:
        start = self.settings.weights_path or str(user_models_dir())
        path, _ = QFileDialog.getOpenFileName(self, "Choose a model", start, "Model weights (*.safetensors)")
        if path:
            self.models.choose(Path(path))
        self._refresh_models()
        if path:
            self.load_model(Path(path))

    def _refresh_models(self) -> None:
        self.controls.set_models(self.models.entries(), self.models.chosen_weights())

    def _on_view_mode_changed(self, mode: str) -> None:
        self._update_actions()

    def _on_cancel_clicked(self) -> None:
        if self.scheduler.active_worker is not None:
            self.scheduler.cancel(by_user=True)  # a cancelled photo is not retried automatically
            self.job_status.show_cancelling()

    # ------------------------------------------------------------------ slots: model
    def _on_model_loaded(self, loaded: ModelLoaded) -> None:
        if self._closing:
            return
        self.model_text, self.device_text = loaded.description, loaded.device
        self.controls.show_model(loaded.description, Path(loaded.weights or default_weights_path()).name,
                                 loaded.device, bool(getattr(loaded.engine, "exposure_is_trained", True)))
        self.show_info(f"Model ready: {loaded.description} on {loaded.device}")
        self._update_overlay(self.current_row())

    def _on_model_failed(self, text: str) -> None:
        if self._closing:
            return
        self.model_text = ""
        self.controls.show_model_error(text)
        self.show_error(text)
        self._update_overlay(self.current_row())

    # ------------------------------------------------------------------ slots: scheduler
    def _on_enhance_finished(self) -> None:
        self.job_status.show_finished()
        if not self._closing:
            self._update_actions()

    def _on_picture_changed(self, row: int, keep_view: bool) -> None:
        if row == self.current_row():
            self._show_row(row, keep_view=keep_view)

    def _on_quick_preview(self, row: int, quick: QuickPreview) -> None:
        """The fast result of a display-size copy: on screen until the real result replaces it."""
        if row == self.current_row():
            self.viewer.show_quick(self.queue.item(row), quick, has_model=self.engine is not None)

    # ------------------------------------------------------------------ saving
    def _on_save_triggered(self) -> None:
        row = self.current_row()
        if row < 0 or self.queue.item(row).result is None:
            return
        target = default_target(self.queue.item(row).path, self.settings)
        problem = folder_problem(target.parent)
        if problem:
            self.show_error(f"Cannot save: {problem} Use Save As… to pick another folder.")
            return
        self.save_row(row, unique_path(target), export_options(self.settings))

    def _on_save_as_triggered(self) -> None:
        row = self.current_row()
        if row < 0 or self.queue.item(row).result is None:
            return
        item = self.queue.item(row)
        dialog = SaveAsDialog(default_target(item.path, self.settings), export_options(self.settings), item.path, self)
        if dialog.exec() != SaveAsDialog.DialogCode.Accepted:
            return
        options, target = dialog.options(), dialog.target()
        remember_export(self.settings, options, target.parent)
        overwrite = dialog.overwrite_confirmed and target.exists()
        self.save_row(row, target if overwrite else unique_path(target), options, overwrite=overwrite)

    def save_row(self, row: int, target: Path, options: ExportOptions, *, overwrite: bool = False) -> Worker:
        """Write the enhanced photo of ``row`` at the current strength and exposure, in the background."""
        try:
            worker = self.saver.save(self.queue.item(row).result, target, options, strength=self.settings.strength,
                                     exposure=self.settings.exposure, engine=self.engine, overwrite=overwrite)
        except RuntimeError:
            self.show_error("Cannot save: no model loaded")
            raise
        self.show_info(f"Saving {target.name}…")
        return worker

    def _on_photo_saved(self, source: Path, written: Path) -> None:
        row = self.queue.row_of(source)
        if row >= 0:
            self.queue.set_saved(row, written)
        self.show_info(f"Saved {written}")

    # ------------------------------------------------------------------ other dialogs
    def _on_batch_triggered(self) -> None:
        from .batch_dialog import BatchDialog

        if self.engine is None:
            self.show_error("Batch export needs a model: choose one in the Model list first")
            return
        dialog = BatchDialog(self.settings, self.runner, self.engine, self)
        dialog.running_changed.connect(self._on_batch_running_changed)
        dialog.status_message.connect(self.show_info)
        if self.scheduler.active_worker is not None:
            dialog.note_waiting()
        dialog.exec()

    def _on_batch_running_changed(self, running: bool) -> None:
        if running:
            self.scheduler.hold("batch")
        else:
            self.scheduler.release("batch")

    def _on_retrain_triggered(self) -> None:
        dialog = wizard.open_retrain_wizard(self, {"models_dir": user_models_dir(),
                                                   "current_weights": self.models.chosen_file()})
        dialog.weightsInstalled.connect(self._on_weights_installed)

    def _on_weights_installed(self, path: Path) -> None:
        """A retrained model was installed: list it and switch to it."""
        self.models.choose(Path(path))
        self._refresh_models()
        self.load_model(Path(path))
        self.show_info(f"Switched to the retrained model {Path(path).name}")

    def _on_about_triggered(self) -> None:
        from .about_dialog import AboutDialog

        AboutDialog(self, model_text=self.model_text or "none loaded", model_path=str(self.models.chosen_file()),
                    device=self.device_text).exec()

    # ------------------------------------------------------------------ shutdown
    def persist_settings(self) -> None:
        self.settings.window_geometry = bytes(self.saveGeometry().data())
        self.settings.splitter_state = bytes(self.splitter.saveState().data())
        self.settings.mode = self.controls.mode()
        save_settings(self.store, self.settings)

    def closeEvent(self, event: QCloseEvent) -> None:  # noqa: N802
        self.persist_settings()
        self._closing = True
        self.scheduler.close()
        self.runner.shutdown()
        self.io_runner.shutdown()
        super().closeEvent(event)
