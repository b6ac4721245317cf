"""Fit the auto-exposure head (core/auto_exposure.py) on bracketed pairs, where the right
exposure is known: the reference's log-average luminance ("key").

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
import logging
import math
import sys
from collections.abc import Sequence
from dataclasses import dataclass, field, replace

import numpy as np
import torch

from core.auto_exposure import KEY_RANGE, exposure_features
from core.exposure import linear_to_srgb, srgb_to_linear
from core.model import MIRNet
from core.weights import load_weights, save_weights

from .data import PairImages, load_pairs, select_pairs

log = logging.getLogger(__name__)


@dataclass(frozen=True, kw_only=True)
class ExposureFitConfig:
    """How the head is fitted."""

    bins: int = 32
    # Each low frame is also seen this many stops darker (linear light), with the same target.
    darken_stops: tuple[float, ...] = (0.0, -0.75, -1.5, -2.25, -3.0)
    ridge_grid: tuple[float, ...] = (1e-3, 1e-2, 0.1, 1.0, 10.0)
    folds: int = 5


@dataclass
class ExposureFit:
    """A fitted head and how well it did (errors in stops, i.e. log2 of the key ratio)."""

    weight: np.ndarray  # (features,)
    bias: float
    ridge: float
    cv_rms_stops: float
    fixed_key_rms_stops: float
    per_lambda: dict[float, float] = field(default_factory=dict)


def _scene(name: str) -> str:
    """``<sequence>_<frame>`` names (SICE): frames of one sequence are one scene."""
    return name.rsplit("_", 1)[0] if "_" in name else name


def _features(items: Sequence[PairImages], cfg: ExposureFitConfig) -> tuple[np.ndarray, np.ndarray, list[str]]:
    rows, targets, groups = [], [], []
    for item in items:
        low = torch.from_numpy(item.low).permute(2, 0, 1)[None].float() / 255.0
        linear = srgb_to_linear(low)
        for stops in cfg.darken_stops:
            darker = linear_to_srgb(linear * 2.0**stops)
            darker = torch.round(darker * 255.0) / 255.0  # 8-bit, as a saved photo would be
            rows.append(exposure_features(darker, cfg.bins)[0].double().numpy())
            targets.append(math.log(max(item.high_log_average, 1e-6)))
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
                      fixed_key: float = 0.11) -> ExposureFit:
    """Fit the head on ``items`` (training pairs); the ridge strength by grouped cross-validation."""
    if len(items) < 2:
        raise ValueError("fitting the auto-exposure head needs at least two pairs")
    x, y, groups = _features(items, cfg)
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


def head_error_stops(fit: ExposureFit, items: Sequence[PairImages], cfg: ExposureFitConfig) -> float:
    """RMS error (stops) of a fitted head on other pairs, e.g. held-out validation scenes."""
    x, y, _ = _features(items, cfg)
    return float(np.sqrt(np.mean((_predict(x, fit.weight, fit.bias) - y) ** 2)) / math.log(2))


def with_exposure_head(model: MIRNet, fit: ExposureFit, bins: int) -> MIRNet:
    """A copy of ``model`` whose architecture includes the fitted head."""
    config = replace(model.config, auto_exposure_bins=bins)
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
    return meta


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(prog="python -m trainer.exposure_fit",
                                     description="Fit the auto-exposure head on paired data and add it to weights.")
    parser.add_argument("--data", required=True, help="dataset folder (as lowlight train --data)")
    parser.add_argument("--weights", required=True, help="weights to extend")
    parser.add_argument("--out", required=True, help="where to write the weights with the head")
    parser.add_argument("--bins", type=int, default=ExposureFitConfig.bins)
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    try:
        train_pairs, val_pairs, _ = select_pairs(args.data, require_val=False)
        cfg = ExposureFitConfig(bins=args.bins)
        model, info = load_weights(args.weights)
        fixed_key = model.config.exposure_key or 0.11
        fit = fit_exposure_head(load_pairs(train_pairs), cfg, fixed_key)
        val_stops = head_error_stops(fit, load_pairs(val_pairs), cfg) if val_pairs else None
        fixed_val = None
        if val_pairs:
            _, y, _ = _features(load_pairs(val_pairs), cfg)
            fixed_val = float(np.sqrt(np.mean((math.log(fixed_key) - y) ** 2)) / math.log(2))
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
