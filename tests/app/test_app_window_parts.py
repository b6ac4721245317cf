"""The main window's helpers, tested without a window: model choice, inputs, save routing, texts."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from app_helpers import StubEngine, make_photo
from PySide6.QtCore import QMimeData
from PySide6.QtGui import QColor, QImage

from core.errors import WeightsError
from desktop_app.inputs import find_photos, save_pasted_image
from desktop_app.jobs import EnhanceResult, ExportOptions, enhance_and_save_job, save_job
from desktop_app.messages import error_text, queue_summary
from desktop_app.model_loader import ModelLoader, load_failure_text
from desktop_app.models.photo_queue import PhotoItem, PhotoState
from desktop_app.saving import default_target, export_options, plan_save, remember_export
from desktop_app.settings import AppSettings
from desktop_app.widgets.viewer import overlay_text
from desktop_app.workers import JobRunner


def test_model_choice_session_weights_until_the_user_picks(qtbot, tmp_path: Path) -> None:
    settings = AppSettings(weights_path=str(tmp_path / "saved.safetensors"))
    loader = ModelLoader(settings, JobRunner(), lambda weights: StubEngine(), tmp_path / "once.safetensors")
    assert loader.chosen_weights() == tmp_path / "once.safetensors"
    loader.choose(None)  # the bundled model
    assert loader.chosen_weights() is None and settings.weights_path == ""
    assert loader.entries()[0].path is None
    with qtbot.waitSignal(loader.loaded) as loaded, qtbot.waitSignal(loader.finished):
        loader.load(None)
    assert loaded.args[0].device == "CPU (stub)" and not loader.busy


def test_model_failure_is_reported_as_text(qtbot, tmp_path: Path) -> None:
    def factory(weights):
        raise WeightsError(weights, "not a weights file")

    loader = ModelLoader(AppSettings(), JobRunner(), factory)
    with qtbot.waitSignal(loader.failed) as failed:
        loader.load(tmp_path / "bad.safetensors")
    assert failed.args == ["Cannot load model bad.safetensors: not a weights file"]
    assert load_failure_text(tmp_path / "x.safetensors", MemoryError()) == (
        "Cannot load model x.safetensors: not enough memory for this photo")


def test_find_photos_searches_folders_and_names_problems(tmp_path: Path) -> None:
    make_photo(tmp_path / "in" / "a.jpg")
    make_photo(tmp_path / "in" / "sub" / "b.png")
    (tmp_path / "in" / "notes.txt").write_text("x")
    files, problems = find_photos([tmp_path / "in", tmp_path / "missing.jpg"])
    assert sorted(p.name for p in files) == ["a.jpg", "b.png"]
    assert problems == [f"Not found: {tmp_path / 'missing.jpg'}"]


def test_pasted_image_becomes_a_png_with_a_free_name(qtbot, tmp_path: Path) -> None:
    image = QImage(8, 6, QImage.Format.Format_RGB32)
    image.fill(QColor(30, 40, 50))
    mime = QMimeData()
    mime.setImageData(image)
    first = save_pasted_image(mime, tmp_path)
    second = save_pasted_image(mime, tmp_path)
    assert first is not None and second is not None and first != second
    assert first.suffix == ".png" and QImage(str(first)).size() == image.size()
    assert save_pasted_image(QMimeData(), tmp_path) is None


def test_default_target_uses_the_last_folder_while_it_exists(tmp_path: Path) -> None:
    photo = tmp_path / "in" / "dark.jpg"
    settings = AppSettings(export_format="png", last_save_dir=str(tmp_path / "gone"))
    assert default_target(photo, settings) == photo.parent / "dark_enhanced.png"
    settings.last_save_dir = str(tmp_path)
    assert default_target(photo, settings) == tmp_path / "dark_enhanced.png"


def _result(path: Path, exposure: float = 0.0) -> EnhanceResult:
    pixels = np.zeros((4, 4, 3), np.uint8)
    levels = [pixels]
    return EnhanceResult(path, "fast", "stub", object(), pixels, pixels, pixels, levels, levels, pixels,
                         exposure=exposure)


def test_save_routing(qtbot, tmp_path: Path) -> None:
    kept = _result(tmp_path / "a.jpg")
    plan = plan_save(kept, tmp_path / "out.jpg", ExportOptions(), strength=1.0, exposure=0.0, engine=None)
    assert plan.worker.fn is save_job and not plan.needs_model and not plan.worker.cancellable
    other_exposure = plan_save(kept, tmp_path / "out.jpg", ExportOptions(), strength=1.0, exposure=1.0,
                               engine=StubEngine(), overwrite=True)
    assert other_exposure.worker.fn is enhance_and_save_job and other_exposure.needs_model
    assert other_exposure.worker.kwargs["overwrite"] is True and other_exposure.worker.kwargs["exposure"] == 1.0
    freed = _result(tmp_path / "b.jpg")
    freed.drop_full_resolution()
    with pytest.raises(RuntimeError):
        plan_save(freed, tmp_path / "out.jpg", ExportOptions(), strength=1.0, exposure=0.0, engine=None)


def test_texts() -> None:
    counts = dict.fromkeys(PhotoState, 0)
    assert queue_summary(counts) == ""
    counts.update({PhotoState.DONE: 2, PhotoState.QUEUED: 1, PhotoState.WORKING: 1, PhotoState.FAILED: 1})
    assert queue_summary(counts) == "5 photos · 2 done · 2 to do · 1 failed"
    assert error_text(WeightsError("w", "broken")) == "broken" and error_text(ValueError()) == "ValueError"
    item = PhotoItem(Path("a.jpg"))
    assert overlay_text(item, has_model=False) == "Waiting for a model"
    assert overlay_text(item, has_model=True) == "Queued"
    item.state, item.progress = PhotoState.WORKING, 0.42
    assert overlay_text(item, has_model=True) == "Enhancing… 42 %"
    item.state = PhotoState.DONE
    assert overlay_text(item, has_model=True) == ""


def test_export_options_come_from_and_go_to_the_settings(tmp_path: Path) -> None:
    settings = AppSettings(export_format="png", jpeg_quality=80, keep_metadata=False)
    assert export_options(settings) == ExportOptions("png", 80, False)
    remember_export(settings, ExportOptions("webp", 70, True), tmp_path)
    assert (settings.export_format, settings.jpeg_quality, settings.keep_metadata) == ("webp", 70, True)
    assert settings.last_save_dir == str(tmp_path)


def test_exposure_settles_once_after_a_drag(qtbot) -> None:
    from desktop_app.widgets.controls import ControlPanel

    panel = ControlPanel()
    qtbot.addWidget(panel)
    changed: list[float] = []
    settled: list[float] = []
    panel.exposure_changed.connect(changed.append)
    panel.exposure_settled.connect(settled.append)
    with qtbot.waitSignal(panel.exposure_settled):
        for ev in (0.2, 0.5, 0.8):  # a drag: three steps in quick succession
            panel.exposure.set_value(ev)
    assert changed == [0.2, 0.5, 0.8] and settled == [0.8]
