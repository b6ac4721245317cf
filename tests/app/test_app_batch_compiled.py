"""The batch export builds the faster compiled engine first where core's policy says it pays back:
the build is the job's first step (progress, status bar, cancel), a setting switches it off, and a
failed build leaves the batch eager with a note. A fake builder stands in for AOTInductor."""

from __future__ import annotations

import threading
from pathlib import Path

import pytest
from app_helpers import make_photo, run_job
from compiled_fakes import compilable_weights, install_fake_builder, process_gone

from core.batch import BatchOptions, BatchProgress, EnginePrepared
from core.compiled import BuildProgress
from core.engine import EngineConfig, Enhancer
from desktop_app.batch_dialog import BatchDialog, batch_job
from desktop_app.settings import AppSettings
from desktop_app.workers import JobRunner

pytestmark = pytest.mark.usefixtures("one_torch_thread")


@pytest.fixture
def engine(tmp_path: Path) -> Enhancer:
    return Enhancer(compilable_weights(tmp_path), device="cpu", config=EngineConfig(tile=64))


@pytest.fixture
def shoot(tmp_path: Path) -> Path:
    folder = tmp_path / "shoot"
    for i in range(2):
        make_photo(folder / f"p{i}.png", size=(80, 72), seed=i)
    return folder


def _dialog(qtbot, engine, folder: Path, out: Path, **settings) -> BatchDialog:
    dialog = BatchDialog(AppSettings(batch_input_dir=str(folder), batch_output_dir=str(out), mode="full",
                                     **settings), JobRunner(), engine)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def test_the_batch_job_builds_first_then_enhances(tmp_path, engine, shoot, monkeypatch) -> None:
    fake = install_fake_builder(monkeypatch, tmp_path)
    inputs = sorted(shoot.iterdir())
    events, report = run_job(batch_job(engine, inputs, tmp_path / "out", BatchOptions(mode="full"),
                                       report=lambda step: None, cancel=threading.Event()))
    kinds = [type(event) for event in events]
    first_file = kinds.index(BatchProgress)
    assert BuildProgress in kinds[:first_file] and EnginePrepared in kinds[:first_file]
    assert all(kind is not BuildProgress for kind in kinds[first_file:])
    assert len(report.succeeded) == 2 and fake.tile_calls


def test_cancel_before_the_batch_starts_builds_nothing(tmp_path, engine, shoot, monkeypatch) -> None:
    fake = install_fake_builder(monkeypatch, tmp_path, "hang")
    cancel = threading.Event()
    cancel.set()
    _events, report = run_job(batch_job(engine, sorted(shoot.iterdir()), tmp_path / "out",
                                        BatchOptions(mode="full"), report=lambda step: None, cancel=cancel))
    assert report.cancelled and not report.succeeded and not fake.started


def test_dialog_shows_the_build_and_cancel_stops_it(qtbot, tmp_path, engine, shoot, monkeypatch) -> None:
    fake = install_fake_builder(monkeypatch, tmp_path, "hang")
    out = tmp_path / "out"
    dialog = _dialog(qtbot, engine, shoot, out)
    with qtbot.waitSignal(dialog.status_message, timeout=20000) as status:
        dialog.start_button.click()
    assert "Preparing a faster engine for this CPU" in status.args[0]
    assert "Preparing a faster engine" in dialog.overall_label.text()
    qtbot.waitUntil(lambda: fake.started, timeout=20000)
    dialog.cancel_button.click()
    assert "engine build" in dialog.overall_label.text()
    qtbot.waitUntil(lambda: not dialog.cancel_button.isEnabled(), timeout=20000)
    assert dialog.report.cancelled and not dialog.report.succeeded
    assert process_gone(fake.child_pid())
    assert not [p for p in out.iterdir() if p.is_file()]


def test_the_setting_switches_the_build_off(qtbot, tmp_path, engine, shoot, monkeypatch) -> None:
    fake = install_fake_builder(monkeypatch, tmp_path)
    dialog = _dialog(qtbot, engine, shoot, tmp_path / "out", batch_compiled_engine=False)
    assert not dialog.compiled_engine.isChecked()
    with qtbot.waitSignal(dialog.batch_finished, timeout=20000):
        dialog.start_button.click()
    assert len(dialog.report.succeeded) == 2 and not fake.started


def test_a_failed_build_is_noted_and_the_batch_runs_eagerly(qtbot, tmp_path, engine, shoot, monkeypatch) -> None:
    install_fake_builder(monkeypatch, tmp_path, "fail")
    dialog = _dialog(qtbot, engine, shoot, tmp_path / "out")
    messages: list[str] = []
    dialog.status_message.connect(messages.append)
    with qtbot.waitSignal(dialog.batch_finished, timeout=20000):
        dialog.start_button.click()
    assert len(dialog.report.succeeded) == 2
    assert any("boom: the C++ compiler crashed" in m for m in messages)
    assert "could not be prepared" in dialog.summary.toPlainText()
