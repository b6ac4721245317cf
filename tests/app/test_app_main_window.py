"""Main window with a stub engine: drops, enhancement in the worker, strength, save, cancel, settings."""

from __future__ import annotations

from pathlib import Path

import pytest
from app_helpers import StubEngine, make_photo, wait_idle
from PySide6.QtCore import QMimeData, QPointF, Qt, QUrl
from PySide6.QtGui import QDragEnterEvent, QDropEvent
from PySide6.QtWidgets import QApplication

from desktop_app.jobs import ExportOptions
from desktop_app.models.photo_queue import PhotoState

# QDragEnterEvent has only the QPoint constructor, which PySide marks deprecated
pytestmark = pytest.mark.filterwarnings("ignore:Function.*QDragEnterEvent:DeprecationWarning")


def _drop(window, paths: list[Path]) -> None:
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(p)) for p in paths])
    pos = QPointF(window.width() / 2, window.height() / 2)
    enter = QDragEnterEvent(pos.toPoint(), Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                            Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, enter)
    assert enter.isAccepted()
    drop = QDropEvent(pos, Qt.DropAction.CopyAction, mime, Qt.MouseButton.LeftButton,
                      Qt.KeyboardModifier.NoModifier)
    QApplication.sendEvent(window, drop)
    assert drop.isAccepted()


def test_drop_files_and_folder(qtbot, make_window, photo_dir: Path, tmp_path: Path) -> None:
    window = make_window()
    single = make_photo(tmp_path / "single.jpg")
    _drop(window, [single])
    assert window.queue.rowCount() == 1
    _drop(window, [photo_dir])
    names = [item.path.name for item in window.queue.items()]
    assert names == ["single.jpg", "a.jpg", "b.png", "c.jpg"]
    wait_idle(qtbot, window)
    assert all(item.state is PhotoState.DONE for item in window.queue.items())
    assert all(item.thumbnail is not None for item in window.queue.items())


def test_drop_of_non_photos_is_refused_politely(qtbot, make_window, tmp_path: Path) -> None:
    window = make_window()
    text = tmp_path / "notes.txt"
    text.write_text("hello")
    _drop(window, [text])
    assert window.queue.rowCount() == 0
    assert "No photos" in window.statusBar().currentMessage()


def test_worker_enhances_and_view_updates(qtbot, make_window, tmp_path: Path) -> None:
    engine = StubEngine(tiles=3)
    window = make_window(engine)
    window.add_paths([make_photo(tmp_path / "dark.jpg", size=(64, 48))])
    wait_idle(qtbot, window)
    item = window.queue.item(0)
    assert item.state is PhotoState.DONE and item.progress == 1.0
    assert engine.calls == 1
    assert window.view.has_result()
    assert window.save_action.isEnabled()
    result = item.result
    assert result.after_levels[0].mean() > result.before_levels[0].mean() + 30


def test_strength_changes_without_reinference(qtbot, make_window, tmp_path: Path) -> None:
    engine = StubEngine()
    window = make_window(engine)
    window.add_paths([make_photo(tmp_path / "dark.jpg")])
    wait_idle(qtbot, window)
    window.view.set_mode("after")
    full = window.view.grab().toImage()
    window.controls.strength_slider.setValue(0)
    qtbot.waitUntil(lambda: window.view.strength == 0.0)
    none = window.view.grab().toImage()
    centre = (window.view.width() // 2, window.view.height() // 2)
    assert none.pixelColor(*centre).lightness() < full.pixelColor(*centre).lightness()
    assert window.settings.strength == 0.0
    assert engine.calls == 1  # no re-inference


def test_mode_change_reenhances(qtbot, make_window, tmp_path: Path) -> None:
    engine = StubEngine()
    window = make_window(engine)
    window.add_paths([make_photo(tmp_path / "dark.jpg")])
    wait_idle(qtbot, window)
    window.controls.full_radio.setChecked(True)
    wait_idle(qtbot, window)
    assert engine.calls == 2
    assert window.queue.item(0).result.mode == "full"


def test_failed_photo_shows_reason_and_app_goes_on(qtbot, make_window, tmp_path: Path) -> None:
    window = make_window()
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"this is not a jpeg")
    good = make_photo(tmp_path / "good.jpg")
    window.add_paths([bad, good])
    wait_idle(qtbot, window)
    assert window.queue.item(0).state is PhotoState.FAILED
    assert window.queue.item(0).error
    assert window.queue.item(1).state is PhotoState.DONE


def test_cancel_stops_within_a_tile(qtbot, make_window, tmp_path: Path) -> None:
    engine = StubEngine(tiles=200, delay=0.02)
    window = make_window(engine)
    window.add_paths([make_photo(tmp_path / "dark.jpg")])
    assert engine.started.wait(5)
    qtbot.waitUntil(lambda: window.queue.item(0).progress > 0)
    window.job_status.cancel_button.click()
    qtbot.waitUntil(lambda: window.scheduler.active_worker is None, timeout=3000)
    item = window.queue.item(0)
    assert item.state is PhotoState.CANCELLED and item.status_text == "Cancelled"


def test_close_aborts_running_job_and_waits(qtbot, make_window, tmp_path: Path) -> None:
    engine = StubEngine(tiles=500, delay=0.02)
    window = make_window(engine)
    window.add_paths([make_photo(tmp_path / "dark.jpg")])
    assert engine.started.wait(5)
    worker = window.scheduler.active_worker
    window.close()
    assert worker.done.is_set()  # close() returned only after the worker stopped


def test_save_never_overwrites_and_reports_unwritable_folder(qtbot, make_window, tmp_path: Path) -> None:
    window = make_window()
    photo = make_photo(tmp_path / "in" / "dark.jpg")
    original_bytes = photo.read_bytes()
    window.add_paths([photo])
    wait_idle(qtbot, window)
    window.save_action.trigger()
    qtbot.waitUntil(lambda: window.queue.item(0).saved_to is not None)
    first = window.queue.item(0).saved_to
    assert first.name == "dark_enhanced.jpg" and first.exists()
    window.save_action.trigger()
    qtbot.waitUntil(lambda: window.queue.item(0).saved_to != first)
    assert window.queue.item(0).saved_to.name == "dark_enhanced (1).jpg"
    assert photo.read_bytes() == original_bytes
    # an explicit target onto the original is refused
    window.save_row(0, photo, ExportOptions())
    qtbot.waitUntil(lambda: "Could not save dark.jpg" in window.statusBar().currentMessage())
    assert "never overwritten" in window.statusBar().currentMessage()
    assert photo.read_bytes() == original_bytes
    # unwritable folder: clear message, nothing written (a read-only mount: root cannot write there either)
    from mounts import mount_tmpfs

    with mount_tmpfs(tmp_path / "locked", "ro,size=1m") as locked:
        window.settings.last_save_dir = str(locked)
        window.save_action.trigger()
        assert "not writable" in window.statusBar().currentMessage()
        assert not list(locked.iterdir())


def test_save_message_when_folder_not_writable(qtbot, make_window, tmp_path: Path, monkeypatch) -> None:
    import desktop_app.save_dialog as save_dialog

    window = make_window()
    window.add_paths([make_photo(tmp_path / "dark.jpg")])
    wait_idle(qtbot, window)
    monkeypatch.setattr(save_dialog.os, "access", lambda path, mode: False)
    window.save_action.trigger()
    assert "not writable" in window.statusBar().currentMessage()
    assert not list(tmp_path.glob("dark_enhanced*"))


def test_missing_model_is_reported_and_app_stays_usable(qtbot, make_window, tmp_path: Path) -> None:
    from core.errors import WeightsError

    def factory(weights):
        raise WeightsError(weights or tmp_path / "lite.safetensors", "file not found")

    window = make_window(factory=factory)
    qtbot.waitUntil(lambda: not window.models.busy)
    assert window.engine is None
    assert "model" in window.controls.model_info.text().lower()
    window.add_paths([make_photo(tmp_path / "dark.jpg")])
    assert window.queue.item(0).state is PhotoState.QUEUED
    # choosing a working model afterwards processes the queue
    window.models.factory = lambda weights: StubEngine()
    window.load_model(tmp_path / "other.safetensors")
    wait_idle(qtbot, window)
    assert window.queue.item(0).state is PhotoState.DONE


def test_settings_survive_a_restart(qtbot, make_window, tmp_path: Path) -> None:
    settings = tmp_path / "restart.ini"
    window = make_window(settings_path=settings)
    window.controls.full_radio.setChecked(True)
    window.controls.strength_slider.setValue(65)
    window.settings.export_format = "png"
    window.settings.last_open_dir = str(tmp_path)
    window.resize(900, 640)
    window.close()
    again = make_window(settings_path=settings)
    assert again.settings.mode == "full" and again.controls.mode() == "full"
    assert again.controls.strength_slider.value() == 65
    assert again.settings.export_format == "png"
    assert again.settings.last_open_dir == str(tmp_path)
    assert again.settings.window_geometry


def test_menus_about_and_retrain_entry(qtbot, make_window, tmp_path: Path) -> None:
    from desktop_app.about_dialog import AboutDialog, version_rows

    window = make_window()
    assert window.retrain_action.isEnabled()
    titles = [a.text() for a in window.menuBar().actions()]
    assert "&Tools" in titles
    labels = dict(version_rows("stub preset", "CPU"))
    assert {"Version", "PyTorch", "Qt", "Model", "Device"} <= set(labels)
    # a model installed by the wizard becomes the current one
    installed = tmp_path / "retrained.safetensors"
    installed.write_bytes(b"x")
    window._on_weights_installed(installed)
    qtbot.waitUntil(lambda: not window.models.busy)
    assert window.settings.weights_path == str(installed)
    assert window.controls.model_combo.currentData() == str(installed)
    dialog = AboutDialog(window, model_text="stub preset", device="CPU")
    qtbot.addWidget(dialog)
    assert "PyTorch" in dialog.text.text()


def test_command_line_files_and_paste(qtbot, make_window, tmp_path: Path) -> None:
    from PySide6.QtGui import QGuiApplication

    window = make_window()
    photo = make_photo(tmp_path / "pasted.jpg")
    mime = QMimeData()
    mime.setUrls([QUrl.fromLocalFile(str(photo))])
    QGuiApplication.clipboard().setMimeData(mime)
    window.paste_action.trigger()
    assert window.queue.rowCount() == 1


def test_confirmed_overwrite_of_a_freed_result_replaces_the_file(qtbot, make_window, tmp_path: Path,
                                                                 monkeypatch) -> None:
    """Save As onto an existing file, confirmed, after the full-resolution result was freed: the photo
    is enhanced again and the file replaced (enhance_and_save_job used to drop ``overwrite`` and fail
    with 'file already exists')."""
    from PIL import Image

    from desktop_app.save_dialog import SaveAsDialog

    engine = StubEngine()
    window = make_window(engine)
    window.add_paths([make_photo(tmp_path / "dark.png")])
    wait_idle(qtbot, window)
    target = tmp_path / "out" / "dark_enhanced.png"
    target.parent.mkdir()
    Image.new("RGB", (4, 4), "red").save(target)  # an earlier export, to be replaced
    window.queue.item(0).result.drop_full_resolution()
    assert not window.queue.item(0).result.has_full_resolution

    def confirm_overwrite(dialog: SaveAsDialog) -> int:
        dialog.path_edit.setText(str(target))
        dialog.overwrite_confirmed = True  # as after the file dialog's "Replace?"
        return SaveAsDialog.DialogCode.Accepted

    monkeypatch.setattr(SaveAsDialog, "exec", confirm_overwrite)
    window.settings.export_format = "png"
    window.save_as_action.trigger()
    qtbot.waitUntil(lambda: window.queue.item(0).saved_to is not None
                    or "Could not save" in window.statusBar().currentMessage(), timeout=10000)
    assert "Could not save" not in window.statusBar().currentMessage()
    assert window.queue.item(0).saved_to == target
    assert engine.calls == 2  # enhanced again for the save
    with Image.open(target) as saved:
        assert saved.size == (48, 32)
    assert sorted(p.name for p in target.parent.iterdir()) == ["dark_enhanced.png"]
