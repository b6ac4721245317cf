"""Atomic writes of weights, checkpoints and metrics: complete or untouched, with normal permissions."""

from __future__ import annotations

import os
import stat
from pathlib import Path

import pytest

from core.atomic import free_name, umask_mode, write_atomically, write_json_atomically
from core.config import get_preset
from core.model import MIRNet
from core.weights import save_weights
from trainer.checkpoint import save_resume_state


def _mode(path: Path) -> int:
    return stat.S_IMODE(path.stat().st_mode)


@pytest.mark.skipif(os.name == "nt", reason="POSIX permissions")
def test_written_files_get_umask_permissions_not_mkstemps_private_mode(tmp_path: Path) -> None:
    weights = save_weights(tmp_path / "w.safetensors", MIRNet(get_preset("tiny")))
    state = save_resume_state(tmp_path / "run", {"epoch": 1})
    write_json_atomically(tmp_path / "run" / "metrics.json", {"a": 1})
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


def test_no_clobber_refuses_an_existing_name_and_leaves_no_temporary(tmp_path: Path) -> None:
    target = tmp_path / "model.safetensors"
    target.write_text("old")
    with pytest.raises(FileExistsError):
        write_atomically(target, lambda tmp: tmp.write_text("new"), mode="no_clobber")
    assert target.read_text() == "old"
    assert [p.name for p in tmp_path.iterdir()] == ["model.safetensors"]


def test_free_name_mode_publishes_under_the_next_free_name(tmp_path: Path) -> None:
    target = tmp_path / "model.safetensors"
    first = write_atomically(target, lambda tmp: tmp.write_text("1"), mode="free_name")
    second = write_atomically(target, lambda tmp: tmp.write_text("2"), mode="free_name")
    third = write_atomically(target, lambda tmp: tmp.write_text("3"), mode="free_name")
    assert [first.name, second.name, third.name] == ["model.safetensors", "model (1).safetensors",
                                                     "model (2).safetensors"]
    assert [p.read_text() for p in (first, second, third)] == ["1", "2", "3"]
    assert sorted(p.name for p in tmp_path.iterdir()) == sorted([first.name, second.name, third.name])


def test_free_name_skips_names_a_caller_reserved(tmp_path: Path) -> None:
    (tmp_path / "a.png").write_text("x")
    reserved = {tmp_path / "a (1).png"}
    assert free_name(tmp_path / "a.png", lambda p: p in reserved) == tmp_path / "a (2).png"
    assert free_name(tmp_path / "b.png") == tmp_path / "b.png"
