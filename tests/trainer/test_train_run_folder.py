"""lowlight train never replaces a run without being told (--resume or --overwrite); issue 12."""

from __future__ import annotations

import json
import os
import time
from pathlib import Path

from lowlight.__main__ import main
from trainer.checkpoint import clear_run, existing_run


def _train(data: Path, out: Path, *extra: str) -> int:
    return main(["train", "--data", str(data), "--out", str(out), "--preset", "tiny", "--epochs", "1",
                 "--crop", "32", "--batch", "4", "--samples-per-epoch", "8", "--device", "cpu", "--recipe",
                 "classic", *extra])


def _epochs(out: Path) -> int:
    return len(json.loads((out / "metrics.json").read_text())["history"])


def test_an_existing_run_is_refused_resumed_or_overwritten(lol_dataset, tmp_path, capsys):
    run = tmp_path / "run"
    assert _train(lol_dataset, run) == 0
    (run / "notes.txt").write_text("mine")
    best = (run / "weights" / "best.safetensors").read_bytes()
    capsys.readouterr()

    assert _train(lol_dataset, run) == 2
    err = capsys.readouterr().err
    assert "already holds a training run (1 epoch(s) done, resumable" in err
    assert "--resume" in err and "--overwrite" in err
    assert (run / "weights" / "best.safetensors").read_bytes() == best and _epochs(run) == 1

    stale_preview = run / "previews" / ".epoch-0002.png.abcd1234.tmp"  # a killed worker's preview
    stale_preview.parent.mkdir(exist_ok=True)
    stale_preview.write_bytes(b"\x89PNG")
    os.utime(stale_preview, (time.time() - 600, time.time() - 600))
    assert _train(lol_dataset, run, "--resume", "--epochs", "2") == 0  # argparse: the last --epochs wins
    assert _epochs(run) == 2 and not stale_preview.exists()

    stale = run / ".metrics.json.abcd1234.tmp"
    stale.write_text("{")
    os.utime(stale, (time.time() - 600, time.time() - 600))
    assert _train(lol_dataset, run, "--overwrite") == 0
    assert _epochs(run) == 1 and (run / "notes.txt").read_text() == "mine" and not stale.exists()


def test_a_killed_run_without_epochs_is_refused_too(tmp_path):
    run = tmp_path / "killed"
    run.mkdir()
    assert existing_run(run) is None
    (run / "train.log").write_text("log")  # the wizard's log alone is no run
    assert existing_run(run) is None
    (run / "config.json").write_text("{}")
    assert "no epoch finished yet, not resumable" in existing_run(run)
    (run / "previews").mkdir()
    assert [p.name for p in clear_run(run)] == ["config.json", "previews"]
    assert [p.name for p in run.iterdir()] == ["train.log"]


def test_resume_and_overwrite_exclude_each_other(lol_dataset, tmp_path, capsys):
    assert _train(lol_dataset, tmp_path / "run", "--resume", "--overwrite") == 2
    assert "not allowed with argument" in capsys.readouterr().err
