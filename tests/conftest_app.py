"""Fixtures for the desktop-app tests: stub engines, small photos, windows with private settings.

Import with ``from conftest_app import *`` in ``tests/test_app_*.py``.
"""

from __future__ import annotations

import os
import threading
import time
from collections.abc import Callable, Generator, Iterator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
import pytest
from PIL import Image

from core.engine import ProgressEvent
from core.steps import run_to_end

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

__all__ = ["StubEngine", "run_job", "make_photo", "photo_dir", "stub_engine", "make_window", "isolated_user_dirs",
           "empty_clipboard", "wait_idle"]


class StubEngine:
    """A stand-in for ``core.engine.Enhancer``: brightens, reports tiles, counts calls; cancelled
    at any of its steps (``enhance_steps``) or by ``cancel`` (``enhance``)."""

    def __init__(self, tiles: int = 4, delay: float = 0.0) -> None:
        self.tiles = tiles
        self.delay = delay
        self.calls = 0
        self.exposures: list[float] = []
        self.started = threading.Event()
        self.info = SimpleNamespace(summary=lambda: "stub preset, val 20.00 dB", preset="stub", val_psnr=20.0)
        self.device_name = "CPU (stub)"

    def enhance_steps(self, image: np.ndarray, mode: str = "fast", strength: float = 1.0,
                      cancel: threading.Event | None = None,
                      exposure: float = 0.0) -> Generator[ProgressEvent, None, np.ndarray]:
        """One progress event per (slow, with ``delay``) tile; the result: a brighter image."""
        self.calls += 1
        self.exposures.append(exposure)
        self.started.set()
        for i in range(self.tiles):
            if self.delay:
                time.sleep(self.delay)
            yield ProgressEvent(i + 1, self.tiles, "tiles")
        out = np.clip(image * 2.0 * 2.0**exposure + 0.1, 0.0, 1.0).astype(np.float32)
        return image + strength * (out - image)

    def enhance(self, image: np.ndarray, mode: str = "fast", strength: float = 1.0,
                progress: Callable | None = None, cancel: threading.Event | None = None,
                exposure: float = 0.0) -> np.ndarray:
        """:meth:`enhance_steps` to the end (core.batch's path); raises CancelledError on ``cancel``."""
        return run_to_end(self.enhance_steps(image, mode, strength, exposure=exposure), progress, cancel)


def run_job(steps: Generator[Any, None, Any]) -> tuple[list[Any], Any]:
    """Drive a generator job as a Worker does, on this thread: (its yielded events, its result)."""
    events: list[Any] = []
    result = run_to_end(steps, lambda event: events.append(event) if event is not None else None)
    return events, result


def make_photo(path: Path, size: tuple[int, int] = (48, 32), seed: int = 0) -> Path:
    """A small dark photo (JPEG or PNG by suffix)."""
    rng = np.random.default_rng(seed)
    w, h = size
    pixels = (rng.random((h, w, 3)) * 70).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)
    return path


@pytest.fixture(autouse=True)
def isolated_user_dirs(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """Keep platformdirs/QStandardPaths away from the real user's folders."""
    home = tmp_path / "home"
    for var, sub in (("XDG_DATA_HOME", "data"), ("XDG_CONFIG_HOME", "config"), ("XDG_CACHE_HOME", "cache")):
        (home / sub).mkdir(parents=True, exist_ok=True)
        monkeypatch.setenv(var, str(home / sub))
    return home


@pytest.fixture(autouse=True)
def empty_clipboard() -> Iterator[None]:
    """Empty the clipboard after each test.

    Mime data a test hands to the clipboard is owned by Qt's clipboard store, a static object
    of libQt6Gui that is destroyed by the C runtime's exit handlers, after Python has shut down:
    deleting the QMimeData then calls into the gone interpreter (via its PySide wrapper) and the
    test process ends with SIGSEGV. Emptying the clipboard deletes it while Python is alive.
    """
    yield
    from PySide6.QtGui import QGuiApplication

    if QGuiApplication.instance() is not None:
        QGuiApplication.clipboard().clear()


@pytest.fixture
def photo_dir(tmp_path: Path) -> Path:
    """A folder with three small photos."""
    folder = tmp_path / "photos"
    for i, name in enumerate(("a.jpg", "b.png", "c.jpg")):
        make_photo(folder / name, seed=i)
    return folder


@pytest.fixture
def stub_engine() -> StubEngine:
    return StubEngine()


@pytest.fixture
def make_window(qtbot, tmp_path: Path) -> Iterator[Callable]:  # type: ignore[no-untyped-def]
    """Build a MainWindow with private settings and a stub engine; closes it afterwards."""
    from desktop_app.main_window import MainWindow
    from desktop_app.settings import open_store

    windows = []

    def build(engine: object | None = None, settings_path: Path | None = None, load_model: bool = True,
              factory: Callable | None = None) -> MainWindow:
        store = open_store(settings_path or tmp_path / "settings.ini")
        eng = engine if engine is not None else StubEngine()
        window = MainWindow(store, factory or (lambda weights: eng), load_model=load_model)
        qtbot.addWidget(window)
        windows.append(window)
        window.resize(1000, 700)
        if load_model:
            qtbot.waitUntil(lambda: window.engine is not None or not window.models.busy, timeout=10000)
        return window

    yield build
    for window in windows:
        if not window._closing:
            window.close()


def wait_idle(qtbot, window, timeout: int = 15000) -> None:  # type: ignore[no-untyped-def]
    """Wait until no photo is queued or being enhanced, and no job is left in the pools."""
    from desktop_app.models.photo_queue import PhotoState

    def idle() -> bool:
        counts = window.queue.counts()
        return (counts[PhotoState.QUEUED] == 0 and counts[PhotoState.WORKING] == 0
                and not window.runner.is_busy() and not window.io_runner.is_busy())

    qtbot.waitUntil(idle, timeout=timeout)
