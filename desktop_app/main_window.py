"""The main window: photo list, before/after viewer, controls, menus and actions.

What to enhance next and the memory cap of results live in :mod:`.scheduler` and
:mod:`.result_cache`; where a photo is saved in :mod:`.saving`; a pasted image's file in
:mod:`.clipboard`. The window lays out widgets, turns actions into calls and redraws.
"""

from __future__ import annotations

import logging
from pathlib import Path
from typing import Any

from PySide6.QtCore import QItemSelectionModel, QModelIndex, QSettings, Qt, QTimer
from PySide6.QtGui import QAction, QCloseEvent, QGuiApplication, QKeySequence
from PySide6.QtWidgets import (
    QFileDialog,
    QLabel,
    QMainWindow,
    QProgressBar,
    QSplitter,
    QToolBar,
    QToolButton,
    QVBoxLayout,
    QWidget,
)

from core.batch import collect_inputs
from core.engine import default_weights_path
from core.io import unique_path

from . import APP_DISPLAY_NAME, wizard
from . import engine as eng
from .clipboard import save_pasted_image
from .jobs import ExportOptions, ModelLoaded, QuickPreview, load_model_job
from .messages import error_text, queue_summary
from .models.photo_queue import PhotoQueueModel, PhotoState
from .resources import icon
from .save_dialog import SaveAsDialog, folder_problem
from .saving import default_target, plan_save
from .scheduler import EnhanceScheduler
from .settings import AppSettings, load_settings, save_settings
from .widgets.compare_view import CompareMode, CompareView
from .widgets.controls import ControlPanel
from .widgets.drop_area import DropHandler, paths_from_mime
from .widgets.photo_list import PhotoListView
from .workers import JobRunner, Worker

log = logging.getLogger(__name__)

IMAGE_FILTER = eng.open_dialog_filter()
ERROR_TIMEOUT_MS = 12000
INFO_TIMEOUT_MS = 5000
#: The exposure slider re-enhances once it has rested this long (a drag does not queue every step).
EXPOSURE_DEBOUNCE_MS = 150


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
        self.engine_factory = engine_factory
        self.model_text = ""
        self.device_text = ""
        self.queue = PhotoQueueModel(self)
        self.runner = JobRunner(1, self, background_nice=5)  # inference: one job at a time
        self.io_runner = JobRunner(1, self, background_nice=2)  # previews and saves
        self.scheduler = EnhanceScheduler(self.queue, self.settings, self.runner, self.io_runner,
                                          self.current_row, self)
        self._model_worker: Worker | None = None
        self._closing = False
        self._session_weights = weights  # until the user picks another model
        self._build_ui()
        self._build_actions()
        self._restore()
        self._refresh_models()
        if load_model:
            self.load_model(self.chosen_weights())
        self._update_actions()

    # ------------------------------------------------------------------ construction
    def _build_ui(self) -> None:
        self.list_view = PhotoListView()
        self.list_view.setModel(self.queue)
        self.view = CompareView()
        self.controls = ControlPanel()
        self.view_bar = QToolBar("View")
        self.view_bar.setMovable(False)
        self.zoom_label = QLabel("")
        self.zoom_label.setMinimumWidth(52)
        viewer = QWidget()
        viewer_layout = QVBoxLayout(viewer)
        viewer_layout.setContentsMargins(0, 0, 0, 0)
        viewer_layout.setSpacing(0)
        viewer_layout.addWidget(self.view_bar)
        viewer_layout.addWidget(self.view, 1)
        self.splitter = QSplitter(Qt.Orientation.Horizontal)
        self.splitter.addWidget(self.list_view)
        self.splitter.addWidget(viewer)
        self.splitter.addWidget(self.controls)
        self.splitter.setStretchFactor(0, 0)
        self.splitter.setStretchFactor(1, 1)
        self.splitter.setStretchFactor(2, 0)
        self.splitter.setSizes([230, 900, 300])
        self.splitter.setChildrenCollapsible(False)
        self.setCentralWidget(self.splitter)

        self.job_label = QLabel("")
        self.job_progress = QProgressBar()
        self.job_progress.setMaximumWidth(160)
        self.job_progress.setRange(0, 100)
        self.job_progress.setTextVisible(False)
        self.job_progress.hide()
        self.cancel_button = QToolButton()
        self.cancel_button.setIcon(icon("cancel"))
        self.cancel_button.setToolTip("Cancel the running enhancement (Esc)")
        self.cancel_button.setAutoRaise(True)
        self.cancel_button.hide()
        self.queue_label = QLabel("")
        status = self.statusBar()
        status.addPermanentWidget(self.job_label)
        status.addPermanentWidget(self.job_progress)
        status.addPermanentWidget(self.cancel_button)
        status.addPermanentWidget(self.queue_label)

        self.drop_handler = DropHandler(self)
        self.drop_handler.paths_dropped.connect(self._on_paths_dropped)
        self.list_view.selectionModel().currentChanged.connect(self._on_current_changed)
        self.queue.dataChanged.connect(self._on_queue_changed)
        self.queue.rowsInserted.connect(self._on_queue_changed)
        self.queue.rowsRemoved.connect(self._on_queue_changed)
        self.controls.strength_changed.connect(self._on_strength_changed)
        self.controls.exposure_changed.connect(self._on_exposure_changed)
        # Exposure needs inference: wait until the slider rests a moment before re-enhancing.
        self._exposure_timer = QTimer(self)
        self._exposure_timer.setSingleShot(True)
        self._exposure_timer.setInterval(EXPOSURE_DEBOUNCE_MS)
        self._exposure_timer.timeout.connect(self._on_exposure_timer_timeout)
        self.controls.mode_changed.connect(self._on_mode_changed)
        self.controls.model_chosen.connect(self._on_model_chosen)
        self.controls.browse_model_requested.connect(self._on_browse_model_requested)
        self.view.zoom_changed.connect(self._on_zoom_changed)
        self.view.mode_changed.connect(self._on_view_mode_changed)
        self.cancel_button.clicked.connect(self._on_cancel_clicked)
        self.scheduler.started.connect(self._on_enhance_started)
        self.scheduler.progressed.connect(self._on_enhance_progressed)
        self.scheduler.finished.connect(self._on_enhance_finished)
        self.scheduler.picture_changed.connect(self._on_picture_changed)
        self.scheduler.quick_preview.connect(self._on_quick_preview)
        self.scheduler.state_changed.connect(self._update_overlay)
        self.scheduler.info.connect(self.show_info)
        self.scheduler.error.connect(self.show_error)

    def _action(self, text: str, slot: Any, shortcut: Any = None, icon_name: str = "", tip: str = "",
                checkable: bool = False) -> QAction:
        action = QAction(text, self)
        if icon_name:
            action.setIcon(icon(icon_name))
        if shortcut is not None:
            action.setShortcut(QKeySequence(shortcut))
        if tip:
            action.setStatusTip(tip)
            action.setToolTip(tip)
        action.setCheckable(checkable)
        action.triggered.connect(slot)
        self.addAction(action)
        return action

    def _build_actions(self) -> None:
        K = QKeySequence.StandardKey
        self.open_action = self._action("&Open…", self._on_open_triggered, K.Open, "open", "Open photos")
        self.open_folder_action = self._action("Open &Folder…", self._on_open_folder_triggered, "Ctrl+Shift+O",
                                               "folder", "Add every photo of a folder")
        self.paste_action = self._action("&Paste", self._on_paste_triggered, K.Paste, "",
                                         "Add copied files or a copied image")
        self.save_action = self._action("&Save", self._on_save_triggered, K.Save, "save",
                                        "Save the enhanced photo next to the original (never overwrites)")
        self.save_as_action = self._action("Save &As…", self._on_save_as_triggered, K.SaveAs, "save-as",
                                           "Choose where and how to save the enhanced photo")
        self.batch_action = self._action("&Batch Export Folder…", self._on_batch_triggered, "Ctrl+B", "batch",
                                         "Enhance a whole folder")
        self.remove_action = self._action("&Remove from List", self._on_remove_triggered, K.Delete, "remove",
                                          "Remove the selected photos from the list (files are untouched)")
        self.quit_action = self._action("&Quit", self.close, K.Quit)
        self.cancel_action = self._action("Cancel", self._on_cancel_clicked, "Esc")
        self.fit_action = self._action("&Fit", self.view.zoom_fit, "Ctrl+0", "fit", "Fit the photo in the window")
        self.actual_action = self._action("&100 %", self.view.zoom_actual, "Ctrl+1", "zoom-100",
                                          "One photo pixel per screen pixel")
        self.zoom_in_action = self._action("Zoom &In", self.view.zoom_in, K.ZoomIn, "zoom-in")
        self.zoom_out_action = self._action("Zoom &Out", self.view.zoom_out, K.ZoomOut, "zoom-out")
        self.split_action = self._action("&Split Before/After", lambda: self.view.set_mode(CompareMode.SPLIT),
                                         "S", "split", "Original left of the divider, enhanced right", True)
        self.before_action = self._action("Toggle &Before/After", self.view.toggle_before, "B", "before-after",
                                          "Show the whole original; press again for the enhanced photo", True)
        self.retrain_action = self._action("&Retrain Model…", self._on_retrain_triggered,
                                           tip="Train the model further on your own photo pairs")
        self.about_action = self._action("&About", self._on_about_triggered, icon_name="about")
        self.split_action.setChecked(True)
        # keyboard shortcuts that are single letters must not steal typing in other widgets
        for action in (self.split_action, self.before_action):
            action.setShortcutContext(Qt.ShortcutContext.WindowShortcut)

        menu = self.menuBar()
        file_menu = menu.addMenu("&File")
        for a in (self.open_action, self.open_folder_action, self.paste_action):
            file_menu.addAction(a)
        file_menu.addSeparator()
        file_menu.addAction(self.save_action)
        file_menu.addAction(self.save_as_action)
        file_menu.addAction(self.batch_action)
        file_menu.addSeparator()
        file_menu.addAction(self.remove_action)
        file_menu.addSeparator()
        file_menu.addAction(self.quit_action)
        view_menu = menu.addMenu("&View")
        for a in (self.fit_action, self.actual_action, self.zoom_in_action, self.zoom_out_action):
            view_menu.addAction(a)
        view_menu.addSeparator()
        view_menu.addAction(self.split_action)
        view_menu.addAction(self.before_action)
        tools_menu = menu.addMenu("&Tools")
        tools_menu.addAction(self.retrain_action)
        help_menu = menu.addMenu("&Help")
        help_menu.addAction(self.about_action)

        main_bar = QToolBar("Main")
        main_bar.setObjectName("main_toolbar")
        main_bar.setToolButtonStyle(Qt.ToolButtonStyle.ToolButtonTextBesideIcon)
        main_bar.setMovable(False)
        for a in (self.open_action, self.save_action, self.save_as_action, self.batch_action):
            main_bar.addAction(a)
        self.addToolBar(main_bar)
        for a in (self.fit_action, self.actual_action, self.zoom_out_action, self.zoom_in_action):
            self.view_bar.addAction(a)
        self.view_bar.addWidget(self.zoom_label)
        self.view_bar.addSeparator()
        self.view_bar.addAction(self.split_action)
        self.view_bar.addAction(self.before_action)

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
        files: list[Path] = []
        for path in map(Path, paths):
            if not path.exists():
                self.show_error(f"Not found: {path}")
                continue
            try:
                files.extend(collect_inputs([path], recursive=True))  # skips non-photos
            except Exception as exc:  # noqa: BLE001 - unreadable folder etc.: tell, never crash
                self.show_error(f"Cannot read {path}: {error_text(exc)}")
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
        self.scheduler.cancel()
        self.scheduler.hold("model")
        self.scheduler.set_engine(None)
        self.controls.set_model_info("loading model…")
        worker = Worker(load_model_job, self.engine_factory, weights, name="load-model")
        worker.signals.returned.connect(self._on_model_returned)
        worker.signals.errored.connect(lambda exc, w=weights: self._on_model_errored(w, exc))
        worker.signals.finished.connect(self._on_model_finished)
        self._model_worker = worker
        self.runner.submit(worker)

    def show_error(self, text: str) -> None:
        log.warning(text)
        self.statusBar().setStyleSheet("QStatusBar { color: #ff8a80; }")
        self.statusBar().showMessage(text, ERROR_TIMEOUT_MS)

    def show_info(self, text: str) -> None:
        self.statusBar().setStyleSheet("")
        self.statusBar().showMessage(text, INFO_TIMEOUT_MS)

    def export_options(self) -> ExportOptions:
        s = self.settings
        return ExportOptions(s.export_format, s.jpeg_quality, s.keep_metadata)

    def chosen_weights(self) -> Path | None:
        """The model in use: this session's --weights, else the saved choice (None: bundled)."""
        if self._session_weights is not None:
            return self._session_weights
        return Path(self.settings.weights_path) if self.settings.weights_path else None

    # ------------------------------------------------------------------ display
    def _show_row(self, row: int, *, keep_view: bool = False) -> None:
        if row < 0:
            self.view.clear()
            self.view.set_overlay("")
            self._update_actions()
            return
        item = self.queue.item(row)
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
        self._update_overlay(row)
        self._update_actions()

    def _update_overlay(self, row: int) -> None:
        if row < 0 or row != self.current_row():
            return
        item = self.queue.item(row)
        text = {PhotoState.WORKING: f"Enhancing… {round(item.progress * 100)} %",
                PhotoState.FAILED: f"Failed: {item.error}", PhotoState.CANCELLED: "Cancelled",
                PhotoState.QUEUED: "Waiting for a model" if self.engine is None else "Queued"}.get(item.state, "")
        self.view.set_overlay(text)

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
    def _on_paths_dropped(self, paths: list[Path]) -> None:
        self.add_paths(paths)

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
        self._exposure_timer.start()

    def _on_exposure_timer_timeout(self) -> None:
        self.scheduler.settings_changed()

    def _on_mode_changed(self, mode: str) -> None:
        if mode != self.settings.mode:
            self.settings.mode = mode
            self.scheduler.settings_changed()

    def _on_model_chosen(self, path: Path | None) -> None:
        self._session_weights = None
        self.settings.weights_path = str(path) if path else ""
        self.load_model(path)

    def _on_browse_model_requested(self) -> None:
        start = self.settings.weights_path or str(eng.user_models_dir())
        path, _ = QFileDialog.getOpenFileName(self, "Choose a model", start, "Model weights (*.safetensors)")
        if path:
            self._session_weights = None
            self.settings.weights_path = path
        self._refresh_models()
        if path:
            self.load_model(Path(path))

    def _refresh_models(self) -> None:
        current = self.chosen_weights()
        self.controls.set_models(eng.list_models([current] if current is not None else []), current)

    def _on_zoom_changed(self, scale: float) -> None:
        self.zoom_label.setText(f"{scale * 100:.0f} %")

    def _on_view_mode_changed(self, mode: str) -> None:
        self._update_actions()

    def _on_cancel_clicked(self) -> None:
        if self.scheduler.active_worker is not None:
            self.scheduler.cancel(by_user=True)  # a cancelled photo is not retried automatically
            self.job_label.setText("Cancelling…")

    # ------------------------------------------------------------------ slots: model job
    def _on_model_returned(self, loaded: ModelLoaded) -> None:
        if self._closing:
            return
        self.model_text = loaded.description
        self.device_text = loaded.device
        self.controls.set_model_info(f"{loaded.description}\n{Path(loaded.weights or default_weights_path()).name}")
        self.controls.set_device(loaded.device)
        self.controls.set_exposure_trained(bool(getattr(loaded.engine, "exposure_is_trained", True)))
        self.show_info(f"Model ready: {loaded.description} on {loaded.device}")
        self.scheduler.set_engine(loaded.engine, str(loaded.weights or "bundled"))
        self._update_overlay(self.current_row())

    def _on_model_errored(self, weights: Path | None, exc: BaseException) -> None:
        if self._closing:
            return
        where = weights or default_weights_path()
        if weights is None and not Path(where).exists():
            text = (f"The bundled model is missing ({where}). "
                    "Choose a .safetensors weights file in the Model list.")
        else:
            text = f"Cannot load model {Path(where).name}: {error_text(exc)}"
        self.model_text = ""
        self.controls.set_model_info(text, error=True)
        self.controls.set_device("—")
        self.show_error(text)
        self._update_overlay(self.current_row())

    def _on_model_finished(self) -> None:
        self._model_worker = None
        self.scheduler.release("model")

    # ------------------------------------------------------------------ slots: scheduler
    def _on_enhance_started(self, path: Path) -> None:
        self.job_label.setText(f"Enhancing {path.name}")
        self.job_progress.setValue(0)
        self.job_progress.show()
        self.cancel_button.show()

    def _on_enhance_progressed(self, path: Path, fraction: float, remaining: float | None) -> None:
        self.job_progress.setValue(round(fraction * 100))
        if remaining is not None:
            self.job_label.setText(f"Enhancing {path.name} · {remaining:.0f} s left")

    def _on_enhance_finished(self) -> None:
        self.job_progress.hide()
        self.cancel_button.hide()
        self.job_label.setText("")
        if not self._closing:
            self._update_actions()

    def _on_picture_changed(self, row: int, keep_view: bool) -> None:
        if row == self.current_row():
            self._show_row(row, keep_view=keep_view)

    def _on_quick_preview(self, row: int, quick: QuickPreview) -> None:
        """The fast result of a display-size copy: on screen until the real result replaces it."""
        if row == self.current_row():
            self.view.set_images(quick.preview, quick.enhanced, size=(quick.width, quick.height), keep_view=True)
            self._update_overlay(row)

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
        self.save_row(row, unique_path(target), self.export_options())

    def _on_save_as_triggered(self) -> None:
        row = self.current_row()
        if row < 0 or self.queue.item(row).result is None:
            return
        item = self.queue.item(row)
        dialog = SaveAsDialog(default_target(item.path, self.settings), self.export_options(), item.path, self)
        if dialog.exec() != SaveAsDialog.DialogCode.Accepted:
            return
        options, target = dialog.options(), dialog.target()
        s = self.settings
        s.export_format, s.jpeg_quality, s.keep_metadata = options.fmt, options.quality, options.keep_metadata
        s.last_save_dir = str(target.parent)
        overwrite = dialog.overwrite_confirmed and target.exists()
        self.save_row(row, target if overwrite else unique_path(target), options, overwrite=overwrite)

    def save_row(self, row: int, target: Path, options: ExportOptions, *, overwrite: bool = False) -> Worker:
        """Write the enhanced photo of ``row`` at the current strength and exposure, in the background."""
        item = self.queue.item(row)
        try:
            plan = plan_save(item.result, target, options, strength=self.settings.strength,
                             exposure=self.settings.exposure, engine=self.engine, overwrite=overwrite)
        except RuntimeError:
            self.show_error("Cannot save: no model loaded")
            raise
        plan.worker.signals.returned.connect(lambda path, p=item.path: self._on_save_returned(p, path))
        plan.worker.signals.errored.connect(lambda exc, t=target: self._on_save_errored(t, exc))
        self.show_info(f"Saving {target.name}…")
        return (self.runner if plan.needs_model else self.io_runner).submit(plan.worker)

    def _on_save_returned(self, source: Path, written: Path) -> None:
        row = self.queue.row_of(source)
        if row >= 0:
            self.queue.set_saved(row, Path(written))
        self.show_info(f"Saved {written}")

    def _on_save_errored(self, target: Path, exc: BaseException) -> None:
        self.show_error(f"Could not save {target.name}: {error_text(exc)}")

    # ------------------------------------------------------------------ other dialogs
    def _on_batch_triggered(self) -> None:
        from .batch_dialog import BatchDialog

        if self.engine is None:
            self.show_error("Batch export needs a model: choose one in the Model list first")
            return
        dialog = BatchDialog(self.settings, self.runner, self.engine, self)
        dialog.running_changed.connect(self._on_batch_running_changed)
        if self.scheduler.active_worker is not None:
            dialog.note_waiting()
        dialog.exec()

    def _on_batch_running_changed(self, running: bool) -> None:
        if running:
            self.scheduler.hold("batch")
        else:
            self.scheduler.release("batch")

    def _on_retrain_triggered(self) -> None:
        current = self.chosen_weights() or default_weights_path()
        dialog = wizard.open_retrain_wizard(self, {"models_dir": eng.user_models_dir(), "current_weights": current})
        dialog.weightsInstalled.connect(self._on_weights_installed)

    def _on_weights_installed(self, path: Path) -> None:
        """A retrained model was installed: list it and switch to it."""
        self._session_weights = None
        self.settings.weights_path = str(path)
        self._refresh_models()
        self.load_model(Path(path))
        self.show_info(f"Switched to the retrained model {Path(path).name}")

    def _on_about_triggered(self) -> None:
        from .about_dialog import AboutDialog

        weights = str(self.chosen_weights() or default_weights_path())
        AboutDialog(self, model_text=self.model_text or "none loaded", model_path=weights,
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
