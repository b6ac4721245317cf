"""Which model the app uses, and loading it on the inference pool (no widgets).

The choice is this session's ``--weights`` until the user picks another model, else the one
saved in the settings (``""`` = the bundled model).
"""

from __future__ import annotations

from pathlib import Path

from PySide6.QtCore import QObject, Signal

from core.engine import default_weights_path

from . import engine as eng
from .jobs import load_model_job
from .messages import error_text
from .settings import AppSettings
from .workers import JobRunner, Worker


def load_failure_text(weights: Path | None, exc: BaseException) -> str:
    """Why ``weights`` (None: the bundled model) could not be loaded, for people."""
    where = weights or default_weights_path()
    if weights is None and not Path(where).exists():
        return f"The bundled model is missing ({where}). Choose a .safetensors weights file in the Model list."
    return f"Cannot load model {Path(where).name}: {error_text(exc)}"


class ModelLoader(QObject):
    """Loads the chosen model in the background; see the module docstring."""

    loading = Signal()  # a load starts
    loaded = Signal(object)  # ModelLoaded
    failed = Signal(str)  # people-readable reason
    finished = Signal()  # after loaded or failed

    def __init__(self, settings: AppSettings, runner: JobRunner, factory: eng.EngineFactory,
                 session_weights: Path | None = None, parent: QObject | None = None) -> None:
        super().__init__(parent)
        self.settings = settings
        self.runner = runner
        self.factory = factory
        self._session_weights = session_weights
        self._worker: Worker | None = None

    @property
    def busy(self) -> bool:
        """Whether a model is being loaded."""
        return self._worker is not None

    def chosen_weights(self) -> Path | None:
        """The model in use: this session's --weights, else the saved choice (None: bundled)."""
        if self._session_weights is not None:
            return self._session_weights
        return Path(self.settings.weights_path) if self.settings.weights_path else None

    def chosen_file(self) -> Path:
        """The chosen weights file (the bundled one for None)."""
        return self.chosen_weights() or default_weights_path()

    def choose(self, weights: Path | None) -> None:
        """The user picked ``weights`` (None: bundled): saved, and it replaces --weights."""
        self._session_weights = None
        self.settings.weights_path = str(weights) if weights else ""

    def entries(self) -> list[eng.ModelEntry]:
        """The model picker's choices, with the chosen file among them."""
        current = self.chosen_weights()
        return eng.list_models([current] if current is not None else [])

    def load(self, weights: Path | None) -> None:
        """Load ``weights`` (None: the bundled model) on the runner."""
        self.loading.emit()
        worker = Worker(load_model_job, self.factory, weights, name="load-model")
        worker.signals.returned.connect(self.loaded)
        worker.signals.errored.connect(lambda exc, w=weights: self.failed.emit(load_failure_text(w, exc)))
        worker.signals.finished.connect(self._on_worker_finished)
        self._worker = worker
        self.runner.submit(worker)

    def _on_worker_finished(self) -> None:
        self._worker = None
        self.finished.emit()
