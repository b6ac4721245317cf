"""All user preferences in one dataclass, persisted with :class:`QSettings`."""

from __future__ import annotations

import logging
import math
from dataclasses import dataclass, field, fields
from pathlib import Path
from typing import Any

from PySide6.QtCore import QByteArray, QSettings

from core.formats import OUTPUT_FORMATS, output_format

from . import APP_NAME

log = logging.getLogger(__name__)

MODES = ("fast", "full")
#: Export formats: core's one vocabulary (``jpg``, ``png``, ``tif``, ``webp``, ``heic``).
FORMATS = tuple(OUTPUT_FORMATS)
FORMAT_EXTENSIONS = {name: fmt.extension for name, fmt in OUTPUT_FORMATS.items()}


@dataclass
class AppSettings:
    """Everything the application remembers between runs."""

    last_open_dir: str = ""
    last_save_dir: str = ""
    batch_input_dir: str = ""
    batch_output_dir: str = ""
    mode: str = "fast"
    strength: float = 1.0
    exposure: float = 0.0  # stops from the automatic exposure
    weights_path: str = ""  # "" = the bundled default model
    export_format: str = "jpg"
    jpeg_quality: int = 95
    keep_metadata: bool = True
    save_suffix: str = "_enhanced"
    batch_recursive: bool = False
    batch_skip_existing: bool = True
    #: Batch export in full mode first builds the faster compiled engine when
    #: ``core.compiled.should_build`` says it pays back (minutes, once per model and CPU).
    batch_compiled_engine: bool = True
    window_geometry: bytes = field(default=b"", repr=False)
    splitter_state: bytes = field(default=b"", repr=False)

    def normalised(self) -> AppSettings:
        """A copy with out-of-range values replaced by defaults (settings files get edited by hand)."""
        defaults = AppSettings()
        if self.mode not in MODES:
            self.mode = defaults.mode
        try:  # older settings files say "jpeg" / "tiff"
            self.export_format = output_format(str(self.export_format)).name
        except ValueError:
            self.export_format = defaults.export_format
        self.jpeg_quality = min(100, max(1, int(self.jpeg_quality)))
        self.strength = min(1.0, max(0.0, float(self.strength)))
        exposure = float(self.exposure)
        self.exposure = min(3.0, max(-3.0, exposure)) if math.isfinite(exposure) else 0.0
        return self


def _read(store: QSettings, name: str, default: Any) -> Any:
    raw = store.value(name, None)
    if raw is None:
        return default
    try:
        if isinstance(default, bool):
            return raw if isinstance(raw, bool) else str(raw).strip().lower() in {"1", "true", "yes", "on"}
        if isinstance(default, bytes):
            return bytes(raw.data()) if isinstance(raw, QByteArray) else bytes(raw)
        if isinstance(default, float):
            return float(raw)
        if isinstance(default, int):
            return int(raw)
        return str(raw)
    except (TypeError, ValueError):
        log.warning("ignoring unreadable setting %s=%r", name, raw)
        return default


def load_settings(store: QSettings) -> AppSettings:
    """Read :class:`AppSettings` from ``store``; missing or broken keys fall back to defaults."""
    defaults = AppSettings()
    values = {f.name: _read(store, f.name, getattr(defaults, f.name)) for f in fields(AppSettings)}
    return AppSettings(**values).normalised()


def save_settings(store: QSettings, settings: AppSettings) -> None:
    """Write every field of ``settings`` to ``store`` and flush it to disk."""
    for f in fields(AppSettings):
        value = getattr(settings, f.name)
        store.setValue(f.name, QByteArray(value) if isinstance(value, bytes) else value)
    store.sync()


def open_store(path: str | Path | None = None) -> QSettings:
    """The application's settings store: the user's own, or an INI file at ``path`` (tests)."""
    if path is not None:
        return QSettings(str(path), QSettings.Format.IniFormat)
    return QSettings(QSettings.Format.IniFormat, QSettings.Scope.UserScope, APP_NAME, APP_NAME)
