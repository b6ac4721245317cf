"""Resume state: written atomically every epoch, refused when the configuration changed."""

from __future__ import annotations

import json
import logging
import shutil
from pathlib import Path
from typing import Any

import torch

from core.atomic import remove_stale_temp_files, write_atomically
from core.errors import CoreError

log = logging.getLogger(__name__)

RESUME_FILE = "resume_state.pt"
#: What a training run writes into its folder (trainer/loop.py, trainer/worker.py): the files
#: that make a folder "hold a run", and all that ``--overwrite`` removes (nothing else is touched).
RUN_FILES = ("config.json", RESUME_FILE, "metrics.json", "curves.png")
RUN_FOLDERS = ("weights", "previews")


class CheckpointError(CoreError):
    """A resume state is missing, unreadable or belongs to a different configuration."""


def save_resume_state(out_dir: Path, state: dict[str, Any]) -> Path:
    """Write ``state`` (tensors, numbers, strings, lists, dicts) to ``out_dir/resume_state.pt``."""
    return write_atomically(out_dir / RESUME_FILE, lambda tmp: torch.save(state, tmp))


def load_resume_state(out_dir: Path, fingerprint: str) -> dict[str, Any]:
    """Read the resume state; refuse it if it was made with a different training configuration."""
    path = out_dir / RESUME_FILE
    if not path.exists():
        raise CheckpointError(f"Nothing to resume: '{path}' does not exist.")
    try:
        state = torch.load(path, map_location="cpu", weights_only=True)
    except Exception as exc:  # unpickling, EOF, zip errors
        raise CheckpointError(f"Resume state '{path}' is unreadable: {exc}") from exc
    if state.get("fingerprint") != fingerprint:
        raise CheckpointError(
            f"Refusing to resume from '{path}': it was written with a different configuration "
            f"(fingerprint {state.get('fingerprint')} vs {fingerprint}). Use a new --out folder, "
            "or the same settings (only --epochs may change)."
        )
    return state


def existing_run(out_dir: Path) -> str | None:
    """A sentence describing the run ``out_dir`` holds (finished or not), or None when it holds none."""
    out_dir = Path(out_dir)
    weights = out_dir / "weights"
    found = [name for name in RUN_FILES if (out_dir / name).is_file()]
    if weights.is_dir() and any(weights.glob("*.safetensors")):
        found.append("weights/")
    if not found:
        return None
    epochs = None
    try:
        history = json.loads((out_dir / "metrics.json").read_text(encoding="utf-8")).get("history", [])
        epochs = len(history)
    except (OSError, ValueError, AttributeError):
        pass
    state = f"{epochs} epoch(s) done" if epochs else "no epoch finished yet"
    resumable = "resumable" if (out_dir / RESUME_FILE).is_file() else "not resumable"
    return f"'{out_dir}' already holds a training run ({state}, {resumable}: {', '.join(found)})"


def clear_run(out_dir: Path) -> list[Path]:
    """Remove what a training run wrote into ``out_dir`` (:data:`RUN_FILES`, :data:`RUN_FOLDERS`);
    other files stay. Returns what was removed."""
    out_dir = Path(out_dir)
    removed = []
    for name in RUN_FILES:
        path = out_dir / name
        if path.is_file():
            path.unlink()
            removed.append(path)
    for name in RUN_FOLDERS:
        path = out_dir / name
        if path.is_dir() and not path.is_symlink():
            shutil.rmtree(path)
            removed.append(path)
    if removed:
        log.info("removed the previous run in %s (%s)", out_dir, ", ".join(p.name for p in removed))
    return removed


def prepare_run_folder(out_dir: Path, *, resume: bool, overwrite: bool) -> None:
    """Get ``out_dir`` ready for a run: refuse to start a new run over an existing one unless
    ``overwrite`` (which clears it first), and remove temporary files a killed run left.

    Raises :class:`CheckpointError` with the choice to make (``--resume`` or ``--overwrite``).
    """
    out_dir = Path(out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise CheckpointError(f"The run folder '{out_dir}' is a file.")
    if resume and overwrite:
        raise CheckpointError("Choose either --resume (continue the run) or --overwrite (start again), not both.")
    holding = existing_run(out_dir)
    if holding and not resume:
        if not overwrite:
            raise CheckpointError(f"{holding}. Continue it with --resume (raise --epochs to train longer), "
                                  "start it again with --overwrite (its weights, metrics and resume state are "
                                  "deleted), or choose another --out folder.")
        clear_run(out_dir)
    for folder in (out_dir, *(out_dir / name for name in RUN_FOLDERS)):  # weights/, previews/
        remove_stale_temp_files(folder)
