"""Degradation of low-light training inputs: darkening and sensor noise in linear light.

Works on batches of float tensors (B, 3, H, W) in sRGB [0, 1] on any device, with an explicit
``torch.Generator`` so runs are reproducible.
"""

from __future__ import annotations

import math

import torch

from core.exposure import linear_to_srgb, srgb_to_linear

from .config import AugmentConfig


def _uniform(n: int, low: float, high: float, gen: torch.Generator, device: torch.device) -> torch.Tensor:
    return low + (high - low) * torch.rand(n, generator=gen, device=device)


def _log_uniform(n: int, bounds: tuple[float, float], gen: torch.Generator, device: torch.device) -> torch.Tensor:
    lo, hi = math.log(bounds[0]), math.log(bounds[1])
    return torch.exp(_uniform(n, lo, hi, gen, device))


def degrade_low(low: torch.Tensor, cfg: AugmentConfig, gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """Darken (with probability ``darken_prob``) and add Poisson-Gaussian noise (``noise_prob``).

    Noise variance in linear light is ``shot * x + read**2`` per sample, the standard model of a
    raw sensor; the result is re-encoded to sRGB and, if ``quantise``, rounded to 8-bit levels
    as a real JPEG/PNG would be. Returns the degraded batch and the per-sample darkening gain
    (1 where not darkened), which the trainer needs to know the whole image's new exposure.
    """
    if cfg.darken_prob <= 0 and cfg.noise_prob <= 0:
        return low, torch.ones(low.shape[0], device=low.device)
    n, device = low.shape[0], low.device
    linear = srgb_to_linear(low.float())
    darken = torch.rand(n, generator=gen, device=device) < cfg.darken_prob
    stops = _uniform(n, -cfg.darken_stops, -cfg.darken_min_stops, gen, device)
    gain = torch.where(darken, torch.exp2(stops), torch.ones_like(stops)).view(n, 1, 1, 1)
    linear = linear * gain
    noisy = torch.rand(n, generator=gen, device=device) < cfg.noise_prob
    shot = _log_uniform(n, cfg.shot_noise, gen, device).view(n, 1, 1, 1)
    read = _log_uniform(n, cfg.read_noise, gen, device).view(n, 1, 1, 1)
    std = torch.sqrt(shot * linear.clamp(min=0.0) + read**2)
    noise = torch.randn(linear.shape, generator=gen, device=device) * std
    linear = torch.where(noisy.view(n, 1, 1, 1), linear + noise, linear)
    out = linear_to_srgb(linear)
    if cfg.quantise:
        out = torch.round(out * 255.0) / 255.0
    return out.to(low.dtype), gain.view(n)
