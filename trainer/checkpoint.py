"""Resume state: written atomically every epoch, refused when the configuration changed."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import torch

from core.atomic import write_atomically
from core.errors import CoreError

RESUME_FILE = "resume_state.pt"


class CheckpointError(CoreError):
    """A resume state is missing, unreadable or belongs to a different configuration."""


def atomic_write_bytes(path: Path, data: bytes) -> None:
    write_atomically(path, lambda tmp: tmp.write_bytes(data))


def atomic_write_json(path: Path, obj: Any) -> None:
    atomic_write_bytes(path, (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode())


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
