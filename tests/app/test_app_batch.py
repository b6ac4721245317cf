"""Batch export dialog (core.batch underneath): failures reported, originals untouched, clean cancel."""

from __future__ import annotations

import hashlib
from pathlib import Path

import pytest
from app_helpers import StubEngine, make_photo
from PIL import Image

from desktop_app.batch_dialog import BatchDialog, format_eta, summary_text
from desktop_app.settings import AppSettings
from desktop_app.workers import JobRunner


def _digest(folder: Path) -> dict[str, str]:
    return {p.name: hashlib.sha256(p.read_bytes()).hexdigest() for p in sorted(folder.iterdir()) if p.is_file()}


@pytest.fixture
def five_with_one_corrupt(tmp_path: Path) -> Path:
    folder = tmp_path / "shoot"
    for i in range(4):
        make_photo(folder / f"img{i}.jpg", size=(40, 30), seed=i)
    (folder / "img4_corrupt.jpg").write_bytes(b"\xff\xd8\xff\xe0 truncated garbage")
    return folder


def _dialog(qtbot, engine, folder: Path, out: Path, **settings) -> BatchDialog:
    runner = JobRunner()
    dialog = BatchDialog(AppSettings(batch_input_dir=str(folder), batch_output_dir=str(out), **settings),
                         runner, engine)
    qtbot.addWidget(dialog)
    dialog.show()
    return dialog


def test_batch_exports_folder_and_reports_failure(qtbot, five_with_one_corrupt: Path, tmp_path: Path) -> None:
    before = _digest(five_with_one_corrupt)
    out = tmp_path / "out"
    dialog = _dialog(qtbot, StubEngine(), five_with_one_corrupt, out)
    assert dialog.found_label.text() == "5 photos found"
    dialog.format_combo.setCurrentIndex(dialog.format_combo.findData("png"))
    with qtbot.waitSignal(dialog.batch_finished, timeout=20000):
        dialog.start_button.click()
    report = dialog.report
    assert len(report.succeeded) == 4 and len(report.failed) == 1
    outputs = sorted(p.name for p in out.iterdir())
    assert outputs == [f"img{i}_enhanced.png" for i in range(4)]
    for name in outputs:
        with Image.open(out / name) as image:
            assert image.size == (40, 30)
    summary = dialog.summary.toPlainText()
    assert "4 saved" in summary and "1 failed" in summary and "img4_corrupt.jpg" in summary
    assert _digest(five_with_one_corrupt) == before  # originals byte-identical
    assert dialog.overall_bar.value() == 1000
    # skip existing: a second run skips the four and fails the corrupt one again
    dialog.skip_existing.setChecked(True)
    with qtbot.waitSignal(dialog.batch_finished, timeout=20000):
        dialog.start_button.click()
    assert len(dialog.report.skipped) == 4 and len(dialog.report.succeeded) == 0


def test_cancel_mid_batch_leaves_no_partial_files(qtbot, tmp_path: Path) -> None:
    folder = tmp_path / "many"
    for i in range(6):
        make_photo(folder / f"p{i}.png", size=(32, 24), seed=i)
    before = _digest(folder)
    out = tmp_path / "out"
    engine = StubEngine(tiles=50, delay=0.01)
    dialog = _dialog(qtbot, engine, folder, out)
    dialog.start_button.click()
    qtbot.waitUntil(lambda: engine.calls >= 2, timeout=20000)
    with qtbot.waitSignal(dialog.batch_finished, timeout=20000):
        dialog.cancel_button.click()
    report = dialog.report
    assert report.cancelled
    written = sorted(out.iterdir())
    assert [p.name for p in written] == sorted(Path(o).name for _, o in report.succeeded)
    assert len(written) < 6
    for path in written:  # every file that exists is complete
        with Image.open(path) as image:
            image.load()
    assert not [p for p in out.iterdir() if p.name.startswith(".")]
    assert "Cancelled" in dialog.summary.toPlainText()
    assert _digest(folder) == before


def test_closing_while_running_cancels_first(qtbot, tmp_path: Path) -> None:
    folder = tmp_path / "many"
    for i in range(3):
        make_photo(folder / f"p{i}.png", seed=i)
    engine = StubEngine(tiles=100, delay=0.01)
    dialog = _dialog(qtbot, engine, folder, tmp_path / "out")
    dialog.start_button.click()
    qtbot.waitUntil(lambda: engine.calls >= 1, timeout=10000)
    dialog.close()
    assert dialog.isVisible()  # stays until the worker stopped
    qtbot.waitUntil(lambda: not dialog.isVisible(), timeout=10000)
    assert dialog.report.cancelled


def test_helpers() -> None:
    from core.batch import BatchReport

    assert format_eta(None) == "estimating…"
    assert format_eta(75) == "1 min 15 s left"
    text = summary_text(BatchReport(failed=[(Path("x.jpg"), "broken")], elapsed_s=1.0))
    assert "x.jpg: broken" in text and "Notes" not in text
    text = summary_text(BatchReport(notes=[(Path("y.jpg"), "y.jpg is the name of an input")], elapsed_s=1.0))
    assert "Notes:" in text and "y.jpg: y.jpg is the name of an input" in text
