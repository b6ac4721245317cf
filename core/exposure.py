"""sRGB <-> linear light, and the exposure normalisation that feeds MIRNet.

Dark photos differ from each other mostly by a global exposure factor. Rather than make the
network learn that factor from scratch, the input is scaled in linear light so that its
log-average luminance (Reinhard et al. 2002, "key" of a scene) reaches a fixed target; the
network then sees the original and the normalised image and predicts the residual from the
normalised one. The statistic is measured on an area-downscaled copy, so sensor noise barely
moves it, and it is measured once per *image*: the engine passes the same gain to every tile.
"""

from __future__ import annotations

from collections.abc import Callable

import numpy as np
import torch
import torch.nn.functional as F

LUMA_WEIGHTS = (0.2126, 0.7152, 0.0722)  # Rec. 709 / sRGB primaries
GAIN_RANGE = (0.5, 100.0)
#: The user's exposure control, in stops relative to the automatic choice.
EV_RANGE = (-3.0, 3.0)
_STAT_SIDE = 64
_LOG_EPS = 1e-3
_SHADOW_BOX = 9


def srgb_to_linear(x: torch.Tensor) -> torch.Tensor:
    return torch.where(x <= 0.04045, x / 12.92, ((x.clamp(min=0.04045) + 0.055) / 1.055) ** 2.4)


def linear_to_srgb(x: torch.Tensor) -> torch.Tensor:
    x = x.clamp(0.0, 1.0)
    return torch.where(x <= 0.0031308, 12.92 * x, 1.055 * x.clamp(min=0.0031308) ** (1 / 2.4) - 0.055)


def thumbnail_luminance(image: torch.Tensor) -> torch.Tensor:
    """Linear luminance ``(N, h, w)`` of ``(N, 3, H, W)`` sRGB in [0, 1], area-downscaled in linear
    light to at most 64 px (exposure statistics: sensor noise and size barely move them)."""
    linear = srgb_to_linear(image.float().clamp(0.0, 1.0))
    h, w = linear.shape[-2:]
    if max(h, w) > _STAT_SIDE:
        scale = _STAT_SIDE / max(h, w)
        linear = F.adaptive_avg_pool2d(linear, (max(1, round(h * scale)), max(1, round(w * scale))))
    weights = torch.tensor(LUMA_WEIGHTS, dtype=linear.dtype, device=linear.device).view(1, 3, 1, 1)
    return (linear * weights).sum(dim=1)


def log_average_luminance(image: torch.Tensor) -> torch.Tensor:
    """Per-image log-average linear luminance of ``(N, 3, H, W)`` sRGB in [0, 1]; shape ``(N,)``."""
    return torch.exp(torch.log(thumbnail_luminance(image) + _LOG_EPS).mean(dim=(1, 2)))


def gain_for(log_average: torch.Tensor, key: float | torch.Tensor) -> torch.Tensor:
    """Linear-light gain that brings a log-average luminance to ``key`` (clamped to a sane range)."""
    return (key / log_average.clamp(min=1e-6)).clamp(*GAIN_RANGE)


def apply_gain(image: torch.Tensor, gain: torch.Tensor) -> torch.Tensor:
    """Scale ``(N, 3, H, W)`` sRGB by per-image ``gain`` (shape ``(N,)``) in linear light; clips at 1."""
    g = gain.to(torch.float32).view(-1, 1, 1, 1)
    return linear_to_srgb(srgb_to_linear(image.float()) * g).to(image.dtype)


def _shoulder_rate(span: torch.Tensor, iterations: int = 60) -> torch.Tensor:
    """The ``a > 0`` with ``log1p(a * span) == a`` (slope 1 at the knee), by bisection; 0 where span <= 1."""
    span = span.to(torch.float64)
    lo = torch.zeros_like(span)
    hi = 2.0 * torch.log(span.clamp(min=1.0)) + 4.0
    for _ in range(iterations):
        mid = 0.5 * (lo + hi)
        above = torch.log1p(mid * span) > mid  # h(a) = log1p(a T) - a is > 0 below the root
        lo = torch.where(above, mid, lo)
        hi = torch.where(above, hi, mid)
    return torch.where(span > 1.0 + 1e-9, 0.5 * (lo + hi), torch.zeros_like(span))


def highlight_shoulder(linear: torch.Tensor, white: torch.Tensor, knee: float = 0.85) -> torch.Tensor:
    """Roll ``linear`` light off smoothly so the level ``white`` (per image, shape ``(N,)``) lands on 1.

    Identity up to ``knee``; above it a logarithmic shoulder ``knee + (1-knee) log1p(a t) / log1p(a T)``
    with ``t = (x-knee)/(1-knee)`` and ``T`` the same for ``white``, and ``a`` chosen so the slope is 1
    at the knee (continuous first derivative). Monotone, never above 1, and the identity when
    ``white <= 1``. With ``white`` = the gain applied to a photo, what was white stays white and
    everything below it keeps a visible falloff instead of clipping: a lamp keeps its core.
    """
    n = linear.shape[0]
    w = torch.as_tensor(white, dtype=torch.float64, device=linear.device).reshape(-1).expand(n)
    span = ((w - knee) / (1.0 - knee)).clamp(min=1.0)
    rate = _shoulder_rate(span)
    x = linear.float()
    t = ((x - knee) / (1.0 - knee)).clamp(min=0.0)
    rate_f = rate.to(torch.float32).view(n, 1, 1, 1)
    span_f = span.to(torch.float32).view(n, 1, 1, 1)
    denominator = torch.log1p(rate_f * span_f)
    compressed = torch.where(rate_f > 0, torch.log1p(rate_f * t.clamp(max=span_f)) / denominator.clamp(min=1e-12),
                             t.clamp(max=1.0))
    rolled = knee + (1.0 - knee) * compressed
    return torch.where(x > knee, rolled, x).clamp(max=1.0)


def hue_keeping_shoulder(linear: torch.Tensor, white: torch.Tensor, knee: float = 0.85) -> torch.Tensor:
    """:func:`highlight_shoulder` on each pixel's brightest channel, the other channels scaled by
    the same factor: the channels' ratios, so hue and saturation, stay as they were.

    The per-channel shoulder compresses a bright colour's strong channel more than its weak ones
    and so washes highlights towards white (SICE references through it at knee 0.7 lose 1 % of
    their mean saturation). Identity where the brightest channel is below ``knee``, never above
    1, and as smooth as the shoulder (its value is ``knee`` and its slope 1 at the knee).
    """
    x = linear.float()
    peak = x.amax(dim=1, keepdim=True)
    rolled = highlight_shoulder(peak, white, knee)
    scale = torch.where(peak > knee, rolled / peak.clamp(min=1e-12), torch.ones_like(peak))
    return (x * scale).clamp(max=1.0)


def expose(image: torch.Tensor, gain: torch.Tensor, knee: float | None,
           white: torch.Tensor | None = None, *, hue: float = 0.0) -> torch.Tensor:
    """Scale sRGB ``image`` by per-image ``gain`` in linear light, then roll highlights off with
    :func:`highlight_shoulder` (white point ``white``, by default the gain: what was white stays
    white) or, with ``knee=None``, clip at 1. ``hue`` (0-1) mixes in that much of
    :func:`hue_keeping_shoulder`: 1 keeps highlights' hue and saturation, 0 rolls each channel off alone."""
    if knee is None:
        return apply_gain(image, gain)
    g = gain.to(torch.float32).reshape(-1)
    w = (g if white is None else white.to(torch.float32).reshape(-1)).clamp(min=1.0)
    linear = srgb_to_linear(image.float().clamp(0.0, 1.0)) * g.view(-1, 1, 1, 1)
    if hue <= 0.0:
        rolled = highlight_shoulder(linear, w, knee)
    elif hue >= 1.0:
        rolled = hue_keeping_shoulder(linear, w, knee)
    else:
        rolled = torch.lerp(highlight_shoulder(linear, w, knee), hue_keeping_shoulder(linear, w, knee), hue)
    return linear_to_srgb(rolled).to(image.dtype)


def scale_chroma(image: torch.Tensor, gain: float | torch.Tensor) -> torch.Tensor:
    """Scale the colour of ``(N, 3, H, W)`` sRGB around each pixel's luminance by ``gain`` (a
    number, or a map broadcastable to ``(N, 1, H, W)``), in linear light (``Y + gain * (rgb - Y)``):
    greys and luminance stay, saturation follows ``gain``. The result is clipped to [0, 1]."""
    linear = srgb_to_linear(image.float())
    weights = torch.tensor(LUMA_WEIGHTS, dtype=linear.dtype, device=linear.device).view(1, 3, 1, 1)
    luma = (linear * weights).sum(dim=1, keepdim=True)
    return linear_to_srgb(luma + gain * (linear - luma)).to(image.dtype)


def shadow_signal(image: torch.Tensor) -> torch.Tensor:
    """How much signal a dark sRGB photo ``(N, 3, H, W)`` holds at each pixel: its brightest
    channel, smoothed by two passes of a 9x9 box (a 17 px tent), ``(N, 1, H, W)``.

    Smoothed so noise does not flicker it, and over more than two 8x8 JPEG blocks: in a heavily
    compressed dark photo neighbouring blocks sit a level or two apart, and a 5x5 window turned
    that into a patchwork of grey and coloured blocks."""
    brightest = image.float().clamp(0.0, 1.0).amax(dim=1, keepdim=True)
    once = F.avg_pool2d(brightest, _SHADOW_BOX, stride=1, padding=_SHADOW_BOX // 2, count_include_pad=False)
    return F.avg_pool2d(once, _SHADOW_BOX, stride=1, padding=_SHADOW_BOX // 2, count_include_pad=False)


def shadow_fade(photo: torch.Tensor, level: float) -> torch.Tensor:
    """The neutral-shadow factor for :func:`scale_chroma`, ``(N, 1, H, W)`` in [0, 1]: a
    smoothstep of the dark ``photo``'s :func:`shadow_signal` from 0 (no signal: the output's
    colour fades to a grey of the same luminance) to 1 (``level`` and above: colour kept).

    A JPEG black (0, 0, 0) carries no hue, yet a network lifting it makes one up (an olive cast
    from training on foliage-heavy scenes was typical); a photographer expects black to stay
    neutral. Pixels with the signal of a few 8-bit levels keep most of their colour.
    """
    t = (shadow_signal(photo) / level).clamp(0.0, 1.0)
    return t * t * (3.0 - 2.0 * t)


def check_exposure(ev: float) -> float:
    """``ev`` as a float if it is a finite number of stops within :data:`EV_RANGE`, else ``ValueError``."""
    try:
        value = float(ev)
    except (TypeError, ValueError):
        raise ValueError(f"exposure must be a number of stops from {EV_RANGE[0]:+g} to {EV_RANGE[1]:+g}, "
                         f"not {ev!r}") from None
    if not EV_RANGE[0] <= value <= EV_RANGE[1]:  # also refuses NaN
        raise ValueError(f"exposure must be from {EV_RANGE[0]:+g} to {EV_RANGE[1]:+g} stops, not {ev!r}")
    return value


#: :func:`best_exposure`: secant steps on the mean linear brightness, and the largest exposure searched.
BEST_EV_STEPS = 2
BEST_EV_LIMIT = 2.0


def linear_mean(image: np.ndarray) -> float:
    """Mean linear light of an sRGB image (HxWx3 float in [0, 1])."""
    return float(srgb_to_linear(torch.from_numpy(np.clip(image, 0.0, 1.0))).mean())


def best_exposure(enhance_at: Callable[[float], np.ndarray], reference: np.ndarray,
                  auto: np.ndarray | None = None, steps: int = BEST_EV_STEPS,
                  limit: float = BEST_EV_LIMIT) -> tuple[float, np.ndarray]:
    """The exposure (stops, relative to the automatic one) whose output ``enhance_at(ev)`` has the
    highest PSNR against ``reference``, among those tried, and that output.

    PSNR against a reference peaks close to the exposure that gives the output the reference's
    mean light, so the search takes secant steps towards that (``1 + steps`` runs per image, the
    automatic one included, instead of a grid's ten) and keeps the best-scoring exposure.
    """
    from .metrics import psnr

    target = linear_mean(reference)
    ev, out = 0.0, auto if auto is not None else enhance_at(0.0)
    tried: dict[float, tuple[float, np.ndarray]] = {ev: (psnr(out, reference), out)}
    for _ in range(steps):
        step = float(np.log2(max(target, 1e-6) / max(linear_mean(out), 1e-6)))
        ev = float(np.clip(round((ev + step) * 20) / 20, -limit, limit))
        if ev in tried:
            break
        out = enhance_at(ev)
        tried[ev] = (psnr(out, reference), out)
    best = max(tried, key=lambda e: tried[e][0])
    return best, tried[best][1]
