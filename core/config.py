"""Typed architecture configuration and the named presets of our MIRNet."""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, fields, replace
from typing import Any, Literal

# The shoulder's knee, in linear light (sRGB ~0.93); core/exposure.py documents the curve.
DEFAULT_KNEE = 0.85
# MIRNetConfig.shadow_chroma that fitted exposure heads come with: four 8-bit levels. Chosen on
# SICE val with the picture run's epoch 9 (PSNR 22.52 -> 22.54, sat ratio 1.06 -> 0.97; 8 levels
# cost 0.21 of saturation ratio, 2 levels left DICM's black frames olive).
DEFAULT_SHADOW_CHROMA = 4 / 255

PresetName = Literal["lite", "standard", "paper"]


@dataclass(frozen=True, kw_only=True)
class MIRNetConfig:
    """Shape of a MIRNet (Zamir et al., ECCV 2020).

    ``channels`` is the width of the full-resolution stream; the stream at 1/2^k
    resolution has ``channels * channel_factor**k`` channels. ``num_rrg`` residual
    recurrent groups each hold ``num_mrb`` multi-scale residual blocks.
    """

    channels: int = 16
    num_rrg: int = 2
    num_mrb: int = 2
    num_streams: int = 3
    channel_factor: float = 1.5
    reduction: int = 8
    in_channels: int = 3
    out_channels: int = 3
    # Target log-average luminance of the exposure-normalised input (see core/exposure.py);
    # None feeds the image as it is, as in the paper.
    exposure_key: float | None = None
    # Linear level where the exposure gain's highlight shoulder starts (core/exposure.expose);
    # None clips at 1 as weights trained before the shoulder expect.
    highlight_knee: float | None = None
    # How much of highlights' hue and saturation the shoulder keeps, 0-1: the share of
    # core/exposure.hue_keeping_shoulder (the brightest channel rolled off, the others scaled with
    # it) mixed with the per-channel shoulder. 0: each channel rolls off alone, washing bright
    # colours towards white, as weights trained before this option expect.
    shoulder_hue: float = 0.0
    # Bins of the log-luminance histogram the auto-exposure head reads (core/auto_exposure.py);
    # None: no head, the gain reaches the fixed ``exposure_key``.
    auto_exposure_bins: int | None = None
    # Chroma gain on the output, in linear light around each pixel's luminance
    # (core/exposure.scale_chroma), fitted after training so outputs match the references'
    # saturation (trainer/exposure_fit.py); None: the network's output as it is.
    chroma_gain: float | None = None
    # Input level (sRGB 0..1, brightest channel averaged over 5x5 pixels) below which the
    # output's colour fades to neutral grey (core/exposure.shadow_fade): where a dark photo
    # holds no signal, any hue the network gives is a guess; None: no fade.
    shadow_chroma: float | None = None

    def __post_init__(self) -> None:
        if self.channels < 4 or self.num_rrg < 1 or self.num_mrb < 1:
            raise ValueError(f"invalid MIRNet size: {self}")
        if not 1 <= self.num_streams <= 4:
            raise ValueError("num_streams must be 1..4")
        if self.channel_factor < 1:
            raise ValueError("channel_factor must be >= 1")
        if self.exposure_key is not None and not 0.0 < self.exposure_key < 1.0:
            raise ValueError("exposure_key must be in (0, 1)")
        if self.highlight_knee is not None and not 0.0 < self.highlight_knee < 1.0:
            raise ValueError("highlight_knee must be in (0, 1)")
        if not 0.0 <= self.shoulder_hue <= 1.0:
            raise ValueError("shoulder_hue must be in [0, 1]")
        if self.auto_exposure_bins is not None and not 4 <= self.auto_exposure_bins <= 256:
            raise ValueError("auto_exposure_bins must be 4..256")
        if self.chroma_gain is not None and not 0.5 <= self.chroma_gain <= 2.0:
            raise ValueError("chroma_gain must be in [0.5, 2]")
        if self.shadow_chroma is not None and not 0.0 < self.shadow_chroma <= 0.1:
            raise ValueError("shadow_chroma must be in (0, 0.1]")

    @property
    def size_multiple(self) -> int:
        """Input sides are padded internally to a multiple of this."""
        return 2 ** (self.num_streams - 1)

    @property
    def shape_only(self) -> MIRNetConfig:
        """The same network body without the exposure extras: what a preset's size means."""
        return replace(self, highlight_knee=None, shoulder_hue=0.0, auto_exposure_bins=None,
                       chroma_gain=None, shadow_chroma=None)

    def stream_channels(self, k: int) -> int:
        return int(round(self.channels * self.channel_factor**k))

    def to_json(self) -> str:
        return json.dumps(asdict(self), sort_keys=True)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> MIRNetConfig:
        known = {f.name for f in fields(cls)}
        unknown = set(data) - known
        if unknown:
            raise ValueError(f"unknown architecture fields: {sorted(unknown)}")
        return cls(**data)

    @classmethod
    def from_json(cls, text: str) -> MIRNetConfig:
        return cls.from_dict(json.loads(text))


# Presets train with the highlight shoulder; the auto-exposure head is fitted after training.
PRESETS: dict[str, MIRNetConfig] = {
    # For tests and smoke runs only: trains in seconds, enhances nothing well.
    "tiny": MIRNetConfig(channels=8, num_rrg=1, num_mrb=1, channel_factor=1.5, exposure_key=0.11,
                        highlight_knee=DEFAULT_KNEE),
    # Small enough to train on a 2-core CPU and to run a 12 MP photo in well under a minute:
    # one MRB per group halves the cost of the 2x2 layout (13.6 vs 25.8 GFLOP per 256x256).
    # 0.11 is the median log-average luminance of well-exposed SICE frames.
    "lite": MIRNetConfig(channels=16, num_rrg=2, num_mrb=1, channel_factor=1.5, exposure_key=0.11,
                        highlight_knee=DEFAULT_KNEE),
    # Middle ground for a GPU.
    "standard": MIRNetConfig(channels=32, num_rrg=3, num_mrb=2, channel_factor=1.5, exposure_key=0.11,
                            highlight_knee=DEFAULT_KNEE),
    # The paper's size: 64 channels, 3 RRG, 2 MRB, channels doubling per scale.
    "paper": MIRNetConfig(channels=64, num_rrg=3, num_mrb=2, channel_factor=2.0),
}


def get_preset(name: str) -> MIRNetConfig:
    """The architecture of a named preset; raises ``ValueError`` listing the valid names."""
    try:
        return PRESETS[name]
    except KeyError:
        raise ValueError(f"unknown preset '{name}'; choose one of {', '.join(PRESETS)}") from None
