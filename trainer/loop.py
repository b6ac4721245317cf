"""The training loop: crops -> degradation -> MIRNet -> Charbonnier loss -> Adam, with EMA
weights, full-image validation, atomic per-epoch checkpoints and exact resume."""

from __future__ import annotations

import copy
import json
import logging
import math
import time
from collections.abc import Callable
from contextlib import nullcontext
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import numpy as np
import torch
from torch import nn

from core.atomic import write_json_atomically
from core.config import MIRNetConfig
from core.errors import CancelledError
from core.evaluation import evaluate_pairs
from core.exposure import expose, gain_for
from core.model import MIRNet, count_parameters
from core.weights import ModelDescriptor, load_weights, save_weights

from . import distributed as dist_utils
from .augment import colour_cast, degrade_low, exposure_jitter
from .checkpoint import load_resume_state, save_resume_state
from .config import CLIPPED_TARGET_LEVEL, TrainConfig
from .data import (
    DatasetError,
    PairImages,
    iterate_crop_batches,
    load_pairs,
    select_pairs,
    steps_per_epoch,
)
from .losses import restoration_loss, unclipped_weight
from .plots import write_curves

log = logging.getLogger(__name__)


@dataclass(frozen=True)
class StepEvent:
    """Reported every few optimiser steps."""

    epoch: int
    epochs: int
    step: int
    steps: int
    loss: float
    elapsed_s: float


@dataclass(frozen=True)
class EpochEvent:
    """Reported after each epoch's validation; ``preview`` is the first validation image's output."""

    epoch: int
    epochs: int
    metrics: dict[str, float]
    best_psnr: float
    eta_s: float
    preview: np.ndarray | None = None
    preview_input: np.ndarray | None = None
    preview_target: np.ndarray | None = None


@dataclass
class TrainResult:
    out_dir: Path
    best_weights: Path | None
    last_weights: Path | None
    history: list[dict[str, Any]] = field(default_factory=list)
    best_psnr: float = -math.inf
    best_ssim: float = 0.0
    completed: bool = False
    baseline: dict[str, float] = field(default_factory=dict)


Callback = Callable[[StepEvent | EpochEvent], None]


def select_device(name: str) -> torch.device:
    if name == "cuda" or (name == "auto" and torch.cuda.is_available()):
        if not torch.cuda.is_available():
            raise ValueError("--device cuda was asked for, but no CUDA device is available")
        return torch.device("cuda")
    return torch.device("cpu")


def _autocast(device: torch.device, precision: str):
    use_bf16 = precision == "bf16" or (precision == "auto" and device.type == "cuda")
    if not use_bf16:
        return nullcontext()
    return torch.autocast(device_type=device.type, dtype=torch.bfloat16)


def to_tensor(batch: np.ndarray, device: torch.device) -> torch.Tensor:
    """uint8 BxHxWx3 -> float32 Bx3xHxW in [0,1] on ``device``."""
    t = torch.from_numpy(np.ascontiguousarray(batch)).to(device, non_blocking=True)
    return t.permute(0, 3, 1, 2).float().div_(255.0)


@torch.inference_mode()
def enhance_full(model: MIRNet, image: np.ndarray, device: torch.device, precision: str,
                 gain: float | None = None) -> np.ndarray:
    """Whole-image forward pass (validation images are small); float32 HxWx3 in [0,1].
    ``gain`` overrides the model's automatic exposure gain."""
    x = torch.from_numpy(np.ascontiguousarray(image)).to(device).permute(2, 0, 1)[None].float() / 255.0
    with _autocast(device, precision):
        y = model(x, torch.tensor([gain], device=device)) if gain is not None else model(x)
    return y.float().clamp_(0, 1)[0].permute(1, 2, 0).cpu().numpy()


def evaluate(model: MIRNet, items: list[PairImages], device: torch.device, precision: str,
             context_window: int | None, true_exposure: bool = False) -> tuple[dict[str, float], list[np.ndarray]]:
    """Mean PSNR/SSIM (:func:`core.evaluation.evaluate_pairs`) of the model on full validation
    images at ``context_window`` (the weights' :attr:`~core.weights.ModelDescriptor.context_window`);
    with ``true_exposure`` at each pair's true gain (what the network alone achieves), else at auto."""
    was_training = model.training
    previous = model.context_window
    model.eval()
    model.set_context_window(context_window)

    def enhance(item: PairImages) -> np.ndarray:
        gain = item.true_gain if true_exposure and model.config.exposure_key is not None else None
        return enhance_full(model, item.low, device, precision, gain)

    try:
        result = evaluate_pairs(enhance, ((item, _reference(item)) for item in items))
    finally:
        model.set_context_window(previous)
        model.train(was_training)
    return {"val_psnr": result.mean["psnr"], "val_ssim": result.mean["ssim"]}, result.outputs


def _reference(item: PairImages) -> np.ndarray:
    return item.high.astype(np.float32) / 255.0


def input_baseline(items: list[PairImages]) -> dict[str, float]:
    """PSNR/SSIM of the unenhanced inputs against their references."""
    result = evaluate_pairs(lambda item: item.low.astype(np.float32) / 255.0,
                            ((item, _reference(item)) for item in items))
    return {"input_psnr": result.mean["psnr"], "input_ssim": result.mean["ssim"]}


def _load_datasets(cfg: TrainConfig) -> tuple[list[PairImages], list[PairImages], str]:
    d = cfg.data
    train_pairs, val_pairs, layout = select_pairs(d.train_dir, val_dir=d.val_dir, val_split=d.val_split, seed=cfg.seed)
    description = f"{Path(d.train_dir).name} ({layout.kind} layout, {len(train_pairs)} train / {len(val_pairs)} val pairs)"
    return load_pairs(train_pairs), load_pairs(val_pairs, d.val_max_side), description


def _whole_image_gain(model_cfg: MIRNetConfig, items: list[PairImages], index: np.ndarray,
                      darkening: torch.Tensor, true_exposure: bool = False) -> torch.Tensor | None:
    """Exposure gain of each crop's *whole* (darkened) source image, as the engine uses per photo:
    to the fixed key, or (``true_exposure``) the gain that reaches the reference's exposure."""
    if model_cfg.exposure_key is None:
        return None
    if true_exposure:
        true = torch.tensor([items[int(i)].true_gain for i in index], dtype=torch.float32, device=darkening.device)
        return true / darkening.float()
    log_avg = torch.tensor([items[int(i)].low_log_average for i in index], dtype=torch.float32,
                           device=darkening.device)
    return gain_for(log_avg * darkening.float(), model_cfg.exposure_key)


def _exposed_targets(model_cfg: MIRNetConfig, cfg: TrainConfig, high: torch.Tensor, gain: torch.Tensor | None,
                     gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor | None]:
    """Targets and input gains at the crop's target exposure.

    With the true exposure and a highlight shoulder, the reference goes through the same shoulder
    as the network's normalised input (white point = the input's gain), jittered by the EV
    augmentation; the network then learns restoration at any exposure, not an exposure choice.
    """
    a = cfg.augment
    if gain is None or not a.true_exposure:
        return high, gain
    ev = exposure_jitter(high.shape[0], a, gen, high.device) if a.ev_jitter_prob > 0 else torch.ones_like(gain)
    gain = gain * ev
    if model_cfg.highlight_knee is None:
        return expose(high, ev, None), gain
    return expose(high, ev, model_cfg.highlight_knee, white=gain, hue=model_cfg.shoulder_hue), gain


def _weights_extra(cfg: TrainConfig, model_cfg: MIRNetConfig, context: int) -> dict[str, str]:
    """The contract the engine reads back (:class:`core.weights.ModelDescriptor`): context window,
    crop, and whether EV was trained for."""
    return ModelDescriptor(architecture=model_cfg, context_window=context, train_crop=cfg.data.crop,
                           exposure_trained=cfg.augment.true_exposure and cfg.augment.ev_jitter_prob > 0).metadata()


def _add_exposure_head(cfg: TrainConfig, model_cfg: MIRNetConfig, train_items: list[PairImages],
                       val_items: list[PairImages], paths: list[Path | None]) -> None:
    """Fit the auto-exposure head on the training pairs and add it to the finished run's weights
    (only for runs trained at the true exposure: their network restores, the head exposes)."""
    if not cfg.augment.true_exposure or model_cfg.exposure_key is None:
        return
    from .exposure_fit import (
        ExposureFitConfig,
        fit_calibrated_head,
        fit_metadata,
        head_error_stops,
        network_at_true_gain,
        with_exposure_head,
    )

    fit_cfg = ExposureFitConfig()
    fits: dict[int | None, tuple[Any, float | None]] = {}
    for path in dict.fromkeys(p for p in paths if p is not None):
        model, info = load_weights(path)
        # Calibrated on this very network (trainer/exposure_fit.py): the head aims at the exposure
        # where the network scores best, not at the reference's log-average. Best and last weights
        # saved at the same epoch are the same network: one calibration serves both.
        if info.epochs not in fits:
            runner = network_at_true_gain(copy.deepcopy(model), info.descriptor.context_window)
            try:
                fit = fit_calibrated_head(train_items, runner, model_cfg.highlight_knee, fit_cfg,
                                          model_cfg.exposure_key, hue=model_cfg.shoulder_hue)
            except ValueError as exc:
                log.warning("no auto-exposure head: %s", exc)
                return
            val_stops = (head_error_stops(fit, val_items, fit_cfg, model_cfg.highlight_knee,
                                          hue=model_cfg.shoulder_hue) if val_items else None)
            fits[info.epochs] = (fit, val_stops)
        fit, val_stops = fits[info.epochs]
        log.info("auto-exposure head for %s: grouped-CV RMS %.2f stops (fixed key %.2f)", path.name,
                 fit.cv_rms_stops, fit.fixed_key_rms_stops)
        save_weights(path, with_exposure_head(model, fit, fit_cfg.bins), training_data=info.training_data,
                     epochs=info.epochs, val_psnr=info.val_psnr, val_ssim=info.val_ssim,
                     extra={**info.extra, **fit_metadata(fit, val_stops)})


def ema_decay_at(decay: float, updates: int) -> float:
    """Effective EMA decay after ``updates`` optimiser steps: ``min(decay, (1+n)/(10+n))``.

    A fixed 0.999 averages over ~1000 steps, longer than a whole CPU run of a few thousand
    steps, so validation (which uses the EMA) lagged the trained model by over 1 dB; the
    warm-up lets the average follow early training and settle at ``decay`` later.
    """
    return min(decay, (1.0 + updates) / (10.0 + updates))


def _run_architecture(cfg: TrainConfig, out_dir: Path, resume: bool) -> MIRNetConfig:
    """What the run trains (:meth:`TrainConfig.model_config`). A resumed fine-tune that inherited
    its start weights' shoulder keeps the shoulder its ``config.json`` recorded, so it does not
    need those weights again."""
    recorded = out_dir / "config.json"
    if resume and cfg.init_weights and recorded.is_file():
        architecture = json.loads(recorded.read_text()).get("architecture") or {}
        if "highlight_knee" in architecture:
            return cfg.model_config(start=architecture)
    return cfg.model_config()


def _initial_state(path: str, model_cfg: MIRNetConfig, preset: str) -> dict[str, torch.Tensor]:
    """The tensors of ``path`` for fine-tuning; its architecture must be the run's preset."""
    source, info = load_weights(path)
    if source.config.shape_only != model_cfg.shape_only:
        raise ValueError(f"--init-weights {path} holds a '{info.preset or 'custom'}' model, "
                         f"but this run trains the '{preset}' preset; pick weights of that preset")
    # The auto-exposure head is fitted after training, not trained here.
    return {k: v for k, v in source.state_dict().items() if not k.startswith("exposure_head.")}


def _ema_update(ema: nn.Module, model: nn.Module, decay: float) -> None:
    with torch.no_grad():
        for e, p in zip(ema.parameters(), model.parameters()):
            e.lerp_(p.detach(), 1.0 - decay)


def _make_scheduler(cfg: TrainConfig, optimiser: torch.optim.Optimizer):
    o = cfg.optim
    if o.schedule == "cosine":
        return torch.optim.lr_scheduler.CosineAnnealingLR(optimiser, T_max=max(1, cfg.epochs - o.warmup_epochs),
                                                          eta_min=o.min_lr)
    return torch.optim.lr_scheduler.ReduceLROnPlateau(optimiser, mode="max", factor=o.plateau_factor,
                                                      patience=o.plateau_patience, min_lr=o.min_lr)


@dataclass
class TrainState:
    """What a run carries from epoch to epoch; :meth:`save` and :meth:`load` are its resume file.

    ``epoch`` counts finished epochs. The resume file's keys (and the configuration fingerprint
    it is checked against) are those of every earlier version, so older runs still resume.
    """

    model: MIRNet
    ema: MIRNet | None
    optimiser: torch.optim.Optimizer
    scheduler: Any
    fingerprint: str
    epoch: int = 0
    history: list[dict[str, Any]] = field(default_factory=list)
    best_psnr: float = -math.inf
    best_ssim: float = 0.0

    @classmethod
    def create(cls, cfg: TrainConfig, model_cfg: MIRNetConfig, device: torch.device,
               init_weights: str | None = None) -> TrainState:
        """A fresh network (from ``init_weights`` when fine-tuning), its EMA copy, Adam and the schedule."""
        model = MIRNet(model_cfg)
        if init_weights:
            model.load_state_dict(_initial_state(init_weights, model_cfg, cfg.preset))
        model = model.to(device)
        if cfg.channels_last:
            model = model.to(memory_format=torch.channels_last)
        ema = copy.deepcopy(model).eval() if cfg.optim.ema_decay else None
        optimiser = torch.optim.Adam(model.parameters(), lr=cfg.optim.lr, weight_decay=cfg.optim.weight_decay)
        return cls(model, ema, optimiser, _make_scheduler(cfg, optimiser), cfg.fingerprint())

    def save(self, out_dir: Path) -> Path:
        """Write the resume file (atomically) with the torch RNG as it is now."""
        return save_resume_state(out_dir, {
            "fingerprint": self.fingerprint, "epoch": self.epoch, "model": self.model.state_dict(),
            "ema": self.ema.state_dict() if self.ema is not None else {}, "optimiser": self.optimiser.state_dict(),
            "scheduler": self.scheduler.state_dict(), "torch_rng": torch.get_rng_state(), "history": self.history,
            "best_psnr": self.best_psnr, "best_ssim": self.best_ssim,
        })

    def load(self, out_dir: Path, cfg: TrainConfig) -> None:
        """Continue from the resume file in ``out_dir`` (refused when the configuration changed)."""
        state = load_resume_state(out_dir, self.fingerprint)
        self.model.load_state_dict(state["model"])
        if self.ema is not None and "ema" in state:
            self.ema.load_state_dict(state["ema"])
        self.optimiser.load_state_dict(state["optimiser"])
        self.scheduler.load_state_dict(state["scheduler"])
        if isinstance(self.scheduler, torch.optim.lr_scheduler.CosineAnnealingLR):
            # --epochs may change on resume (it is not in the fingerprint): the cosine then ends there.
            scheduler = self.scheduler
            scheduler.T_max = max(1, cfg.epochs - cfg.optim.warmup_epochs)
            progress = math.pi * min(scheduler.last_epoch, scheduler.T_max) / scheduler.T_max
            for group, base in zip(self.optimiser.param_groups, scheduler.base_lrs):
                group["lr"] = scheduler.eta_min + (base - scheduler.eta_min) * (1 + math.cos(progress)) / 2
        torch.set_rng_state(state["torch_rng"])
        self.history = list(state["history"])
        self.epoch = int(state["epoch"])
        self.best_psnr, self.best_ssim = float(state["best_psnr"]), float(state["best_ssim"])

    @property
    def eval_model(self) -> MIRNet:
        """The network validated and saved: the EMA weights when kept."""
        return self.ema if self.ema is not None else self.model


@dataclass(frozen=True)
class RunContext:
    """What stays fixed during a run: configuration, device, data and the module that trains."""

    cfg: TrainConfig
    model_cfg: MIRNetConfig
    device: torch.device
    dist: dist_utils.DistInfo
    train_items: list[PairImages]
    val_items: list[PairImages]
    samples: int  # crops per epoch
    steps: int  # optimiser steps per epoch and process
    train_model: nn.Module  # the state's model, wrapped for DDP / torch.compile where asked
    gen: torch.Generator
    out_dir: Path = Path(".")
    data_description: str = ""
    baseline: dict[str, float] = field(default_factory=dict)

    @property
    def context_window(self) -> int:
        return self.cfg.effective_context_window


def training_module(model: MIRNet, cfg: TrainConfig, dist: dist_utils.DistInfo, device: torch.device) -> nn.Module:
    """``model`` as the optimiser steps see it: DDP-wrapped across processes, compiled when asked."""
    train_model: nn.Module = model
    if dist.enabled:
        train_model = nn.parallel.DistributedDataParallel(
            model, device_ids=[device.index] if device.type == "cuda" else None)
    if cfg.compile:
        train_model = torch.compile(train_model)
    return train_model


def train_step(run: RunContext, state: TrainState, batch: tuple[np.ndarray, np.ndarray, np.ndarray],
               update: int) -> torch.Tensor:
    """One optimiser step on ``batch`` (low crops, high crops, source indices): degradation,
    forward, loss, backward, clipping, Adam, EMA (``update`` steps so far). Returns the loss."""
    cfg, model_cfg = run.cfg, run.model_cfg
    low_u8, high_u8, index = batch
    weight = None
    if cfg.optim.ignore_clipped_targets:
        weight = unclipped_weight(torch.from_numpy(np.ascontiguousarray(high_u8)).to(run.device).permute(0, 3, 1, 2),
                                  CLIPPED_TARGET_LEVEL)
    low, high = colour_cast(to_tensor(low_u8, run.device), to_tensor(high_u8, run.device), cfg.augment, run.gen)
    low, darkening = degrade_low(low, cfg.augment, run.gen)
    exposure = _whole_image_gain(model_cfg, run.train_items, index, darkening, cfg.augment.true_exposure)
    high, exposure = _exposed_targets(model_cfg, cfg, high, exposure, run.gen)
    if cfg.channels_last:
        low = low.contiguous(memory_format=torch.channels_last)
    with _autocast(run.device, cfg.precision):
        pred = run.train_model(low, exposure)
    loss = restoration_loss(pred.float(), high, cfg.optim.charbonnier_eps, cfg.optim.ssim_weight,
                            cfg.optim.colour_weight, weight)
    state.optimiser.zero_grad(set_to_none=True)
    loss.backward()
    if cfg.optim.grad_clip:
        nn.utils.clip_grad_norm_(state.model.parameters(), cfg.optim.grad_clip)
    state.optimiser.step()
    if state.ema is not None:
        _ema_update(state.ema, state.model, ema_decay_at(cfg.optim.ema_decay, update))
    return loss.detach()


def train_epoch(run: RunContext, state: TrainState, epoch: int, t_start: float, *,
                callback: Callback | None = None, should_stop: Callable[[], bool] | None = None) -> float:
    """Train epoch ``epoch`` (0-based); returns its mean loss over all processes.

    ``should_stop`` is polled every step (:class:`CancelledError` when it says so)."""
    cfg, dist = run.cfg, run.dist
    run.gen.manual_seed(cfg.seed * 100_003 + epoch * 7919 + dist.rank)
    state.model.train()
    losses = []
    batches = iterate_crop_batches(run.train_items, crop=cfg.data.crop, batch_size=cfg.data.batch_size,
                                   samples=run.samples, seed=cfg.seed, epoch=epoch, rank=dist.rank,
                                   world_size=dist.world_size, flips=cfg.augment.flips,
                                   scale_range=cfg.data.scale_range)
    if cfg.optim.warmup_epochs and epoch < cfg.optim.warmup_epochs:
        for group in state.optimiser.param_groups:
            group["lr"] = cfg.optim.lr * (epoch + 1) / cfg.optim.warmup_epochs
    for step, batch in enumerate(batches):
        if should_stop is not None and should_stop():
            raise CancelledError(f"Training stopped at epoch {epoch + 1}; resume continues from epoch {epoch}.")
        loss = train_step(run, state, batch, epoch * run.steps + step)
        losses.append(loss)
        if callback is not None and (step % 10 == 0 or step == run.steps - 1):
            callback(StepEvent(epoch + 1, cfg.epochs, step + 1, run.steps, float(loss), time.monotonic() - t_start))
    return dist_utils.all_reduce_mean(float(torch.stack(losses).mean()), dist, run.device)


def validate(run: RunContext, state: TrainState) -> tuple[dict[str, float], list[np.ndarray]]:
    """Validation PSNR/SSIM of the state's :attr:`~TrainState.eval_model` (computed by the main
    process, shared with the others) and its outputs (main process only)."""
    metrics: dict[str, float] = {"val_psnr": 0.0, "val_ssim": 0.0}
    outputs: list[np.ndarray] = []
    if run.dist.is_main:
        metrics, outputs = evaluate(state.eval_model, run.val_items, run.device, run.cfg.precision,
                                    run.context_window, run.cfg.augment.true_exposure)
    metrics["val_psnr"] = dist_utils.broadcast_float(metrics["val_psnr"], run.dist, run.device)
    metrics["val_ssim"] = dist_utils.broadcast_float(metrics["val_ssim"], run.dist, run.device)
    return metrics, outputs


def _step_schedule(run: RunContext, state: TrainState, epoch: int, val_psnr: float) -> None:
    o = run.cfg.optim
    if o.warmup_epochs and epoch < o.warmup_epochs:
        return
    if o.schedule == "cosine":
        state.scheduler.step()
    else:
        state.scheduler.step(val_psnr)


def save_epoch(run: RunContext, state: TrainState, metrics: dict[str, float], improved: bool,
               result: TrainResult) -> None:
    """The main process writes the finished epoch: last (and, when ``improved``, best) weights with
    their contract, metrics.json, curves.png and the resume state."""
    if not run.dist.is_main:
        return
    cfg, out_dir = run.cfg, run.out_dir
    meta = {"training_data": run.data_description, "epochs": state.epoch, "val_psnr": metrics["val_psnr"],
            "val_ssim": metrics["val_ssim"], "extra": _weights_extra(cfg, run.model_cfg, run.context_window)}
    result.last_weights = save_weights(out_dir / "weights" / "last.safetensors", state.eval_model, **meta)
    if improved:
        result.best_weights = save_weights(out_dir / "weights" / "best.safetensors", state.eval_model, **meta)
    write_json_atomically(out_dir / "metrics.json", {"baseline": run.baseline, "history": state.history,
                                                     "best_psnr": state.best_psnr, "best_ssim": state.best_ssim})
    write_curves(out_dir / "curves.png", state.history)
    state.save(out_dir)


def train(
    cfg: TrainConfig,
    *,
    resume: bool = False,
    callback: Callback | None = None,
    should_stop: Callable[[], bool] | None = None,
) -> TrainResult:
    """Run (or resume) a training run as ``cfg`` describes; see the module docstring.

    ``should_stop`` is polled every step: when it returns True the run stops at once, keeping
    the last epoch's checkpoint, and raises :class:`CancelledError`. ``cfg.time_limit_s``
    instead ends the run cleanly after the epoch in which the limit passes.
    """
    device = select_device(cfg.device)
    dist = dist_utils.init_distributed(device.type)
    if dist.enabled and device.type == "cuda":
        device = torch.device("cuda", dist.local_rank)
        torch.cuda.set_device(device)
    out_dir = Path(cfg.out_dir)
    torch.manual_seed(cfg.seed)
    model_cfg = _run_architecture(cfg, out_dir, resume)

    train_items, val_items, data_description = _load_datasets(cfg)
    samples = cfg.data.samples_per_epoch or len(train_items)
    steps = steps_per_epoch(samples, cfg.data.batch_size, dist.world_size)
    if steps < 1:
        raise DatasetError(
            f"{samples} samples per epoch give no full batch of {cfg.data.batch_size} "
            f"on {dist.world_size} process(es); lower --batch or raise the samples per epoch."
        )

    state = TrainState.create(cfg, model_cfg, device, None if resume else cfg.init_weights)
    if resume:
        state.load(out_dir, cfg)
        log.info("resumed %s at epoch %d", out_dir, state.epoch)
    elif dist.is_main:
        out_dir.mkdir(parents=True, exist_ok=True)
    if dist.is_main:
        write_json_atomically(out_dir / "config.json", {"config": cfg.to_dict(), "fingerprint": state.fingerprint,
                                                        "architecture": model_cfg.__dict__,
                                                        "parameters": count_parameters(state.model)})

    run = RunContext(cfg, model_cfg, device, dist, train_items, val_items, samples, steps,
                     training_module(state.model, cfg, dist, device), torch.Generator(device=device), out_dir,
                     data_description, input_baseline(val_items) if dist.is_main else {})
    result = TrainResult(out_dir, None, None, state.history, state.best_psnr, state.best_ssim,
                         baseline=run.baseline)
    t_start = time.monotonic()
    epoch_times: list[float] = []

    for epoch in range(state.epoch, cfg.epochs):
        t_epoch = time.monotonic()
        mean_loss = train_epoch(run, state, epoch, t_start, callback=callback, should_stop=should_stop)
        metrics, outputs = validate(run, state)
        lr_now = state.optimiser.param_groups[0]["lr"]
        _step_schedule(run, state, epoch, metrics["val_psnr"])
        epoch_time = time.monotonic() - t_epoch
        epoch_times.append(epoch_time)
        record = {"epoch": epoch + 1, "loss": mean_loss, **metrics, "lr": lr_now, "time_s": epoch_time,
                  "input_psnr": run.baseline.get("input_psnr")}
        state.history.append(record)
        state.epoch = epoch + 1
        improved = metrics["val_psnr"] > state.best_psnr
        if improved:
            state.best_psnr, state.best_ssim = metrics["val_psnr"], metrics["val_ssim"]
        save_epoch(run, state, metrics, improved, result)
        dist_utils.barrier(dist)
        remaining = cfg.epochs - epoch - 1
        eta = remaining * float(np.mean(epoch_times[-3:]))
        if callback is not None:
            preview = outputs[0] if outputs else None
            callback(EpochEvent(epoch + 1, cfg.epochs, dict(record), state.best_psnr, eta, preview,
                                val_items[0].low if preview is not None else None,
                                val_items[0].high if preview is not None else None))
        result.best_psnr, result.best_ssim = state.best_psnr, state.best_ssim
        if cfg.time_limit_s is not None and time.monotonic() - t_start > cfg.time_limit_s and remaining:
            log.info("time limit reached after epoch %d; resume to continue", epoch + 1)
            break
    else:
        result.completed = True

    if result.best_weights is None and (out_dir / "weights" / "best.safetensors").exists():
        result.best_weights = out_dir / "weights" / "best.safetensors"
    if dist.is_main and result.completed:
        _add_exposure_head(cfg, model_cfg, train_items, val_items, [result.best_weights, result.last_weights])
    dist_utils.shutdown(dist)
    return result
