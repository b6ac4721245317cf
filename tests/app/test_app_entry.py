"""Entry point and command line."""

from __future__ import annotations

from pathlib import Path


def test_parse_args_and_the_installed_entry_point() -> None:
    from importlib.metadata import entry_points

    from desktop_app.__main__ import main
    from desktop_app.app import parse_args

    args = parse_args(["a.jpg", "folder", "--weights", "m.safetensors"])
    assert args.files == [Path("a.jpg"), Path("folder")]
    assert args.weights == Path("m.safetensors")
    (script,) = [ep for ep in entry_points(group="gui_scripts") if ep.name == "lowlight-studio"]
    assert script.load() is main


def test_icons_exist() -> None:
    from desktop_app.resources import icon, icon_path

    for name in ("app", "open", "save", "save-as", "batch", "fit", "zoom-100", "split", "before-after", "drop"):
        assert icon_path(name).exists(), name
        assert not icon(name).isNull(), name
    assert icon("nonexistent").isNull()
