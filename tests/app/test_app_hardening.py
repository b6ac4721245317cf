"""The app against bad files and weights, Esc, and --weights for one run only (issue 12)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest
from app_helpers import StubEngine, make_photo, wait_idle

from desktop_app.models.photo_queue import PhotoState

pytestmark = pytest.mark.timeout(120)


def test_a_failed_photo_shows_its_reason_when_selected(qtbot, make_window, tmp_path: Path) -> None:
    window = make_window()
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"this is not a jpeg")
    good = make_photo(tmp_path / "good.jpg")
    window.add_paths([good, bad])
    wait_idle(qtbot, window)
    item = window.queue.item(1)
    assert item.state is PhotoState.FAILED and item.error
    window.select_row(1)
    assert window.view._message.startswith("Cannot show broken.jpg") and item.error in window.view._message
    assert "Loading" not in window.view._message


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_fifo_fails_at_once_and_the_window_still_closes(qtbot, make_window, tmp_path: Path) -> None:
    folder = tmp_path / "photos"
    make_photo(folder / "a.jpg")
    os.mkfifo(folder / "pipe.jpg")
    window = make_window()
    window.add_paths([folder])
    wait_idle(qtbot, window, timeout=10000)
    states = {item.path.name: item for item in window.queue.items()}
    assert states["a.jpg"].state is PhotoState.DONE
    assert states["pipe.jpg"].state is PhotoState.FAILED and "named pipe" in states["pipe.jpg"].error
    assert window.runner.shutdown(3000) and window.io_runner.shutdown(3000)


def test_esc_marks_the_photo_cancelled_and_says_what_happens_next(qtbot, make_window, tmp_path: Path) -> None:
    engine = StubEngine(tiles=400, delay=0.02)
    window = make_window(engine)
    window.add_paths([make_photo(tmp_path / "one.jpg"), make_photo(tmp_path / "two.jpg", seed=1)])
    assert engine.started.wait(5)
    qtbot.waitUntil(lambda: window.queue.item(0).progress > 0)
    window.cancel_action.trigger()  # Esc
    qtbot.waitUntil(lambda: window.queue.item(0).state is PhotoState.CANCELLED, timeout=5000)
    assert "Cancelled one.jpg; going on with the next photo (1 waiting)" in window.statusBar().currentMessage()
    assert "cancelled" in window.queue_label.text() and "failed" not in window.queue_label.text()
    qtbot.waitUntil(lambda: window.queue.item(1).state is PhotoState.WORKING, timeout=5000)
    window.cancel_action.trigger()
    qtbot.waitUntil(lambda: window.queue.item(1).state is PhotoState.CANCELLED, timeout=5000)
    assert "no other photo is waiting" in window.statusBar().currentMessage()
    window.select_row(0)
    assert window.queue.item(0).status_text == "Cancelled"
    assert window.queue.counts()[PhotoState.FAILED] == 0


def _huge(tiny_weights: Path, target: Path) -> Path:
    from safetensors import safe_open
    from safetensors.torch import load_file, save_file

    with safe_open(str(tiny_weights), framework="pt") as handle:
        meta = dict(handle.metadata())
    arch = json.loads(meta["architecture"])
    arch.update(channels=4096, num_rrg=64, num_mrb=16)
    save_file(load_file(str(tiny_weights)), str(target), metadata=dict(meta, architecture=json.dumps(arch)))
    return target


@pytest.mark.parametrize("kind", ["huge", "fifo"])
def test_bad_saved_weights_give_a_message_not_a_crash(qtbot, make_window, tmp_path: Path, tiny_weights: Path,
                                                      kind: str) -> None:
    from desktop_app import engine as eng
    from desktop_app.settings import open_store

    path = tmp_path / "model.safetensors"
    if kind == "huge":
        _huge(tiny_weights, path)
    else:
        os.mkfifo(path)
    store = open_store(tmp_path / "settings.ini")
    store.setValue("weights_path", str(path))
    store.sync()
    window = make_window(settings_path=tmp_path / "settings.ini", factory=eng.load_engine)
    qtbot.waitUntil(lambda: not window.models.busy, timeout=10000)
    assert window.engine is None
    text = window.controls.model_info.text()
    assert "Cannot load model model.safetensors" in text
    assert ("more than 100.0 M is refused" if kind == "huge" else "named pipe") in text


def test_command_line_weights_are_for_this_run_only(qtbot, make_window, tmp_path: Path) -> None:
    from desktop_app.main_window import MainWindow
    from desktop_app.settings import load_settings, open_store

    settings = tmp_path / "settings.ini"
    store = open_store(settings)
    store.setValue("weights_path", str(tmp_path / "saved.safetensors"))
    store.sync()
    asked: list[Path | None] = []
    window = MainWindow(open_store(settings), lambda weights: asked.append(weights) or StubEngine(),
                        weights=tmp_path / "once.safetensors")
    qtbot.addWidget(window)
    qtbot.waitUntil(lambda: window.engine is not None, timeout=10000)
    assert asked == [tmp_path / "once.safetensors"] and window.models.chosen_weights() == tmp_path / "once.safetensors"
    window.close()
    assert load_settings(open_store(settings)).weights_path == str(tmp_path / "saved.safetensors")


def test_app_run_passes_weights_without_saving_them(monkeypatch, tmp_path: Path) -> None:
    import desktop_app.app as app_module
    import desktop_app.main_window as main_window
    from desktop_app.settings import load_settings, open_store

    made = {}

    class FakeWindow:
        def __init__(self, store, weights=None):
            made["weights"] = weights

        def show(self):
            pass

    class FakeApp:
        def exec(self):
            return 0

    monkeypatch.setattr(main_window, "MainWindow", FakeWindow)
    monkeypatch.setattr(app_module, "create_application", lambda argv: FakeApp())
    settings = tmp_path / "s.ini"
    assert app_module.run(["--weights", str(tmp_path / "m.safetensors"), "--settings", str(settings)]) == 0
    assert made["weights"] == tmp_path / "m.safetensors"
    assert load_settings(open_store(settings)).weights_path == ""
