"""Fixtures of the desktop-app tests (tests/app): private user folders and clipboard, small photos,
windows with private settings and a stub engine. Plain helpers (StubEngine, make_photo, ...) are in
app_helpers.py."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path

import pytest
from app_helpers import StubEngine, make_photo

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")


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
