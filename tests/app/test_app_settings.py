"""Settings dataclass <-> QSettings."""

from __future__ import annotations

from pathlib import Path

from desktop_app.settings import AppSettings, load_settings, open_store, save_settings


def test_round_trip(tmp_path: Path) -> None:
    path = tmp_path / "s.ini"
    original = AppSettings(last_open_dir="/photos", mode="full", strength=0.4, weights_path="/m/x.safetensors",
                           export_format="png", jpeg_quality=80, keep_metadata=False, batch_recursive=True,
                           window_geometry=b"\x01\x02geometry")
    save_settings(open_store(path), original)
    loaded = load_settings(open_store(path))
    assert loaded == original
    assert loaded.window_geometry == b"\x01\x02geometry"


def test_defaults_and_bad_values(tmp_path: Path) -> None:
    path = tmp_path / "s.ini"
    assert load_settings(open_store(path)) == AppSettings()
    store = open_store(path)
    store.setValue("mode", "turbo")
    store.setValue("jpeg_quality", "lots")
    store.setValue("strength", 7)
    store.setValue("keep_metadata", "false")
    store.sync()
    loaded = load_settings(open_store(path))
    assert loaded.mode == "fast"
    assert loaded.jpeg_quality == 95
    assert loaded.strength == 1.0
    assert loaded.keep_metadata is False


def test_export_format_uses_cores_vocabulary_and_reads_older_names(tmp_path: Path) -> None:
    from core.formats import OUTPUT_FORMATS

    path = tmp_path / "s.ini"
    for stored, expected in (("jpeg", "jpg"), ("tiff", "tif"), ("JPEG", "jpg"), ("webp", "webp"), ("bmp", "jpg")):
        store = open_store(path)
        store.setValue("export_format", stored)
        store.sync()
        loaded = load_settings(open_store(path))
        assert loaded.export_format == expected, stored
        assert loaded.export_format in OUTPUT_FORMATS
