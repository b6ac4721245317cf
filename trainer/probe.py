"""Estimate the time of one training epoch on this machine by timing a few real steps.

The probe times :func:`trainer.loop.train_step`, the loop's own step (so every step costs
exactly what the real loop costs: degradation, forward, loss, backward, clipping, Adam, EMA), on
``batch_size`` of the run's training pairs, and validation of one full validation image. No run
folder is written. It then extrapolates:
``epoch = steps per epoch x seconds per step + validation images x seconds per image``.
"""

from __future__ import annotations

import dataclasses
import logging
import time
from collections.abc import Callable
from functools import cache

import torch

from core.config import get_preset
from core.errors import CancelledError
from core.model import MIRNet, count_parameters

from .config import TrainConfig
from .data import ImagePair, iterate_crop_batches, load_pairs, select_pairs, steps_per_epoch
from .distributed import DistInfo
from .loop import RunContext, TrainState, evaluate, select_device, train_step, training_module

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


def _time_steps(cfg: TrainConfig, train_pairs: list[ImagePair], steps: int, warmup: int,
                should_stop: Callable[[], bool] | None) -> float:
    """Seconds per :func:`trainer.loop.train_step` of ``cfg`` on ``batch_size`` training pairs,
    after ``warmup`` steps."""
    device = select_device(cfg.device)
    model_cfg = cfg.model_config()
    batch = cfg.data.batch_size
    total = warmup + steps
    torch.manual_seed(cfg.seed)
    items = load_pairs(train_pairs[:batch])
    state = TrainState.create(cfg, model_cfg, device, cfg.init_weights)
    single = DistInfo()
    run = RunContext(cfg, model_cfg, device, single, items, [], batch * total, total,
                     training_module(state.model, cfg, single, device), torch.Generator(device=device))
    run.gen.manual_seed(cfg.seed)
    state.model.train()
    batches = iterate_crop_batches(items, crop=cfg.data.crop, batch_size=batch, samples=batch * total, seed=cfg.seed,
                                   epoch=0, flips=cfg.augment.flips, scale_range=cfg.data.scale_range)
    started, timed = 0.0, 0
    for step, crops in enumerate(batches):
        if should_stop is not None and should_stop():
            raise CancelledError("probe cancelled")
        if step == warmup:
            _sync(device)
            started = time.perf_counter()
        train_step(run, state, crops, step)
        timed += step >= warmup
    _sync(device)
    if timed < 1:
        raise RuntimeError("the probe could not time any training step")
    return (time.perf_counter() - started) / timed


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
    per_step = _time_steps(cfg, train_pairs, steps, warmup, should_stop)

    if should_stop is not None and should_stop():
        raise CancelledError("probe cancelled")
    model = MIRNet(cfg.model_config()).to(device)
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
