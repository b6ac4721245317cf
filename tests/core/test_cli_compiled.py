"""``lowlight enhance --compiled auto|on|off`` and ``lowlight compile``: the build before a batch, its
progress line, the fallback to eager on failure. A fake builder stands in for AOTInductor
(tests/compiled_fakes.py); tiles are 64 px so that tiny photos have the package's shape."""

from __future__ import annotations

import numpy as np
import pytest
from compiled_fakes import compilable_weights, install_fake_builder
from PIL import Image

from core.cli import main
from core.engine import Enhancer

pytestmark = pytest.mark.usefixtures("one_torch_thread")

PREPARING = "preparing a faster engine for this CPU, once"


@pytest.fixture
def small_tiles(monkeypatch):
    monkeypatch.setattr(Enhancer, "choose_tile", lambda self, device=None: 64)


@pytest.fixture
def weights(tmp_path):
    return compilable_weights(tmp_path)


def _folder(tmp_path, count: int = 2):
    folder = tmp_path / "in"
    folder.mkdir()
    rng = np.random.default_rng(0)
    for i in range(count):
        Image.fromarray((rng.random((72, 80, 3)) * 80).astype(np.uint8)).save(folder / f"p{i}.png")
    return folder


def _enhance(tmp_path, weights, *extra: str) -> int:
    return main(["enhance", str(tmp_path / "in"), "-o", str(tmp_path / "out"), "--weights", str(weights),
                 "--device", "cpu", "-q", *extra])


def test_a_batch_that_pays_back_builds_first_with_one_line_then_uses_it(tmp_path, weights, small_tiles,
                                                                         monkeypatch, capsys):
    fake = install_fake_builder(monkeypatch, tmp_path)
    _folder(tmp_path)
    assert _enhance(tmp_path, weights) == 0
    err = capsys.readouterr().err
    assert err.count(PREPARING) == 1 and "the faster engine is ready" in err
    assert fake.started and fake.tile_calls  # the tiles ran through the (fake) package
    assert len(list((tmp_path / "out").iterdir())) == 2


def test_a_failed_build_warns_once_and_the_batch_runs_eagerly(tmp_path, weights, small_tiles, monkeypatch, capsys):
    fake = install_fake_builder(monkeypatch, tmp_path, "fail")
    _folder(tmp_path)
    assert _enhance(tmp_path, weights) == 0
    err = capsys.readouterr().err
    warnings = [line for line in err.splitlines() if "warning" in line]
    assert len(warnings) == 1 and "boom: the C++ compiler crashed" in warnings[0]
    assert "Traceback" not in err and fake.tile_calls == []
    assert len(list((tmp_path / "out").iterdir())) == 2


def test_compiled_off_never_builds_and_on_builds_even_without_native_bf16(tmp_path, weights, small_tiles,
                                                                          monkeypatch, capsys):
    fake = install_fake_builder(monkeypatch, tmp_path, native_bf16=False)
    _folder(tmp_path)
    assert _enhance(tmp_path, weights) == 0  # auto: no native bf16, so no build
    assert not fake.started and PREPARING not in capsys.readouterr().err
    install_fake_builder(monkeypatch, tmp_path)
    assert _enhance(tmp_path, weights, "--compiled", "off", "--overwrite") == 0
    assert not fake.started
    install_fake_builder(monkeypatch, tmp_path, native_bf16=False)
    assert _enhance(tmp_path, weights, "--compiled", "on", "--overwrite") == 0
    assert fake.started and PREPARING in capsys.readouterr().err


def test_fast_mode_never_builds_and_says_why_when_asked(tmp_path, weights, small_tiles, monkeypatch, capsys):
    fake = install_fake_builder(monkeypatch, tmp_path)
    _folder(tmp_path)
    assert _enhance(tmp_path, weights, "--mode", "fast", "--compiled", "on") == 0
    assert not fake.started
    assert "note: no faster engine: fast mode" in capsys.readouterr().err


def test_compile_builds_for_given_weights_once(tmp_path, weights, small_tiles, monkeypatch, capsys):
    fake = install_fake_builder(monkeypatch, tmp_path)
    assert main(["compile", "--weights", str(weights)]) == 0
    out, err = capsys.readouterr()
    assert PREPARING in err and fake.requests[0].path.is_file() and str(fake.requests[0].path) in out
    assert main(["compile", "--weights", str(weights)]) == 0
    assert "already built" in capsys.readouterr().out and len(fake.requests) == 1


def test_compile_failure_and_uncompilable_weights_are_one_line_errors(tmp_path, weights, tiny_weights, small_tiles,
                                                                       monkeypatch, capsys):
    install_fake_builder(monkeypatch, tmp_path, "fail")
    assert main(["compile", "--weights", str(weights)]) == 1
    err = capsys.readouterr().err
    assert "error: boom: the C++ compiler crashed" in err and "Traceback" not in err
    assert main(["compile", "--weights", str(tiny_weights)]) == 2  # no exposure normalisation
    assert "cannot be compiled" in capsys.readouterr().err
