"""sRGB <-> linear light, and the exposure normalisation that feeds MIRNet.

Dark photos differ from each other mostly by a global exposure factor. Rather than make the
network learn that factor from scratch, the input is scaled in linear light so that its
log-average luminance (Reinhard et al. 2002, "key" of a scene) reaches a fixed target; the
network then sees the original and the normalised image and predicts the residual from the
normalised one. The statistic is measured on an area-downscaled copy, so sensor noise barely
moves it, and it is measured once per *image*: the engine passes the same gain to every tile.
"""

from __future__ import annotations

import torch
import torch.nn.functional as F

LUMA_WEIGHTS = (0.2126, 0.7152, 0.0722)  # Rec. 709 / sRGB primaries
GAIN_RANGE = (0.5, 100.0)
_STAT_SIDE = 64
_LOG_EPS = 1e-3


def srgb_to_linear(x: torch.Tensor) -> torch.Tensor:
    return torch.where(x <= 0.04045, x / 12.92, ((x.clamp(min=0.04045) + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(x: torch.Tensor) -> torch.Tensor:
    x = x.clamp(0.0, 1.0)
    return torch.where(x <= 0.0031308, 12.92 * x, 1.055 * x.clamp(min=0.0031308) ** (1 / 2.4) - 0.055)


def log_average_luminance(image: torch.Tensor) -> torch.Tensor:
    """Per-image log-average linear luminance of ``(N, 3, H, W)`` sRGB in [0, 1]; shape ``(N,)``."""
    linear = srgb_to_linear(image.float().clamp(0.0, 1.0))
    h, w = linear.shape[-2:]
    if max(h, w) > _STAT_SIDE:
        scale = _STAT_SIDE / max(h, w)
        linear = F.adaptive_avg_pool2d(linear, (max(1, round(h * scale)), max(1, round(w * scale))))
    weights = torch.tensor(LUMA_WEIGHTS, dtype=linear.dtype, device=linear.device).view(1, 3, 1, 1)
    luma = (linear * weights).sum(dim=1)
    return torch.exp(torch.log(luma + _LOG_EPS).mean(dim=(1, 2)))


def gain_for(log_average: torch.Tensor, key: float) -> torch.Tensor:
    """Linear-light gain that brings a log-average luminance to ``key`` (clamped to a sane range)."""
    return (key / log_average.clamp(min=1e-6)).clamp(*GAIN_RANGE)


def apply_gain(image: torch.Tensor, gain: torch.Tensor) -> torch.Tensor:
    """Scale ``(N, 3, H, W)`` sRGB by per-image ``gain`` (shape ``(N,)``) in linear light; clips at 1."""
    g = gain.to(torch.float32).view(-1, 1, 1, 1)
    return linear_to_srgb(srgb_to_linear(image.float()) * g).to(image.dtype)
