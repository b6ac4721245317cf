"""Degradation of low-light training inputs: darkening and sensor noise in linear light.

Works on batches of float tensors (B, 3, H, W) in sRGB [0, 1] on any device, with an explicit
``torch.Generator`` so runs are reproducible.
"""

from __future__ import annotations

import math

import cv2
import numpy as np
import torch
import torch.nn.functional as F

from core.exposure import LUMA_WEIGHTS, linear_to_srgb, srgb_to_linear

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
    if max(cfg.darken_prob, cfg.noise_prob, cfg.chroma_noise_prob, cfg.banding_prob, cfg.jpeg_prob) <= 0:
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
    linear = _add_chroma_noise(linear, cfg, gen)
    linear = _add_banding(linear, cfg, gen)
    out = linear_to_srgb(linear)
    if cfg.quantise or cfg.jpeg_prob > 0:
        out = torch.round(out * 255.0) / 255.0
    out = jpeg_recompress(out, cfg, gen)
    return out.to(low.dtype), gain.view(n)


def _chosen(n: int, prob: float, gen: torch.Generator, device: torch.device) -> torch.Tensor:
    return (torch.rand(n, generator=gen, device=device) < prob).view(n, 1, 1, 1)


def _add_chroma_noise(linear: torch.Tensor, cfg: AugmentConfig, gen: torch.Generator) -> torch.Tensor:
    """Blotchy colour noise: independent per-channel fields at low resolution, upsampled."""
    if cfg.chroma_noise_prob <= 0:
        return linear
    n, c, h, w = linear.shape
    device = linear.device
    scale = max(1, cfg.chroma_noise_scale)
    coarse = torch.randn((n, c, max(1, h // scale), max(1, w // scale)), generator=gen, device=device)
    field = F.interpolate(coarse, size=(h, w), mode="bicubic", align_corners=False)
    std = _log_uniform(n, cfg.chroma_noise, gen, device).view(n, 1, 1, 1)
    # Colour only: the fields' mean over channels is removed, so luminance is not touched.
    field = field - field.mean(dim=1, keepdim=True)
    return torch.where(_chosen(n, cfg.chroma_noise_prob, gen, device), linear + std * field, linear)


def _add_banding(linear: torch.Tensor, cfg: AugmentConfig, gen: torch.Generator) -> torch.Tensor:
    """Row (read-out) banding: one random offset per row and channel."""
    if cfg.banding_prob <= 0:
        return linear
    n, c, h, _ = linear.shape
    device = linear.device
    rows = torch.randn((n, c, h, 1), generator=gen, device=device)
    std = _log_uniform(n, cfg.banding_noise, gen, device).view(n, 1, 1, 1)
    return torch.where(_chosen(n, cfg.banding_prob, gen, device), linear + std * rows, linear)


def jpeg_recompress(srgb: torch.Tensor, cfg: AugmentConfig, gen: torch.Generator) -> torch.Tensor:
    """Re-encode chosen samples of an sRGB batch in [0, 1] as JPEG (quality in ``cfg.jpeg_quality``,
    OpenCV's default 4:2:0 chroma) and decode them: the 8x8 blocks and smeared chroma that real dark
    JPEGs carry. Shapes and the [0, 1] range are kept; other samples pass unchanged."""
    if cfg.jpeg_prob <= 0:
        return srgb
    n, device = srgb.shape[0], srgb.device
    chosen = (torch.rand(n, generator=gen, device=device) < cfg.jpeg_prob).tolist()
    lo, hi = cfg.jpeg_quality
    qualities = (lo + torch.rand(n, generator=gen, device=device) * (hi - lo + 1)).floor().clamp(lo, hi).tolist()
    if not any(chosen):
        return srgb
    out = srgb.clone()
    for i in range(n):
        if not chosen[i]:
            continue
        u8 = (srgb[i].clamp(0, 1) * 255.0).round().to(torch.uint8).permute(1, 2, 0).cpu().numpy()
        ok, buf = cv2.imencode(".jpg", np.ascontiguousarray(u8[..., ::-1]), [cv2.IMWRITE_JPEG_QUALITY, int(qualities[i])])
        if not ok:  # pragma: no cover - OpenCV encodes any uint8 RGB image
            continue
        decoded = cv2.imdecode(buf, cv2.IMREAD_COLOR)[..., ::-1]
        out[i] = torch.from_numpy(np.ascontiguousarray(decoded)).to(device).permute(2, 0, 1).to(srgb.dtype) / 255.0
    return out


def exposure_jitter(n: int, cfg: AugmentConfig, gen: torch.Generator, device: torch.device) -> torch.Tensor:
    """Per-sample target exposure change ``2**EV`` (1 where not jittered)."""
    stops = _uniform(n, -cfg.ev_jitter, cfg.ev_jitter, gen, device)
    jitter = torch.rand(n, generator=gen, device=device) < cfg.ev_jitter_prob
    return torch.where(jitter, torch.exp2(stops), torch.ones_like(stops))


def colour_cast(low: torch.Tensor, high: torch.Tensor, cfg: AugmentConfig,
                gen: torch.Generator) -> tuple[torch.Tensor, torch.Tensor]:
    """The same random colour cast on chosen pairs' low and high crops (sRGB batches in [0, 1]):
    per-channel linear gains ``2**N(0, colour_cast_stops)`` scaled so a grey keeps its luminance.
    Reference channels pushed past 1 clip, as a camera's would. Other pairs pass unchanged; with
    ``colour_cast_prob`` 0 nothing is drawn (the random stream of older recipes stays the same)."""
    if cfg.colour_cast_prob <= 0:
        return low, high
    n, device = low.shape[0], low.device
    gains = torch.exp2(torch.randn((n, 3), generator=gen, device=device) * cfg.colour_cast_stops)
    luma = torch.tensor(LUMA_WEIGHTS, device=device)
    gains = gains / (gains * luma).sum(dim=1, keepdim=True)
    chosen = torch.rand(n, generator=gen, device=device) < cfg.colour_cast_prob
    gains = torch.where(chosen[:, None], gains, torch.ones_like(gains)).view(n, 3, 1, 1)

    def cast(x: torch.Tensor) -> torch.Tensor:
        return linear_to_srgb(srgb_to_linear(x.float()) * gains).to(x.dtype)

    return cast(low), cast(high)
