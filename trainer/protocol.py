"""What the training worker (``python -m trainer.worker``) tells the app: typed events, one
JSON object per line (``{"event": <name>, <fields>...}``).

The worker writes them with :func:`encode`, the wizard reads them with :func:`decode`; both
share these dataclasses, so neither reads dicts by key. No Qt and no torch here.
"""

from __future__ import annotations

import dataclasses
import json
import math
from dataclasses import dataclass, field
from typing import Any, ClassVar

import numpy as np


@dataclass(frozen=True)
class Started:
    """The worker runs: ``out_dir`` is its run folder."""

    name: ClassVar[str] = "started"
    out_dir: str
    resume: bool
    pid: int
    epochs: int


@dataclass(frozen=True)
class Step:
    """A training step (every 10th and each epoch's last)."""

    name: ClassVar[str] = "step"
    epoch: int
    epochs: int
    step: int
    steps: int
    loss: float | None
    elapsed_s: float


@dataclass(frozen=True)
class Epoch:
    """An epoch finished and was saved. ``metrics`` is its metrics.json record; ``preview`` a PNG
    in the run folder (input | output | target of the first validation image), or None."""

    name: ClassVar[str] = "epoch"
    epoch: int
    epochs: int
    metrics: dict[str, Any] = field(default_factory=dict)
    best_psnr: float | None = None
    eta_s: float | None = None
    preview: str | None = None


@dataclass(frozen=True)
class Done:
    """The run ended normally (``completed`` is False when its time limit ended it early)."""

    name: ClassVar[str] = "done"
    completed: bool
    best_weights: str | None
    last_weights: str | None
    best_psnr: float | None
    best_ssim: float | None
    baseline: dict[str, Any] = field(default_factory=dict)
    epochs_done: int = 0


@dataclass(frozen=True)
class Cancelled:
    """Stopped on request; the last finished epoch stays resumable."""

    name: ClassVar[str] = "cancelled"
    message: str
    epochs_done: int = 0


@dataclass(frozen=True)
class Failed:
    """The run could not go on (``kind`` names the exception)."""

    name: ClassVar[str] = "error"
    message: str
    kind: str = "Error"


WorkerEvent = Started | Step | Epoch | Done | Cancelled | Failed
#: The events after which the worker exits.
FINAL_EVENTS = (Done, Cancelled, Failed)
_BY_NAME: dict[str, type[WorkerEvent]] = {cls.name: cls for cls in (Started, Step, Epoch, Done, Cancelled, Failed)}


def _finite(value: Any) -> Any:
    """JSON has no NaN/inf: map them to None (recursively)."""
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, dict):
        return {k: _finite(v) for k, v in value.items()}
    if isinstance(value, list | tuple):
        return [_finite(v) for v in value]
    if isinstance(value, np.generic):
        return _finite(value.item())
    return value


def encode(event: WorkerEvent) -> str:
    """One JSON line (without the newline) for ``event``; NaN and infinities become null."""
    fields = {f.name: getattr(event, f.name) for f in dataclasses.fields(event)}
    return json.dumps({"event": event.name, **_finite(fields)}, allow_nan=False)


def decode(line: str | bytes) -> WorkerEvent:
    """The event one protocol line holds; ``ValueError`` when it is not one."""
    message = json.loads(line)
    if not isinstance(message, dict) or message.get("event") not in _BY_NAME:
        raise ValueError(f"not a worker event: {str(line)[:200]}")
    cls = _BY_NAME[message["event"]]
    known = {f.name for f in dataclasses.fields(cls)}
    try:
        return cls(**{k: v for k, v in message.items() if k in known})
    except TypeError as exc:  # a field is missing
        raise ValueError(f"incomplete {cls.name} event: {exc}") from None
