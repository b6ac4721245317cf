"""Atomic writes of weights, checkpoints and metrics: complete or untouched, with normal permissions."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from core.atomic import umask_mode, write_atomically
from core.config import get_preset
from core.model import MIRNet
from core.weights import save_weights
from trainer.checkpoint import atomic_write_json, save_resume_state


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.skipif(os.name == "nt", reason="POSIX permissions")
def test_written_files_get_umask_permissions_not_mkstemps_private_mode(tmp_path: Path) -> None:
    weights = save_weights(tmp_path / "w.safetensors", MIRNet(get_preset("tiny")))
    state = save_resume_state(tmp_path / "run", {"epoch": 1})
    atomic_write_json(tmp_path / "run" / "metrics.json", {"a": 1})
    for path in (weights, state, tmp_path / "run" / "metrics.json"):
        assert _mode(path) == umask_mode(), path
    assert umask_mode() & 0o044  # readable by others under a usual umask (0022 or 0002)


def test_a_failed_write_leaves_the_old_file_and_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "metrics.json"
    target.write_text("old")

    def fail(tmp: Path) -> None:
        tmp.write_text("partial")
        raise OSError("disk full")

    with pytest.raises(OSError, match="disk full"):
        write_atomically(target, fail)
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["metrics.json"]
