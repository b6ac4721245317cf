"""Scoring enhanced images against references: the one evaluation used by ``lowlight eval``,
the trainer's validation and the wizard's finish page.

Images are float RGB in [0, 1] (data range 1.0), scored on the full image. Which network runs,
and with which context window, is the caller's choice: every caller takes the window from the
weights' contract (:class:`core.weights.ModelDescriptor`), as the app does.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Literal, TypeVar

import numpy as np

from .errors import CancelledError
from .metrics import gt_mean_psnr, psnr, saturation, ssim

MetricName = Literal["psnr", "ssim", "gt_mean_psnr", "saturation"]
#: The validation figures (trainer, wizard).
QUALITY: tuple[MetricName, ...] = ("psnr", "ssim")
#: Everything ``lowlight eval`` reports.
ALL_METRICS: tuple[MetricName, ...] = ("psnr", "ssim", "gt_mean_psnr", "saturation")

Input = TypeVar("Input")


def score(output: np.ndarray, reference: np.ndarray, metrics: Sequence[MetricName] = QUALITY) -> dict[str, float]:
    """``metrics`` of ``output`` against ``reference`` (``saturation`` is the output's own)."""
    values: dict[str, float] = {}
    for name in metrics:
        match name:
            case "psnr":
                values[name] = psnr(output, reference)
            case "ssim":
                values[name] = ssim(output, reference)
            case "gt_mean_psnr":
                values[name] = gt_mean_psnr(output, reference)
            case "saturation":
                values[name] = saturation(output)
            case _:
                raise ValueError(f"unknown metric {name!r}")
    return values


@dataclass(frozen=True)
class Evaluation:
    """Mean scores over a set of pairs, each image's scores, and the outputs (in pair order)."""

    mean: dict[str, float]
    per_image: list[dict[str, float]]
    outputs: list[np.ndarray]


def evaluate_pairs(
    enhance: Callable[[Input], np.ndarray],
    pairs: Iterable[tuple[Input, np.ndarray]],
    metrics: Sequence[MetricName] = QUALITY,
    cancel: Callable[[], bool] | None = None,
) -> Evaluation:
    """Run ``enhance(input)`` on every ``(input, reference)`` pair and score the output.

    ``cancel`` is asked before each pair (:class:`CancelledError` when it says so). Raises
    ``ValueError`` when there are no pairs.
    """
    per_image: list[dict[str, float]] = []
    outputs: list[np.ndarray] = []
    for item, reference in pairs:
        if cancel is not None and cancel():
            raise CancelledError()
        output = enhance(item)
        per_image.append(score(output, reference, metrics))
        outputs.append(output)
    if not per_image:
        raise ValueError("nothing to evaluate: no image pairs")
    mean = {name: float(np.mean([scores[name] for scores in per_image])) for name in metrics}
    return Evaluation(mean, per_image, outputs)
