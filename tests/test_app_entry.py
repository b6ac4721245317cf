"""Entry point and command line."""

from __future__ import annotations

from pathlib import Path

from conftest_app import *  # noqa: F403


def test_parse_args_and_main_importable() -> None:
    from desktop_app.__main__ import main
    from desktop_app.app import parse_args

    args = parse_args(["a.jpg", "folder", "--weights", "m.safetensors"])
    assert args.files == [Path("a.jpg"), Path("folder")]
    assert args.weights == Path("m.safetensors")
    assert callable(main)


def test_icons_exist() -> None:
    from desktop_app.resources import icon, icon_path

    for name in ("app", "open", "save", "save-as", "batch", "fit", "zoom-100", "split", "before-after", "drop"):
        assert icon_path(name).exists(), name
        assert not icon(name).isNull(), name
    assert icon("nonexistent").isNull()
