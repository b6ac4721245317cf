"""What the wizard's pages share: where things go, and the run being trained."""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from core.atomic import write_bytes_atomically
from trainer.config import TrainConfig

CONFIG_REQUEST = "wizard-config.json"  # the TrainConfig the worker is started with


@dataclass
class WizardContext:
    """Folders and the app's current model; ``None`` means the default (user data folder)."""

    models_dir: Path | None = None
    runs_dir: Path | None = None
    current_weights: Path | None = None
    dataset: Path | None = None

    @classmethod
    def from_mapping(cls, values: dict[str, Any] | None) -> WizardContext:
        values = values or {}

        def path(key: str) -> Path | None:
            value = values.get(key)
            return Path(value) if value else None

        return cls(path("models_dir"), path("runs_dir"), path("current_weights"), path("dataset"))


@dataclass
class RunPlan:
    """A run to start (``resume=False``) or to continue (``resume=True``)."""

    config: TrainConfig
    run_dir: Path
    resume: bool = False
    estimate_s: float | None = None

    @property
    def name(self) -> str:
        return self.run_dir.name

    @property
    def config_path(self) -> Path:
        return self.run_dir / CONFIG_REQUEST

    def write_config(self) -> Path:
        """Write the config the worker reads (creating the run folder)."""
        self.run_dir.mkdir(parents=True, exist_ok=True)
        write_bytes_atomically(self.config_path, (json.dumps(self.config.to_dict(), indent=2) + "\n").encode("utf-8"))
        return self.config_path


def default_weights() -> Path | None:
    """The bundled default model, when it is installed."""
    from core.engine import default_weights_path

    path = default_weights_path()
    return path if path.is_file() else None
