"""Compare enhancement methods on a run's validation images (no Qt; runs in a worker thread)."""

from __future__ import annotations

import logging
import threading
from collections.abc import Callable
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from core.baselines import autocontrast
from core.errors import CancelledError
from core.evaluation import evaluate_pairs
from trainer.config import TrainConfig
from trainer.data import PairImages, load_pairs, select_pairs

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class EvalRow:
    """Mean validation PSNR (dB) and SSIM of one method; ``error`` when it could not be measured."""

    key: str  # "input", "autocontrast", "current", "new"
    label: str
    psnr: float | None = None
    ssim: float | None = None
    error: str | None = None


def validation_pairs(cfg: TrainConfig) -> list[PairImages]:
    """The validation images of ``cfg``, chosen exactly as :func:`trainer.loop.train` chooses them."""
    d = cfg.data
    _, pairs, _ = select_pairs(d.train_dir, val_dir=d.val_dir, val_split=d.val_split, seed=cfg.seed,
                               require_val=False)
    return load_pairs(pairs, d.val_max_side)


def _mean_metrics(method: Callable[[np.ndarray], np.ndarray], items: list[PairImages]) -> tuple[float, float]:
    result = evaluate_pairs(lambda item: method(item.low.astype(np.float32) / 255.0),
                            ((item, item.high.astype(np.float32) / 255.0) for item in items))
    return result.mean["psnr"], result.mean["ssim"]


def _model_row(key: str, label: str, weights: Path, items: list[PairImages], cfg: TrainConfig) -> EvalRow:
    """The model in ``weights`` scored as :func:`trainer.loop.evaluate` scores validation, at the
    context window its weights record (the app's window: :class:`core.weights.ModelDescriptor`)."""
    from core.weights import load_weights
    from trainer.loop import evaluate, select_device

    device = select_device(cfg.device)
    model, info = load_weights(weights, device)
    metrics, _ = evaluate(model, items, device, cfg.precision, info.descriptor.context_window)
    return EvalRow(key, f"{label} ({info.summary()})", metrics["val_psnr"], metrics["val_ssim"])


def compare_on_validation(
    cfg: TrainConfig,
    new_weights: Path,
    current_weights: Path | None,
    report: Callable[[EvalRow], None] | None = None,
    cancel: threading.Event | None = None,
) -> list[EvalRow]:
    """PSNR/SSIM (data range 1.0, full images: :mod:`core.evaluation`) of the input, autocontrast,
    the current model and the new one, each model at the context window its weights record;
    each row is also passed to ``report`` as soon as it is known."""
    items = validation_pairs(cfg)
    if not items:
        raise ValueError("This run has no validation images to compare on.")
    rows: list[EvalRow] = []

    def add(row: EvalRow) -> None:
        if cancel is not None and cancel.is_set():
            raise CancelledError()
        rows.append(row)
        if report is not None:
            report(row)

    add(EvalRow("input", "Input (no enhancement)", *_mean_metrics(lambda x: x, items)))
    add(EvalRow("autocontrast", "Autocontrast", *_mean_metrics(autocontrast, items)))
    if current_weights is None or not Path(current_weights).is_file():
        add(EvalRow("current", "Current model", error="no current model file"))
    else:
        try:
            add(_model_row("current", "Current model", Path(current_weights), items, cfg))
        except CancelledError:
            raise
        except Exception as exc:  # a broken or foreign current model must not hide the new result
            log.warning("current model not evaluated: %s", exc)
            add(EvalRow("current", "Current model", error=str(exc)))
    add(_model_row("new", "New model", Path(new_weights), items, cfg))
    return rows
