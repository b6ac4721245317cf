"""Resume state: written atomically every epoch, refused when the configuration changed."""

from __future__ import annotations

import json
import os
import tempfile
from pathlib import Path
from typing import Any

import torch

from core.errors import CoreError

RESUME_FILE = "resume_state.pt"


class CheckpointError(CoreError):
    """A resume state is missing, unreadable or belongs to a different configuration."""


def atomic_write_bytes(path: Path, data: bytes) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    try:
        with os.fdopen(fd, "wb") as handle:
            handle.write(data)
            handle.flush()
            os.fsync(handle.fileno())
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode())


def save_resume_state(out_dir: Path, state: dict[str, Any]) -> Path:
    """Write ``state`` (tensors, numbers, strings, lists, dicts) to ``out_dir/resume_state.pt``."""
    path = out_dir / RESUME_FILE
    out_dir.mkdir(parents=True, exist_ok=True)
    fd, tmp = tempfile.mkstemp(prefix=f".{RESUME_FILE}.", suffix=".tmp", dir=out_dir)
    os.close(fd)
    try:
        torch.save(state, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


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
