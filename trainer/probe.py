"""Estimate the time of one training epoch on this machine by timing a few real steps.

The probe runs :func:`trainer.loop.train` itself (so every step costs exactly what the real loop
costs: degradation, forward, loss, backward, clipping, Adam, EMA) on a scratch copy of just
``batch_size`` training pairs, stops it after a few steps, and times validation of one full
validation image. It then extrapolates:
``epoch = steps per epoch x seconds per step + validation images x seconds per image``.
"""

from __future__ import annotations

import dataclasses
import logging
import os
import shutil
import tempfile
import time
from collections.abc import Callable
from functools import cache
from pathlib import Path

import torch

from core.config import get_preset
from core.errors import CancelledError
from core.model import MIRNet, count_parameters

from .config import TrainConfig
from .data import ImagePair, load_pairs, select_pairs, steps_per_epoch
from .loop import EpochEvent, StepEvent, evaluate, select_device, train

log = logging.getLogger(__name__)


@dataclasses.dataclass(frozen=True)
class ProbeResult:
    """Measured cost of one training step and the extrapolated epoch time."""

    preset: str
    device: str
    parameters: int
    seconds_per_step: float
    steps_per_epoch: int
    train_pairs: int
    val_pairs: int
    seconds_per_val_image: float

    @property
    def train_s(self) -> float:
        return self.steps_per_epoch * self.seconds_per_step

    @property
    def val_s(self) -> float:
        return self.val_pairs * self.seconds_per_val_image

    @property
    def epoch_s(self) -> float:
        return self.train_s + self.val_s


@cache
def preset_parameters(preset: str) -> int:
    """Parameter count of a preset (built once on the meta device, then cached)."""
    with torch.device("meta"):
        return count_parameters(MIRNet(get_preset(preset)))


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _split_pairs(cfg: TrainConfig) -> tuple[list[ImagePair], list[ImagePair]]:
    """Training and validation pairs as :func:`trainer.loop.train` chooses them."""
    d = cfg.data
    train_pairs, val_pairs, _ = select_pairs(d.train_dir, val_dir=d.val_dir, val_split=d.val_split, seed=cfg.seed,
                                             require_val=False)
    return train_pairs, val_pairs


def _link_or_copy(src: Path, dst: Path) -> None:
    try:
        os.symlink(src.resolve(), dst)
    except OSError:  # no symlinks (Windows without the privilege)
        shutil.copy2(src, dst)


def _scratch_dataset(root: Path, train_pairs: list[ImagePair], val_pair: ImagePair) -> None:
    """``root/train/{low,high}`` and ``root/val/{low,high}`` holding the given pairs."""
    for split, pairs in (("train", train_pairs), ("val", [val_pair])):
        for pair in pairs:
            for side, src in (("low", pair.low), ("high", pair.high)):
                folder = root / split / side
                folder.mkdir(parents=True, exist_ok=True)
                _link_or_copy(src, folder / src.name)


class _StopProbe(Exception):
    """Raised from the callback once enough steps are timed."""


def _time_steps(cfg: TrainConfig, train_pairs: list[ImagePair], val_pair: ImagePair, steps: int, warmup: int,
                should_stop: Callable[[], bool] | None) -> float:
    """Seconds per training step of the real loop, after ``warmup`` steps."""
    batch = cfg.data.batch_size
    total = warmup + steps
    elapsed: dict[int, float] = {}

    def on_event(event: StepEvent | EpochEvent) -> None:
        if isinstance(event, StepEvent):
            elapsed[event.step] = event.elapsed_s
            if event.step >= total:
                raise _StopProbe()

    with tempfile.TemporaryDirectory(prefix="lowlight-probe-") as tmp:
        root = Path(tmp)
        _scratch_dataset(root / "data", train_pairs[:batch], val_pair)
        data = dataclasses.replace(cfg.data, train_dir=str(root / "data"), val_dir=None, val_split=None,
                                   samples_per_epoch=batch * total)
        probe_cfg = dataclasses.replace(cfg, data=data, out_dir=str(root / "run"), epochs=1, time_limit_s=None)
        try:
            train(probe_cfg, callback=on_event, should_stop=should_stop)
        except _StopProbe:
            pass
    # the loop reports the first step and then every 10th: time from the end of the warm-up step
    first = min(k for k in elapsed if k >= warmup) if any(k >= warmup for k in elapsed) else None
    last = max(elapsed)
    if first is None or last <= first:
        raise RuntimeError("the probe could not time any training step")
    return (elapsed[last] - elapsed[first]) / (last - first)


def probe_epoch_time(
    cfg: TrainConfig,
    *,
    steps: int = 3,
    warmup: int = 1,
    should_stop: Callable[[], bool] | None = None,
) -> ProbeResult:
    """Time ``steps`` training steps (after ``warmup`` more) of ``cfg`` on its device, and one validation image.

    Raises :class:`trainer.data.DatasetError` for unusable data and :class:`CancelledError` when
    ``should_stop()`` turns True.
    """
    if steps < 1 or warmup < 1:
        raise ValueError("the probe needs at least one warm-up step and one timed step")
    device = select_device(cfg.device)
    train_pairs, val_pairs = _split_pairs(cfg)
    samples = cfg.data.samples_per_epoch or len(train_pairs)
    n_steps = steps_per_epoch(samples, cfg.data.batch_size)
    if not train_pairs or not val_pairs:
        raise ValueError("the probe needs training and validation pairs")
    per_step = _time_steps(cfg, train_pairs, val_pairs[0], steps, warmup, should_stop)

    if should_stop is not None and should_stop():
        raise CancelledError("probe cancelled")
    model = MIRNet(get_preset(cfg.preset)).to(device)
    val_item = load_pairs(val_pairs[:1], cfg.data.val_max_side)
    t0 = time.perf_counter()
    evaluate(model, val_item, device, cfg.precision, cfg.effective_context_window)
    _sync(device)
    per_val = time.perf_counter() - t0

    result = ProbeResult(preset=cfg.preset, device=str(device), parameters=count_parameters(model),
                         seconds_per_step=per_step, steps_per_epoch=n_steps, train_pairs=len(train_pairs),
                         val_pairs=len(val_pairs), seconds_per_val_image=per_val)
    log.info("probe %s on %s: %.3f s/step x %d steps + %d val x %.2f s = %.1f s/epoch", cfg.preset, device,
             per_step, n_steps, len(val_pairs), per_val, result.epoch_s)
    return result
