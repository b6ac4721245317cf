"""The lowlight CLI, run in-process with main([...]) on tiny images and a tiny random model."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

import core.cli
from core.cli import main

ROOT = Path(__file__).resolve().parents[2]


def _images(folder: Path, count: int, seed: int = 0) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(seed)
    paths = []
    for i in range(count):
        path = folder / f"p{i}.{'jpg' if i % 2 else 'png'}"
        Image.fromarray((rng.random((40, 48, 3)) * 80).astype(np.uint8)).save(path)
        paths.append(path)
    return paths


def test_help_runs_as_module():
    done = subprocess.run([sys.executable, "-m", "core.cli", "--help"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0
    for command in ("enhance", "eval", "info", "convert", "bench"):
        assert command in done.stdout
    assert "train" not in done.stdout  # core knows nothing of the trainer; the lowlight package adds it
    done = subprocess.run([sys.executable, "-m", "lowlight", "--help"], cwd=ROOT, capture_output=True, text=True,
                          timeout=120)
    assert done.returncode == 0
    for command in ("enhance", "eval", "info", "convert", "bench", "train"):
        assert command in done.stdout


def test_enhance_succeeds(tmp_path, tiny_weights, capsys):
    inputs = _images(tmp_path / "in", 2)
    code = main(["enhance", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--weights", str(tiny_weights),
                 "--mode", "fast", "--device", "cpu"])
    assert code == 0
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["p0_enhanced.png", "p1_enhanced.jpg"]
    assert "enhanced 2 of 2" in capsys.readouterr().err
    code = main(["enhance", str(inputs[0]), "-o", str(tmp_path / "out2"), "--weights", str(tiny_weights),
                 "--format", "webp", "--suffix=-x", "-q"])
    assert code == 0 and (tmp_path / "out2" / "p0-x.webp").is_file()


def test_enhance_with_a_corrupt_file_exits_1(tmp_path, tiny_weights, capsys):
    _images(tmp_path / "in", 2)
    (tmp_path / "in" / "broken.jpg").write_bytes(b"\xff\xd8\xff\xe0 cut short")
    code = main(["enhance", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--weights", str(tiny_weights)])
    err = capsys.readouterr().err
    assert code == 1
    assert "FAILED" in err and "broken.jpg" in err and "Traceback" not in err
    assert len(list((tmp_path / "out").iterdir())) == 2


@pytest.mark.parametrize("extra", [["--strength", "1.5"], ["--format", "gif"], ["--mode", "turbo"], []])
def test_usage_errors_exit_2(tmp_path, tiny_weights, extra, capsys):
    _images(tmp_path / "in", 1)
    argv = ["enhance", str(tmp_path / "in"), "--weights", str(tiny_weights)] + extra
    if extra:
        argv += ["-o", str(tmp_path / "out")]  # without extra options: -o is missing
    assert main(argv) == 2
    assert "usage:" in capsys.readouterr().err
    assert not (tmp_path / "out").exists()


def test_no_inputs_and_out_dir_is_a_file(tmp_path, tiny_weights, capsys):
    (tmp_path / "empty").mkdir()
    assert main(["enhance", str(tmp_path / "empty"), "-o", str(tmp_path / "out"),
                 "--weights", str(tiny_weights)]) == 2
    assert "no images found" in capsys.readouterr().err
    _images(tmp_path / "in", 1)
    (tmp_path / "file").write_text("x")
    assert main(["enhance", str(tmp_path / "in"), "-o", str(tmp_path / "file"),
                 "--weights", str(tiny_weights)]) == 2
    assert "output folder is a file" in capsys.readouterr().err


def test_missing_bundled_weights_message(tmp_path, monkeypatch, capsys):
    monkeypatch.setattr(core.cli, "_bundled_weights_path", lambda: tmp_path / "lite.safetensors")
    _images(tmp_path / "in", 1)
    assert main(["enhance", str(tmp_path / "in"), "-o", str(tmp_path / "out")]) == 2
    err = capsys.readouterr().err
    assert f"no bundled weights found at {tmp_path / 'lite.safetensors'}" in err
    assert "--weights FILE" in err and "lowlight train" in err and "Traceback" not in err


def test_broken_weights_file_is_a_clear_error(tmp_path, capsys):
    bad = tmp_path / "bad.safetensors"
    bad.write_bytes(b"\x00" * 64)
    _images(tmp_path / "in", 1)
    assert main(["enhance", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--weights", str(bad)]) == 2
    err = capsys.readouterr().err
    assert "bad.safetensors" in err and "Traceback" not in err
    assert main(["info", str(bad)]) == 2


def test_eval_table_json_and_report(tmp_path, tiny_weights, capsys):
    data = tmp_path / "data"
    lows = _images(data / "low", 2, seed=1)
    for low in lows:
        bright = np.clip(np.asarray(Image.open(low), dtype=np.float32) * 2.5, 0, 255).astype(np.uint8)
        (data / "high").mkdir(exist_ok=True)
        Image.fromarray(bright).save(data / "high" / f"{low.stem}.png")
    out_json, out_png = tmp_path / "eval.json", tmp_path / "report.png"
    code = main(["eval", "--data", str(data), "--weights", str(tiny_weights), "--mode", "fast",
                 "--json", str(out_json), "--report", str(out_png)])
    assert code == 0
    table = capsys.readouterr().out
    for method in ("input", "autocontrast", "gamma 0.4", "model"):
        assert method in table
    numbers = json.loads(out_json.read_text())
    assert numbers["count"] == 2 and len(numbers["images"]) == 2
    assert set(numbers["mean"]) == {"input", "autocontrast", "gamma 0.4", "model"}
    assert numbers["mean"]["gamma 0.4"]["psnr"] > numbers["mean"]["input"]["psnr"]  # brightening helps
    report = Image.open(out_png)
    assert report.width == 4 * core.cli.REPORT_TILE_WIDTH and report.height > 2 * 200


def test_eval_needs_low_and_high(tmp_path, tiny_weights, capsys):
    assert main(["eval", "--data", str(tmp_path), "--weights", str(tiny_weights)]) == 2
    assert "low/ and high/" in capsys.readouterr().err


def test_info(tiny_weights, capsys):
    from core.model import MIRNet, count_parameters
    from core.weights import read_weights_info

    assert main(["info", str(tiny_weights)]) == 0
    out = capsys.readouterr().out
    expected = count_parameters(MIRNet(read_weights_info(tiny_weights).config))
    assert f"{expected:,}" in out and "channels=8" in out and "epochs:" in out
    assert main(["info", str(tiny_weights), "--json"]) == 0
    assert json.loads(capsys.readouterr().out)["parameters"] == expected


def test_bench(capsys):
    from core.config import get_preset
    from core.model import MIRNet, count_parameters

    assert main(["bench", "--presets", "lite", "--size", "32", "--time", "--repeat", "1"]) == 0
    out = capsys.readouterr().out
    assert "lite" in out and f"{count_parameters(MIRNet(get_preset('lite'))):,}" in out
    assert main(["bench", "--presets", "huge"]) == 2


def test_train_is_delegated(capsys):
    from lowlight.__main__ import main as lowlight_main

    assert lowlight_main(["train", "--help"]) == 0
    assert "--data" in capsys.readouterr().out
    assert lowlight_main(["train", "--data", "x"]) == 2  # --out missing
    assert "--out" in capsys.readouterr().err
    assert main(["train", "--help"]) == 2  # core alone has no train
    assert "invalid choice: 'train'" in capsys.readouterr().err


def test_an_added_command_gets_its_arguments_and_its_interrupt_note(capsys):
    seen: list[list[str]] = []

    def run(argv: list[str]) -> int:
        seen.append(argv)
        if argv == ["--stop"]:
            raise KeyboardInterrupt
        return 7

    commands = {"demo": core.cli.Command(help="a demo", run=run, interrupted="demo note")}
    assert main(["-v", "demo", "a", "-b"], commands) == 7
    assert seen == [["a", "-b"]]
    assert main(["demo", "--stop"], commands) == core.cli.EXIT_INTERRUPTED
    assert "interrupted; demo note" in capsys.readouterr().err
    assert main(["--help"], commands) == 0
    assert "a demo" in capsys.readouterr().out
