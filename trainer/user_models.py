"""What the user's data folders hold: installed models and training runs (where the folders
are: :mod:`core.user_folders`)."""

from __future__ import annotations

import json
import logging
import re
import shutil
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from core.atomic import write_atomically
from core.user_folders import runs_dir, user_models_dir

log = logging.getLogger(__name__)

WEIGHTS_SUFFIX = ".safetensors"
RESUME_FILE = "resume_state.pt"  # trainer.checkpoint.RESUME_FILE (not imported: that pulls in torch)


def safe_name(name: str, default: str = "model") -> str:
    """``name`` reduced to a portable file name stem (letters, digits, ``-``, ``_``, ``.``)."""
    stem = re.sub(r"[^A-Za-z0-9._-]+", "-", name.strip()).strip(".-_")
    return stem[:80] or default


def install_weights(src: str | Path, name: str, folder: str | Path | None = None) -> Path:
    """Copy the weights file ``src`` into the models folder as ``<name>.safetensors``.

    Never overwrites: an existing name gets the next free one (:func:`core.atomic.free_name`:
    ``<name> (1)``, ``<name> (2)``, ...), chosen atomically when the finished copy is published,
    so a half-written model is never visible. Returns the installed path.
    """
    src = Path(src)
    if not src.is_file():
        raise FileNotFoundError(f"Weights file '{src}' does not exist.")
    target_dir = Path(folder) if folder is not None else user_models_dir()

    def copy(tmp: Path) -> None:
        with tmp.open("wb") as out, src.open("rb") as inp:
            shutil.copyfileobj(inp, out, 1 << 20)

    dest = write_atomically(target_dir / f"{safe_name(name)}{WEIGHTS_SUFFIX}", copy, mode="free_name")
    log.info("installed %s as %s", src, dest)
    return dest


@dataclass(frozen=True)
class RunInfo:
    """What a run folder says about itself (read from config.json and metrics.json)."""

    path: Path
    config: dict[str, Any]
    epochs_done: int
    best_psnr: float | None
    history: list[dict[str, Any]] = field(default_factory=list)

    @property
    def name(self) -> str:
        return self.path.name

    @property
    def epochs(self) -> int:
        return int(self.config.get("epochs", 0))

    @property
    def resumable(self) -> bool:
        return (self.path / RESUME_FILE).is_file()

    @property
    def finished(self) -> bool:
        return self.epochs_done >= self.epochs > 0

    def summary(self) -> str:
        """One line for people: name, preset, progress and best validation PSNR."""
        psnr = f", best {self.best_psnr:.2f} dB" if self.best_psnr is not None else ""
        return f"{self.name}: {self.config.get('preset', '?')}, epoch {self.epochs_done}/{self.epochs}{psnr}"


def _read_json(path: Path) -> Any:
    try:
        return json.loads(path.read_text(encoding="utf-8"))
    except (OSError, ValueError):
        return None


def read_run(path: str | Path) -> RunInfo | None:
    """The run in ``path``, or None when it has no readable config.json."""
    path = Path(path)
    raw = _read_json(path / "config.json")
    if not isinstance(raw, dict):
        return None
    config = raw.get("config", raw)
    if not isinstance(config, dict) or "data" not in config:
        return None
    metrics = _read_json(path / "metrics.json")
    history = list(metrics.get("history", [])) if isinstance(metrics, dict) else []
    best = metrics.get("best_psnr") if isinstance(metrics, dict) else None
    best_psnr = float(best) if isinstance(best, int | float) and best > -1e9 else None
    return RunInfo(path, config, len(history), best_psnr, history)


def find_runs(folder: str | Path | None = None, *, unfinished_only: bool = False) -> list[RunInfo]:
    """Runs under ``folder`` (default :func:`runs_dir`) that can be resumed, newest first.

    ``unfinished_only`` keeps those that stopped before their last epoch.
    """
    root = Path(folder) if folder is not None else runs_dir()
    if not root.is_dir():
        return []
    runs = []
    for sub in root.iterdir():
        if not sub.is_dir() or not (sub / RESUME_FILE).is_file():
            continue
        info = read_run(sub)
        if info is None or (unfinished_only and info.finished):
            continue
        runs.append(info)
    runs.sort(key=lambda r: (r.path / RESUME_FILE).stat().st_mtime, reverse=True)
    return runs
