"""Estimate the time of one training epoch on this machine by timing a few real steps.

The probe builds the chosen preset, cuts real crops from the dataset, and times full training
steps (degradation, forward, Charbonnier loss, backward, clipping, Adam, EMA) as the loop does.
It then times validation on one validation image and extrapolates:
``epoch = steps per epoch x seconds per step + validation images x seconds per image``.
"""

from __future__ import annotations

import copy
import logging
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass
from functools import cache

import torch
from torch import nn

from core.config import get_preset
from core.errors import CancelledError
from core.model import MIRNet, count_parameters

from .augment import degrade_low
from .config import TrainConfig
from .data import (
    discover_pairs,
    iterate_crop_batches,
    load_pairs,
    resolve_layout,
    split_pairs,
    steps_per_epoch,
)
from .loop import charbonnier, evaluate, select_device, to_tensor

log = logging.getLogger(__name__)


@dataclass(frozen=True)
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


def _autocast(device: torch.device, precision: str):
    # same rule as trainer.loop: bf16 autocast on GPU under "auto"
    if precision == "bf16" or (precision == "auto" and device.type == "cuda"):
        return torch.autocast(device_type=device.type, dtype=torch.bfloat16)
    return nullcontext()


def _sync(device: torch.device) -> None:
    if device.type == "cuda":
        torch.cuda.synchronize(device)


def _split_counts(cfg: TrainConfig) -> tuple[list, list]:
    """Training and validation pairs as :func:`trainer.loop.train` would use them."""
    layout = resolve_layout(cfg.data.train_dir)
    train_pairs = discover_pairs(layout.train)
    if cfg.data.val_dir:
        val_layout = resolve_layout(cfg.data.val_dir)
        val_pairs = discover_pairs(val_layout.val or val_layout.train)
    elif cfg.data.val_split:
        train_pairs, val_pairs = split_pairs(train_pairs, cfg.data.val_split, cfg.seed)
    elif layout.val is not None:
        val_pairs = discover_pairs(layout.val)
    else:
        val_pairs = []
    return train_pairs, val_pairs


def probe_epoch_time(
    cfg: TrainConfig,
    *,
    steps: int = 3,
    warmup: int = 1,
    should_stop: Callable[[], bool] | None = None,
) -> ProbeResult:
    """Time ``steps`` training steps (after ``warmup`` untimed ones) of ``cfg`` on its device.

    Only ``batch_size`` training pairs and one validation pair are decoded. Raises
    :class:`trainer.data.DatasetError` for unusable data and :class:`CancelledError` when
    ``should_stop()`` turns True between steps.
    """

    def check() -> None:
        if should_stop is not None and should_stop():
            raise CancelledError("probe cancelled")

    device = select_device(cfg.device)
    train_pairs, val_pairs = _split_counts(cfg)
    samples = cfg.data.samples_per_epoch or len(train_pairs)
    n_steps = steps_per_epoch(samples, cfg.data.batch_size)
    items = load_pairs(train_pairs[: max(1, cfg.data.batch_size)])
    check()

    torch.manual_seed(cfg.seed)
    model: nn.Module = MIRNet(get_preset(cfg.preset)).to(device)
    if cfg.channels_last:
        model = model.to(memory_format=torch.channels_last)
    ema = copy.deepcopy(model).eval() if cfg.optim.ema_decay else None
    optimiser = torch.optim.Adam(model.parameters(), lr=cfg.optim.lr)
    gen = torch.Generator(device=device)
    gen.manual_seed(cfg.seed)
    batches = iterate_crop_batches(items, crop=cfg.data.crop, batch_size=cfg.data.batch_size,
                                   samples=cfg.data.batch_size * (steps + warmup), seed=cfg.seed, epoch=0,
                                   flips=cfg.augment.flips, scale_range=cfg.data.scale_range)
    model.train()
    timed: list[float] = []
    for i, (low_u8, high_u8) in enumerate(batches):
        check()
        _sync(device)
        t0 = time.perf_counter()
        low = degrade_low(to_tensor(low_u8, device), cfg.augment, gen)
        high = to_tensor(high_u8, device)
        if cfg.channels_last:
            low = low.contiguous(memory_format=torch.channels_last)
        with _autocast(device, cfg.precision):
            pred = model(low)
        loss = charbonnier(pred.float(), high, cfg.optim.charbonnier_eps)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        if cfg.optim.grad_clip:
            nn.utils.clip_grad_norm_(model.parameters(), cfg.optim.grad_clip)
        optimiser.step()
        if ema is not None:
            with torch.no_grad():
                for e, p in zip(ema.parameters(), model.parameters()):
                    e.lerp_(p.detach(), 1.0 - cfg.optim.ema_decay)
        _sync(device)
        if i >= warmup:
            timed.append(time.perf_counter() - t0)
    per_step = min(timed) if len(timed) < 3 else sorted(timed)[len(timed) // 2]

    per_val = 0.0
    if val_pairs:
        check()
        val_item = load_pairs(val_pairs[:1], cfg.data.val_max_side)
        t0 = time.perf_counter()
        evaluate(ema if ema is not None else model, val_item, device, cfg.precision,  # type: ignore[arg-type]
                 cfg.effective_context_window)
        _sync(device)
        per_val = time.perf_counter() - t0

    result = ProbeResult(preset=cfg.preset, device=str(device), parameters=count_parameters(model),
                         seconds_per_step=per_step, steps_per_epoch=n_steps, train_pairs=len(train_pairs),
                         val_pairs=len(val_pairs), seconds_per_val_image=per_val)
    log.info("probe %s on %s: %.3f s/step x %d steps + %d val x %.2f s = %.1f s/epoch", cfg.preset, device,
             per_step, n_steps, len(val_pairs), per_val, result.epoch_s)
    return result
