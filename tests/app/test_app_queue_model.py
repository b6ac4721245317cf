"""PhotoQueueModel, tested without any window."""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import Qt
from PySide6.QtGui import QImage

from desktop_app.models.photo_queue import PhotoQueueModel, PhotoState


def test_model_passes_qt_model_tester(qtmodeltester, tmp_path: Path) -> None:
    model = PhotoQueueModel()
    model.add_paths([tmp_path / "a.jpg", tmp_path / "b.jpg"])
    qtmodeltester.check(model)


def test_add_paths_dedupes_and_reports_new_rows(qtbot, tmp_path: Path) -> None:
    model = PhotoQueueModel()
    with qtbot.waitSignal(model.rowsInserted):
        rows = model.add_paths([tmp_path / "a.jpg", tmp_path / "b.jpg", tmp_path / "a.jpg"])
    assert rows == [0, 1]
    assert model.add_paths([tmp_path / "b.jpg"]) == []
    assert model.add_paths([tmp_path / "c.jpg"]) == [2]
    assert model.rowCount() == 3
    assert model.row_of(tmp_path / "c.jpg") == 2
    assert model.row_of(tmp_path / "zzz.jpg") == -1


def test_states_roles_and_text(qtbot, tmp_path: Path) -> None:
    model = PhotoQueueModel()
    model.add_paths([tmp_path / "a.jpg", tmp_path / "b.jpg"])
    index = model.index(0, 0)
    assert index.data(Qt.ItemDataRole.DisplayRole) == "a.jpg"
    assert index.data(PhotoQueueModel.StateRole) == "queued"
    assert index.data(PhotoQueueModel.StatusTextRole) == "Queued"
    with qtbot.waitSignal(model.dataChanged):
        model.set_state(0, PhotoState.WORKING, progress=0.0)
    model.set_progress(0, 0.42)
    assert index.data(PhotoQueueModel.StatusTextRole) == "Working… 42 %"
    assert index.data(PhotoQueueModel.ProgressRole) == 0.42
    model.set_state(1, PhotoState.FAILED, error="not an image")
    assert model.index(1, 0).data(PhotoQueueModel.StatusTextRole) == "Failed: not an image"
    assert model.index(1, 0).data(PhotoQueueModel.ErrorRole) == "not an image"
    assert "not an image" in model.index(1, 0).data(Qt.ItemDataRole.ToolTipRole)
    model.set_result(0, object())
    assert index.data(PhotoQueueModel.StateRole) == "done"
    assert index.data(PhotoQueueModel.ProgressRole) == 1.0
    image = QImage(4, 4, QImage.Format.Format_RGB888)
    model.set_thumbnail(0, image, (4000, 3000))
    assert index.data(Qt.ItemDataRole.DecorationRole).size() == image.size()
    assert "4000 × 3000" in index.data(Qt.ItemDataRole.ToolTipRole)
    assert model.counts() == {PhotoState.QUEUED: 0, PhotoState.WORKING: 0, PhotoState.DONE: 1,
                              PhotoState.FAILED: 1, PhotoState.CANCELLED: 0}
    assert b"statusText" in model.roleNames().values()


def test_next_queued_prefers_selection_and_rows_can_be_removed(tmp_path: Path) -> None:
    model = PhotoQueueModel()
    model.add_paths([tmp_path / f"{i}.jpg" for i in range(4)])
    assert model.next_queued() == 0
    assert model.next_queued(preferred=2) == 2
    model.set_state(0, PhotoState.DONE)
    model.set_state(2, PhotoState.WORKING)
    assert model.next_queued(preferred=2) == 1
    assert model.removeRows(1, 2)
    assert [item.path.name for item in model.items()] == ["0.jpg", "3.jpg"]
    assert not model.removeRows(5, 1)
