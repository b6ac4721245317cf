"""QApplication set-up: identity, dark theme, logging, the main window."""

from __future__ import annotations

import argparse
import logging
import sys
from collections.abc import Sequence
from pathlib import Path

from PySide6.QtCore import QSettings
from PySide6.QtGui import QColor, QPalette
from PySide6.QtWidgets import QApplication

from . import APP_DISPLAY_NAME, APP_NAME, __version__
from .resources import icon

log = logging.getLogger(__name__)


def dark_palette() -> QPalette:
    """A neutral dark palette: photos are judged best on a dark grey surround."""
    p = QPalette()
    roles = {
        QPalette.ColorRole.Window: "#1f2228",
        QPalette.ColorRole.WindowText: "#e6e9ef",
        QPalette.ColorRole.Base: "#17191e",
        QPalette.ColorRole.AlternateBase: "#23262d",
        QPalette.ColorRole.ToolTipBase: "#2b2f38",
        QPalette.ColorRole.ToolTipText: "#e6e9ef",
        QPalette.ColorRole.Text: "#e6e9ef",
        QPalette.ColorRole.Button: "#2a2e36",
        QPalette.ColorRole.ButtonText: "#e6e9ef",
        QPalette.ColorRole.BrightText: "#ff6b6b",
        QPalette.ColorRole.Highlight: "#4a6cf7",
        QPalette.ColorRole.HighlightedText: "#ffffff",
        QPalette.ColorRole.Link: "#8fa8ff",
        QPalette.ColorRole.PlaceholderText: "#7d8594",
    }
    for role, colour in roles.items():
        p.setColor(role, QColor(colour))
    for role in (QPalette.ColorRole.WindowText, QPalette.ColorRole.Text, QPalette.ColorRole.ButtonText):
        p.setColor(QPalette.ColorGroup.Disabled, role, QColor("#6b7280"))
    return p


def create_application(argv: Sequence[str] | None = None) -> QApplication:
    """The QApplication (reused when one exists, e.g. under pytest-qt)."""
    app = QApplication.instance()
    if app is None:
        app = QApplication(list(argv) if argv is not None else sys.argv[:1])
    assert isinstance(app, QApplication)
    app.setApplicationName(APP_NAME)
    app.setOrganizationName(APP_NAME)
    app.setApplicationDisplayName(APP_DISPLAY_NAME)
    app.setApplicationVersion(__version__)
    app.setWindowIcon(icon("app"))
    app.setStyle("Fusion")
    app.setPalette(dark_palette())
    return app


def parse_args(argv: Sequence[str]) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="lowlight-studio", description="Enhance dark, noisy photos.")
    parser.add_argument("files", nargs="*", type=Path, help="photos or folders to open")
    parser.add_argument("--weights", type=Path, help="model weights (.safetensors) to use this time")
    parser.add_argument("--settings", type=Path, help="use this INI file for settings (testing)")
    parser.add_argument("--verbose", "-v", action="store_true", help="debug logging")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    return parser.parse_args(list(argv))


def run(argv: Sequence[str] | None = None) -> int:
    """Start the GUI; returns the exit code."""
    args = parse_args(sys.argv[1:] if argv is None else argv)
    logging.basicConfig(level=logging.DEBUG if args.verbose else logging.INFO,
                        format="%(asctime)s %(levelname)s %(name)s: %(message)s")
    app = create_application([sys.argv[0]])
    from .main_window import MainWindow
    from .settings import open_store

    store: QSettings = open_store(args.settings)
    # --weights is for this run only: the window uses it but never writes it to the settings
    window = MainWindow(store, weights=args.weights.absolute() if args.weights is not None else None)
    window.show()
    if args.files:
        window.add_paths([p.resolve() for p in args.files])
    return app.exec()
