"""Inspect a dataset folder for the wizard (no Qt): the trainer's validator plus sample thumbnails."""

from __future__ import annotations

import logging
from dataclasses import dataclass, field
from pathlib import Path

import numpy as np

from trainer.data import DatasetError, ImagePair, discover_pairs, load_rgb8, resolve_layout, split_pairs

from ..imaging import downscale

log = logging.getLogger(__name__)

DEFAULT_VAL_SPLIT = 0.1  # held out when the folder has no validation part
SAMPLE_COUNT = 4
THUMB_SIDE = 112

LAYOUT_NAMES = {"lol": "LOL layout: our485/ + eval15/", "split": "train/ + val/", "flat": "low/ + high/"}


@dataclass(frozen=True)
class Sample:
    """A pair shown on the data page (small uint8 RGB thumbnails)."""

    name: str
    low: np.ndarray
    high: np.ndarray


@dataclass(frozen=True)
class DatasetSummary:
    """A usable dataset folder: its pairs, how validation is chosen, a few samples."""

    folder: Path
    kind: str
    train_pairs: int
    val_pairs: int
    val_split: float | None  # set when the validation pairs are held out of the training pairs
    samples: list[Sample] = field(default_factory=list)

    def describe(self) -> str:
        """Two lines for people: counts and layout, and where validation comes from."""
        total = self.train_pairs + self.val_pairs
        head = f"{total} pairs found ({LAYOUT_NAMES.get(self.kind, self.kind)})."
        if self.val_split is not None:
            tail = (f"No validation folder: {self.val_pairs} pairs ({self.val_split:.0%}) are held out for "
                    f"validation, {self.train_pairs} are used for training.")
        else:
            tail = f"{self.train_pairs} training pairs, {self.val_pairs} validation pairs."
        return f"{head}\n{tail}"


def inspect_dataset(folder: str | Path, seed: int = 0, samples: int = SAMPLE_COUNT) -> DatasetSummary:
    """Validate ``folder`` like the trainer does and decode a few sample pairs.

    Raises :class:`trainer.data.DatasetError` with every problem found.
    """
    folder = Path(folder).expanduser()
    layout = resolve_layout(folder)
    problems: list[str] = []
    train: list[ImagePair] = []
    val: list[ImagePair] = []
    for part, target in ((layout.train, train), (layout.val, val)):
        if part is None:
            continue
        try:
            target.extend(discover_pairs(part))
        except DatasetError as exc:
            problems.append(str(exc))
    if problems:
        raise DatasetError("\n".join(problems))
    val_split = None
    if layout.val is None:
        if len(train) < 2:
            raise DatasetError(f"'{folder}' holds only {len(train)} pair; at least 2 are needed "
                               "(one to train on, one to validate with).")
        val_split = DEFAULT_VAL_SPLIT
        train, val = split_pairs(train, val_split, seed)
    shown = _pick(train + val, samples)
    thumbs = [Sample(p.name, downscale(load_rgb8(p.low), THUMB_SIDE), downscale(load_rgb8(p.high), THUMB_SIDE))
              for p in shown]
    return DatasetSummary(folder, layout.kind, len(train), len(val), val_split, thumbs)


def _pick(pairs: list[ImagePair], count: int) -> list[ImagePair]:
    """``count`` pairs spread evenly over the list."""
    if len(pairs) <= count:
        return list(pairs)
    step = len(pairs) / count
    return [pairs[int(i * step)] for i in range(count)]
