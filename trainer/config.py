"""Typed training configuration: frozen, keyword-only dataclasses (one place for every knob)."""

from __future__ import annotations

import hashlib
import json
from collections.abc import Mapping
from dataclasses import asdict, dataclass, field, replace
from typing import Any, Literal

from core.config import MIRNetConfig, get_preset
from core.weights import read_weights_info

DeviceName = Literal["auto", "cpu", "cuda"]
ScheduleName = Literal["plateau", "cosine"]


@dataclass(frozen=True, kw_only=True)
class DataConfig:
    """Where the pairs come from and how training crops are cut."""

    train_dir: str
    val_dir: str | None = None
    val_split: float | None = None
    crop: int = 128
    batch_size: int = 8
    # Crops drawn per epoch; None means one per training pair (as the original script).
    samples_per_epoch: int | None = None
    # Each crop covers crop/s source pixels, s ~ U(scale_range), resized to crop x crop: more scene
    # context per crop at the same cost. Noise is added after resizing, so it stays pixel-scale.
    scale_range: tuple[float, float] = (1.0, 1.0)
    # Validation images larger than this (longest side) are downscaled, to bound validation time.
    val_max_side: int | None = None


@dataclass(frozen=True, kw_only=True)
class AugmentConfig:
    """Exposure and sensor-noise augmentation of the *low* frames, applied in linear light.

    Real dark photos are darker and noisier than bracketed training frames, so low frames are
    darkened by ``2**U(-darken_stops, -darken_min_stops)`` with probability ``darken_prob`` and then get
    signal-dependent Poisson-Gaussian noise (variance ``shot * x + read**2``), quantised to 8 bit.
    The target (normal-light) frame is never changed.
    """

    flips: bool = True
    darken_prob: float = 0.6
    darken_stops: float = 2.5
    darken_min_stops: float = 0.0
    noise_prob: float = 0.8
    shot_noise: tuple[float, float] = (1e-4, 6e-3)  # log-uniform range of the shot-noise gain
    read_noise: tuple[float, float] = (5e-4, 1e-2)  # log-uniform range of the read-noise std
    quantise: bool = True
    # Low-frequency colour (chroma) noise, as high-ISO photos carry: with this probability, a
    # per-channel noise field drawn at 1/``chroma_noise_scale`` resolution and upsampled, with a
    # linear-light std of ``chroma_noise`` (log-uniform range), is added before the sRGB encode.
    chroma_noise_prob: float = 0.0
    chroma_noise: tuple[float, float] = (5e-4, 6e-3)
    chroma_noise_scale: int = 8
    # Row banding (read-out pattern noise): per-row, per-channel offsets of this linear std.
    banding_prob: float = 0.0
    banding_noise: tuple[float, float] = (2e-4, 2e-3)
    # JPEG re-encode of the low frame (quality uniform in ``jpeg_quality``, 4:2:0 chroma).
    jpeg_prob: float = 0.0
    jpeg_quality: tuple[int, int] = (50, 95)
    # Exposure: crops are normalised with the pair's *true* gain (reference / low log-average,
    # known for bracket pairs) instead of the fixed key, so the network only restores and the
    # exposure is the auto-exposure head's choice (core/auto_exposure.py) times the user's EV.
    true_exposure: bool = False
    # With this probability a crop's target exposure moves by U(-ev_jitter, +ev_jitter) stops:
    # input gain and reference are re-exposed together (the reference through the same highlight
    # shoulder), so the network learns every exposure the EV control can ask for.
    ev_jitter_prob: float = 0.0
    ev_jitter: float = 1.5
    # With this probability low frame and reference get the same colour cast: per-channel linear
    # gains 2**N(0, colour_cast_stops), normalised to keep luminance. The network then keeps the
    # colour the photo has instead of learning the training set's colours (SICE's shadows lean
    # green, and the network put that green into other photos' blacks).
    colour_cast_prob: float = 0.0
    colour_cast_stops: float = 0.2


#: Augmentation options added after runs were made: at their defaults they leave the fingerprint alone.
_LATER_AUGMENT_FIELDS = ("chroma_noise_prob", "chroma_noise", "chroma_noise_scale", "banding_prob", "banding_noise",
                         "jpeg_prob", "jpeg_quality", "true_exposure", "ev_jitter_prob", "ev_jitter",
                         "colour_cast_prob", "colour_cast_stops")


#: 8-bit level from which a reference pixel counts as clipped (the picture report's "< 250" is
#: what it calls unclipped).
CLIPPED_TARGET_LEVEL = 250


@dataclass(frozen=True, kw_only=True)
class OptimConfig:
    """Adam and the learning-rate schedule."""

    lr: float = 1e-4
    schedule: ScheduleName = "plateau"
    plateau_patience: int = 5
    plateau_factor: float = 0.5
    min_lr: float = 1e-6
    warmup_epochs: int = 0
    weight_decay: float = 0.0
    grad_clip: float | None = 1.0
    charbonnier_eps: float = 1e-3
    # Weight of an extra (1 - SSIM) loss term; 0 = Charbonnier only, as the paper.
    ssim_weight: float = 0.0
    # Weight of an L1 term on the chroma (R-G, B-G) of 4x-pooled images: colour casts and lost
    # saturation cost more than the per-pixel loss alone charges.
    colour_weight: float = 0.0
    # Pixels whose reference is clipped (a channel at CLIPPED_TARGET_LEVEL or above), and a
    # 3 px ring around them, carry no loss: a blown reference says only "at least this bright".
    # An ablation: left without a target there, the network blew bright skies out (README).
    ignore_clipped_targets: bool = False
    ema_decay: float | None = 0.999


#: The picture recipe (issue 11) by part, so one can be left out for an ablation.
PICTURE_AUGMENT_PARTS: dict[str, dict[str, Any]] = {
    "jpeg": {"jpeg_prob": 0.5},
    "chroma-noise": {"chroma_noise_prob": 0.5},
    "banding": {"banding_prob": 0.2},
    "ev-jitter": {"ev_jitter_prob": 0.5},
    "true-exposure": {"true_exposure": True},
}
#: Parts being tried (``--with PART``), not yet in the recipe.
PICTURE_TRIAL_PARTS: dict[str, dict[str, Any]] = {
    "colour-cast": {"colour_cast_prob": 0.5},
    # Milder JPEG settings than the recipe's (half the crops, quality 50-95): they replace it.
    # jpeg-mild trained the bundled weights' last stage (runs/lite-jpeg-mild; README, third ablation run).
    "jpeg-mild": {"jpeg_prob": 0.25, "jpeg_quality": (70, 95)},
    "jpeg-high": {"jpeg_prob": 0.5, "jpeg_quality": (80, 95)},
    "jpeg-rare": {"jpeg_prob": 0.2, "jpeg_quality": (50, 95)},
    "jpeg-light": {"jpeg_prob": 0.25, "jpeg_quality": (80, 95)},
}
PICTURE_COLOUR_WEIGHT = 0.5


def picture_augment(without: tuple[str, ...] | list[str] = (),
                    with_parts: tuple[str, ...] | list[str] = ()) -> AugmentConfig:
    """The picture recipe's augmentation: what real dark photos carry (JPEG blocks, chroma noise,
    banding) and every exposure the EV control can ask for; ``without`` leaves parts out and
    ``with_parts`` adds trial parts."""
    unknown = set(without) - set(PICTURE_AUGMENT_PARTS)
    if unknown:
        raise ValueError(f"unknown recipe parts {sorted(unknown)}; choose from {', '.join(PICTURE_AUGMENT_PARTS)}")
    unknown = set(with_parts) - set(PICTURE_TRIAL_PARTS)
    if unknown:
        raise ValueError(f"unknown trial parts {sorted(unknown)}; choose from {', '.join(PICTURE_TRIAL_PARTS)}")
    options: dict[str, Any] = {}
    for part, values in PICTURE_AUGMENT_PARTS.items():
        if part not in without:
            options.update(values)
    for part in with_parts:
        options.update(PICTURE_TRIAL_PARTS[part])
    return AugmentConfig(**options)


@dataclass(frozen=True, kw_only=True)
class TrainConfig:
    """A whole training run. ``out_dir`` receives weights, metrics, curves and resume state."""

    out_dir: str
    data: DataConfig
    preset: str = "lite"
    epochs: int = 50
    device: DeviceName = "auto"
    seed: int = 0
    precision: Literal["auto", "fp32", "bf16"] = "auto"
    channels_last: bool = True
    compile: bool = False
    augment: AugmentConfig = field(default_factory=AugmentConfig)
    optim: OptimConfig = field(default_factory=OptimConfig)
    # Context window (px) used at validation and recorded in the weights; None = 1.5 x crop.
    context_window: int | None = None
    # Stop (with a resumable checkpoint) after this many seconds; None = no limit.
    time_limit_s: float | None = None
    # Start from these weights (same architecture as ``preset``) instead of a random init: fine-tuning.
    init_weights: str | None = None
    # Knee of the highlight shoulder the network trains (and later runs) with, in linear light;
    # None: the start weights' when fine-tuning, else the preset's (core.config.DEFAULT_KNEE).
    # A lower knee leaves more output levels for the highlights a large gain compresses.
    highlight_knee: float | None = None
    # How much of highlights' hue that shoulder keeps (core.config.MIRNetConfig.shoulder_hue);
    # None, like the knee: the start weights' when fine-tuning, else the preset's.
    shoulder_hue: float | None = None

    def __post_init__(self) -> None:
        if self.highlight_knee is not None and not 0.0 < self.highlight_knee < 1.0:
            raise ValueError(f"highlight knee must be between 0 and 1 (exclusive), not {self.highlight_knee}")
        if self.shoulder_hue is not None and not 0.0 <= self.shoulder_hue <= 1.0:
            raise ValueError(f"the shoulder's hue share must be from 0 to 1, not {self.shoulder_hue}")

    def model_config(self, start: Mapping[str, Any] | None = None) -> MIRNetConfig:
        """The architecture this run trains: the preset, with the run's highlight shoulder (knee,
        hue share) or, where it fine-tunes and names none, the start weights' (a
        fine-tune keeps the tone curve its weights were trained for; the wizard fine-tunes the
        bundled weights so). ``start`` is the start weights' architecture when already known;
        otherwise it is read from ``init_weights``."""
        preset = get_preset(self.preset)
        chosen = {"highlight_knee": self.highlight_knee, "shoulder_hue": self.shoulder_hue}
        if self.init_weights and None in chosen.values():
            inherited = start if start is not None else asdict(read_weights_info(self.init_weights).config)
            chosen = {name: inherited.get(name) if value is None else value for name, value in chosen.items()}
        return replace(preset, **{name: value for name, value in chosen.items() if value is not None})

    @property
    def effective_context_window(self) -> int:
        return self.context_window if self.context_window is not None else int(round(1.5 * self.data.crop))

    def to_dict(self) -> dict[str, Any]:
        return asdict(self)

    def fingerprint(self) -> str:
        """Hash of everything that changes what training computes (epochs and limits excluded),
        so ``--resume`` can refuse a changed config but allow extending the number of epochs."""
        d = self.to_dict()
        for volatile in ("epochs", "out_dir", "time_limit_s", "device", "compile"):
            d.pop(volatile, None)
        d["data"] = {k: v for k, v in d["data"].items() if k not in ("train_dir", "val_dir")}
        # Options added after runs were already made leave the fingerprint alone while at their
        # defaults, so those runs stay resumable.
        for later in ("init_weights", "highlight_knee", "shoulder_hue"):
            if d.get(later) is None:
                d.pop(later, None)
        if not d["optim"].get("ssim_weight"):
            d["optim"].pop("ssim_weight", None)
        if not d["optim"].get("colour_weight"):
            d["optim"].pop("colour_weight", None)
        if not d["optim"].get("ignore_clipped_targets"):
            d["optim"].pop("ignore_clipped_targets", None)
        defaults = asdict(AugmentConfig())
        for key in _LATER_AUGMENT_FIELDS:
            if key in d["augment"] and d["augment"][key] == defaults[key]:
                d["augment"].pop(key)
        return hashlib.sha256(json.dumps(d, sort_keys=True).encode()).hexdigest()[:16]

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> TrainConfig:
        aug = dict(d.get("augment", {}))
        data = dict(d["data"])
        if "scale_range" in data:
            data["scale_range"] = tuple(data["scale_range"])
        for key in ("shot_noise", "read_noise", "chroma_noise", "banding_noise", "jpeg_quality"):
            if key in aug:
                aug[key] = tuple(aug[key])
        rest = {k: v for k, v in d.items() if k not in ("data", "augment", "optim")}
        return cls(data=DataConfig(**data), augment=AugmentConfig(**aug), optim=OptimConfig(**d.get("optim", {})),
                   **rest)
