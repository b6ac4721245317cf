"""Fit the auto-exposure head (core/auto_exposure.py) on bracketed pairs, where the right
exposure is known.

What "right" means matters. Matching the reference's log-average luminance ("key") is a noisy
proxy: on SICE val the trained network's best-PSNR exposure was on average 0.28 stops above it,
with 0.39 stops of scatter per image. So each pair's target key is moved to where the *network*
scores best. Running the network on every pair is costly, but the exposure at which the plain
exposed *input* best matches the reference is cheap (no network) and predicts the network's best
one closely (on SICE, network EV = 0.63 x input EV - 0.19, residual 0.08 stops; correlation
0.97). So the network runs only on a small calibration subset, to fit that line, and the line
moves every pair's target.

The head is a ridge regression from exposure features of the *low* frame to ``log(key)``.
Each training pair is also seen darkened in linear light (as the trainer's augmentation does),
all with the same answer, so the head learns what a scene should look like rather than how
dark this frame happens to be. The ridge strength is chosen by cross-validation grouped by
scene (frames of one bracket are near-duplicates), on the training pairs only.

``python -m trainer.exposure_fit --data DIR --weights IN --out OUT`` adds a fitted head to a
weights file; :func:`train` in ``trainer/loop.py`` calls :func:`fit_exposure_head` itself.
"""

from __future__ import annotations

import argparse
import copy
import logging
import math
import sys
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace

import cv2
import numpy as np
import torch

from core.auto_exposure import KEY_RANGE, exposure_features
from core.config import DEFAULT_SHADOW_CHROMA
from core.exposure import best_exposure, expose, linear_to_srgb, scale_chroma, srgb_to_linear
from core.metrics import psnr, saturation
from core.model import MIRNet
from core.weights import load_weights, save_weights

from .data import PairImages, load_pairs, select_pairs

log = logging.getLogger(__name__)

#: The output chroma gain the calibration may choose. Beyond 1.1 PSNR starts to pay (SICE val,
#: epoch-3 picture network: -0.06 dB at 1.10, -0.16 at 1.15), and 32 calibration pairs once
#: chose 1.23, which over-saturated val (ratio 1.11).
CHROMA_GAIN_RANGE = (0.9, 1.1)


@dataclass(frozen=True, kw_only=True)
class ExposureFitConfig:
    """How the head is fitted."""

    bins: int = 32
    # Each low frame is also seen this many stops darker (linear light), with the same target.
    darken_stops: tuple[float, ...] = (0.0, -0.75, -1.5, -2.25, -3.0)
    ridge_grid: tuple[float, ...] = (1e-3, 1e-2, 0.1, 1.0, 10.0)
    folds: int = 5
    # Pairs (spread over scenes) on which the network's best exposure is searched to calibrate
    # the input-best-exposure line; 0 = targets at the reference's log-average, no calibration.
    calibration_pairs: int = 32
    # The input-best-exposure search runs on a copy this small (a global property; cheap).
    search_side: int = 256
    search_range: tuple[float, float] = (-2.0, 3.0)


@dataclass(frozen=True)
class ExposureCalibration:
    """The network's best exposure (stops above each pair's log-average match) as a line in the
    input's best exposure: ``network_ev = slope * input_ev + intercept``, from ``pairs`` pairs."""

    slope: float
    intercept: float
    pairs: int
    residual_stops: float
    #: :func:`fit_chroma_gain` on the same pairs' outputs (None: not fitted).
    chroma_gain: float | None = None

    def offset(self, input_ev: np.ndarray) -> np.ndarray:
        return self.slope * np.asarray(input_ev) + self.intercept


@dataclass
class ExposureFit:
    """A fitted head and how well it did (errors in stops, i.e. log2 of the key ratio)."""

    weight: np.ndarray  # (features,)
    bias: float
    ridge: float
    cv_rms_stops: float
    fixed_key_rms_stops: float
    per_lambda: dict[float, float] = field(default_factory=dict)
    calibration: ExposureCalibration | None = None


def _scene(name: str) -> str:
    """``<sequence>_<frame>`` names (SICE): frames of one sequence are one scene."""
    return name.rsplit("_", 1)[0] if "_" in name else name


def _tensor(image: np.ndarray) -> torch.Tensor:
    return torch.from_numpy(np.ascontiguousarray(image)).permute(2, 0, 1)[None].float() / 255.0


def input_best_ev(item: PairImages, knee: float | None, cfg: ExposureFitConfig = ExposureFitConfig(),  # noqa: B008
                  *, hue: float = 0.0) -> float:
    """Stops above the pair's true (log-average) gain at which the low frame, only exposed
    (:func:`core.exposure.expose` with ``knee`` and ``hue``), has the highest PSNR against the reference: golden-section
    search on copies at most ``cfg.search_side`` px (PSNR is unimodal in the exposure)."""
    side = max(item.low.shape[:2])
    low, high = item.low, item.high
    if side > cfg.search_side:
        size = (max(1, round(low.shape[1] * cfg.search_side / side)), max(1, round(low.shape[0] * cfg.search_side / side)))
        low = cv2.resize(low, size, interpolation=cv2.INTER_AREA)
        high = cv2.resize(high, size, interpolation=cv2.INTER_AREA)
    x, ref = _tensor(low), high.astype(np.float32) / 255.0

    def score(ev: float) -> float:
        out = expose(x, torch.tensor([item.true_gain * 2.0**ev]), knee, hue=hue)
        return psnr(out[0].permute(1, 2, 0).numpy(), ref)

    lo, hi = cfg.search_range
    ratio = (math.sqrt(5.0) - 1.0) / 2.0
    a, b = hi - ratio * (hi - lo), lo + ratio * (hi - lo)
    fa, fb = score(a), score(b)
    while hi - lo > 0.02:
        if fa < fb:
            lo, a, fa = a, b, fb
            b = lo + ratio * (hi - lo)
            fb = score(b)
        else:
            hi, b, fb = b, a, fa
            a = hi - ratio * (hi - lo)
            fa = score(a)
    return 0.5 * (lo + hi)


def _spread(items: Sequence[PairImages], count: int) -> list[int]:
    """Indices of up to ``count`` items, one scene at a time round-robin (so frames of one
    bracket do not fill the subset)."""
    by_scene: dict[str, list[int]] = {}
    for i, item in enumerate(items):
        by_scene.setdefault(_scene(item.name), []).append(i)
    queues = [list(v) for _, v in sorted(by_scene.items())]
    chosen: list[int] = []
    while len(chosen) < count and any(queues):
        for queue in queues:
            if queue and len(chosen) < count:
                chosen.append(queue.pop(0))
    return sorted(chosen)


def calibrate_to_network(enhance_at: Callable[[PairImages, float], np.ndarray], items: Sequence[PairImages],
                         input_evs: Sequence[float], cfg: ExposureFitConfig = ExposureFitConfig(),  # noqa: B008
                         ) -> ExposureCalibration | None:
    """Fit :class:`ExposureCalibration` from the network's best exposure on a subset of ``items``.

    ``enhance_at(item, ev)`` runs the network on ``item.low`` at ``item.true_gain * 2**ev``. Each
    subset pair costs three runs (:func:`core.exposure.best_exposure`). None when there are too
    few pairs for a line (fewer than 4); the slope is kept within [0, 1.5].
    """
    chosen = _spread(items, cfg.calibration_pairs) if cfg.calibration_pairs > 0 else []
    if len(chosen) < 4:
        return None
    xs, ys, outputs, references = [], [], [], []
    for i in chosen:
        item = items[i]
        reference = item.high.astype(np.float32) / 255.0
        best, output = best_exposure(lambda ev, item=item: enhance_at(item, ev), reference)
        xs.append(float(input_evs[i]))
        ys.append(best)
        outputs.append(output)
        references.append(reference)
    x, y = np.asarray(xs), np.asarray(ys)
    if np.ptp(x) > 1e-6:
        slope, intercept = np.polyfit(x, y, 1)
        slope = float(np.clip(slope, 0.0, 1.5))
    else:
        slope = 0.0
    intercept = float(np.mean(y - slope * x))
    residual = float(np.sqrt(np.mean((y - slope * x - intercept) ** 2)))
    return ExposureCalibration(slope, intercept, len(chosen), residual, fit_chroma_gain(outputs, references))


def fit_chroma_gain(outputs: Sequence[np.ndarray], references: Sequence[np.ndarray],
                    bounds: tuple[float, float] = CHROMA_GAIN_RANGE) -> float:
    """The :func:`core.exposure.scale_chroma` gain that gives ``outputs`` (the network's, at
    their best exposure, so brightness is matched) the references' mean saturation, by bisection
    within ``bounds`` (saturation grows with the gain).

    Networks trained with per-pixel losses pull uncertain colour towards grey; on SICE val a
    gain of 1.05 took the saturation ratio from 0.92 to 0.97 for 0.01 dB of PSNR."""
    target = float(np.mean([saturation(r) for r in references]))
    tensors = [torch.from_numpy(np.ascontiguousarray(o)).permute(2, 0, 1)[None].float() for o in outputs]

    def mean_saturation(gain: float) -> float:
        return float(np.mean([saturation(scale_chroma(t, gain)[0].permute(1, 2, 0).numpy()) for t in tensors]))

    lo, hi = bounds
    if mean_saturation(lo) >= target:
        return lo
    if mean_saturation(hi) <= target:
        return hi
    for _ in range(20):
        mid = 0.5 * (lo + hi)
        if mean_saturation(mid) < target:
            lo = mid
        else:
            hi = mid
    return round(0.5 * (lo + hi), 4)


def _features(items: Sequence[PairImages], cfg: ExposureFitConfig,
              offsets: Sequence[float] | None = None) -> tuple[np.ndarray, np.ndarray, list[str]]:
    """Features of every item (and of its darker copies), target log keys (moved by ``offsets``
    stops when given) and scene groups."""
    rows, targets, groups = [], [], []
    for n, item in enumerate(items):
        shift = math.log(2.0) * float(offsets[n]) if offsets is not None else 0.0
        low = torch.from_numpy(item.low).permute(2, 0, 1)[None].float() / 255.0
        linear = srgb_to_linear(low)
        for stops in cfg.darken_stops:
            darker = linear_to_srgb(linear * 2.0**stops)
            darker = torch.round(darker * 255.0) / 255.0  # 8-bit, as a saved photo would be
            rows.append(exposure_features(darker, cfg.bins)[0].double().numpy())
            targets.append(math.log(max(item.high_log_average, 1e-6)) + shift)
            groups.append(_scene(item.name))
    return np.stack(rows), np.asarray(targets), groups


def _ridge(x: np.ndarray, y: np.ndarray, lam: float) -> tuple[np.ndarray, float]:
    mean_x, mean_y = x.mean(axis=0), y.mean()
    xc = x - mean_x
    w = np.linalg.solve(xc.T @ xc + lam * len(x) * np.eye(x.shape[1]), xc.T @ (y - mean_y))
    return w, float(mean_y - mean_x @ w)


def _predict(x: np.ndarray, w: np.ndarray, b: float) -> np.ndarray:
    lo, hi = math.log(KEY_RANGE[0]), math.log(KEY_RANGE[1])
    return np.clip(x @ w + b, lo, hi)


def fit_exposure_head(items: Sequence[PairImages], cfg: ExposureFitConfig = ExposureFitConfig(),  # noqa: B008
                      fixed_key: float = 0.11, offsets: Sequence[float] | None = None) -> ExposureFit:
    """Fit the head on ``items`` (training pairs); the ridge strength by grouped cross-validation.
    ``offsets`` (stops per item) move the targets from the log-average match (see the module)."""
    if len(items) < 2:
        raise ValueError("fitting the auto-exposure head needs at least two pairs")
    x, y, groups = _features(items, cfg, offsets)
    scenes = sorted(set(groups))
    order = np.random.default_rng(0).permutation(len(scenes))
    fold_of = {scenes[i]: k % min(cfg.folds, len(scenes)) for k, i in enumerate(order)}
    folds = np.array([fold_of[g] for g in groups])
    per_lambda: dict[float, float] = {}
    for lam in cfg.ridge_grid:
        errors = []
        for k in np.unique(folds):
            train, test = folds != k, folds == k
            w, b = _ridge(x[train], y[train], lam)
            errors.append(_predict(x[test], w, b) - y[test])
        per_lambda[lam] = float(np.sqrt(np.mean(np.concatenate(errors) ** 2)) / math.log(2))
    best = min(per_lambda, key=per_lambda.__getitem__)
    w, b = _ridge(x, y, best)
    fixed = float(np.sqrt(np.mean((math.log(fixed_key) - y) ** 2)) / math.log(2))
    return ExposureFit(w, b, best, per_lambda[best], fixed, per_lambda)


def network_at_true_gain(model: MIRNet, context_window: int | None,
                         device: torch.device | str = "cpu") -> Callable[[PairImages, float], np.ndarray]:
    """``enhance_at(item, ev)`` for :func:`calibrate_to_network`: ``model`` (eval mode, at
    ``context_window``, as the engine runs it) on the whole low frame at its true gain x 2**ev."""
    from .loop import enhance_full

    if model.config.chroma_gain is not None:
        # The calibration fits the chroma gain itself: it must see the network's own colours.
        model = copy.deepcopy(model)
        model.config = replace(model.config, chroma_gain=None)
    model.eval()
    model.set_context_window(context_window)
    device = torch.device(device)

    def enhance_at(item: PairImages, ev: float) -> np.ndarray:
        return enhance_full(model, item.low, device, "fp32", item.true_gain * 2.0**ev)

    return enhance_at


def fit_calibrated_head(items: Sequence[PairImages], enhance_at: Callable[[PairImages, float], np.ndarray] | None,
                        knee: float | None, cfg: ExposureFitConfig = ExposureFitConfig(),  # noqa: B008
                        fixed_key: float = 0.11, *, hue: float = 0.0) -> ExposureFit:
    """:func:`fit_exposure_head` with targets at the network's best exposure, calibrated with
    ``enhance_at`` (see :func:`calibrate_to_network`); with ``enhance_at`` None, or too few
    pairs, the targets stay at the reference's log-average."""
    calibration = None
    offsets = None
    if enhance_at is not None and cfg.calibration_pairs > 0:
        input_evs = [input_best_ev(item, knee, cfg, hue=hue) for item in items]
        calibration = calibrate_to_network(enhance_at, items, input_evs, cfg)
        if calibration is not None:
            offsets = calibration.offset(np.asarray(input_evs)).tolist()
            log.info("auto-exposure calibration on %d pairs: network EV = %.2f x input EV %+.2f (residual %.2f stops); "
                     "chroma gain %s", calibration.pairs, calibration.slope, calibration.intercept,
                     calibration.residual_stops, calibration.chroma_gain)
    fit = fit_exposure_head(items, cfg, fixed_key, offsets)
    fit.calibration = calibration
    return fit


def validation_errors(fit: ExposureFit, items: Sequence[PairImages], cfg: ExposureFitConfig,
                      knee: float | None = None, fixed_key: float = 0.11, *,
                      hue: float = 0.0) -> tuple[float, float]:
    """RMS errors (stops) of a fitted head and of the fixed key on other pairs, e.g. held-out
    validation scenes, against the kind of targets the head was fitted to (calibrated ones when
    the fit was calibrated). The targets' input-best-exposure search runs once."""
    offsets = None
    if fit.calibration is not None:
        offsets = fit.calibration.offset(np.asarray([input_best_ev(item, knee, cfg, hue=hue) for item in items])).tolist()
    x, y, _ = _features(items, cfg, offsets)
    head = float(np.sqrt(np.mean((_predict(x, fit.weight, fit.bias) - y) ** 2)) / math.log(2))
    fixed = float(np.sqrt(np.mean((math.log(fixed_key) - y) ** 2)) / math.log(2))
    return head, fixed


def head_error_stops(fit: ExposureFit, items: Sequence[PairImages], cfg: ExposureFitConfig,
                     knee: float | None = None, *, hue: float = 0.0) -> float:
    """RMS error (stops) of a fitted head on other pairs (see :func:`validation_errors`)."""
    return validation_errors(fit, items, cfg, knee, hue=hue)[0]


def with_exposure_head(model: MIRNet, fit: ExposureFit, bins: int) -> MIRNet:
    """A copy of ``model`` whose architecture includes the fitted head (and the calibration's
    chroma gain, when it fitted one), and the neutral-shadow fade (:data:`DEFAULT_SHADOW_CHROMA`
    unless the model has its own)."""
    chroma = fit.calibration.chroma_gain if fit.calibration is not None else None
    config = replace(model.config, auto_exposure_bins=bins,
                     chroma_gain=chroma if chroma is not None else model.config.chroma_gain,
                     shadow_chroma=model.config.shadow_chroma or DEFAULT_SHADOW_CHROMA)
    out = MIRNet(config)
    state = {k: v for k, v in model.state_dict().items() if not k.startswith("exposure_head.")}
    missing = out.load_state_dict(state, strict=False).missing_keys
    assert all(k.startswith("exposure_head.") for k in missing), missing
    with torch.no_grad():
        out.exposure_head.linear.weight.copy_(torch.from_numpy(fit.weight).float()[None])
        out.exposure_head.linear.bias.fill_(fit.bias)
    return out.eval()


def fit_metadata(fit: ExposureFit, val_stops: float | None) -> dict[str, str]:
    meta = {"auto_exposure": f"ridge {fit.ridge:g} on {len(fit.weight)} features; grouped-CV RMS "
                             f"{fit.cv_rms_stops:.2f} stops (fixed key: {fit.fixed_key_rms_stops:.2f})",
            "exposure_control": "trained"}
    if val_stops is not None:
        meta["auto_exposure"] += f"; validation RMS {val_stops:.2f} stops"
    if fit.calibration is not None:
        c = fit.calibration
        meta["auto_exposure"] += (f"; targets at the network's best exposure ({c.slope:.2f} x input EV "
                                  f"{c.intercept:+.2f}, from {c.pairs} pairs)")
        if c.chroma_gain is not None:
            meta["colour_calibration"] = (f"chroma gain {c.chroma_gain:.3f}: the references' saturation on the "
                                          f"{c.pairs} calibration pairs")
    return meta


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m trainer.exposure_fit",
                                     description="Fit the auto-exposure head on paired data and add it to weights.")
    parser.add_argument("--data", required=True, help="dataset folder (as lowlight train --data)")
    parser.add_argument("--weights", required=True, help="weights to extend")
    parser.add_argument("--out", required=True, help="where to write the weights with the head")
    parser.add_argument("--bins", type=int, default=ExposureFitConfig.bins)
    parser.add_argument("--calibration-pairs", type=int, default=ExposureFitConfig.calibration_pairs,
                        help="pairs on which the network's best exposure is searched (0: targets at the "
                             "reference's log-average; default %(default)s)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        train_pairs, val_pairs, _ = select_pairs(args.data, require_val=False)
        cfg = ExposureFitConfig(bins=args.bins, calibration_pairs=args.calibration_pairs)
        model, info = load_weights(args.weights)
        fixed_key = model.config.exposure_key or 0.11
        knee = model.config.highlight_knee
        runner = network_at_true_gain(model, info.descriptor.context_window)
        hue = model.config.shoulder_hue
        fit = fit_calibrated_head(load_pairs(train_pairs), runner, knee, cfg, fixed_key, hue=hue)
        val_items = load_pairs(val_pairs) if val_pairs else []
        val_stops, fixed_val = (validation_errors(fit, val_items, cfg, knee, fixed_key, hue=hue) if val_items
                                else (None, None))
    except (OSError, ValueError) as exc:
        print(f"error: {exc}", file=sys.stderr)
        return 2
    print(f"ridge {fit.ridge:g}; grouped-CV RMS error {fit.cv_rms_stops:.3f} stops "
          f"(fixed key {fixed_key}: {fit.fixed_key_rms_stops:.3f}); per ridge: "
          + ", ".join(f"{k:g}: {v:.3f}" for k, v in fit.per_lambda.items()))
    if val_stops is not None:
        print(f"validation RMS error {val_stops:.3f} stops (fixed key: {fixed_val:.3f})")
    extended = with_exposure_head(model, fit, cfg.bins)
    extra = {**info.extra, **fit_metadata(fit, val_stops)}
    save_weights(args.out, extended, training_data=info.training_data, epochs=info.epochs,
                 val_psnr=info.val_psnr, val_ssim=info.val_ssim, extra=extra)
    print(f"wrote {args.out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
