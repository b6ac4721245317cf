"""Training losses: Charbonnier (as MIRNet) and an optional differentiable SSIM term."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from core.metrics import SSIM_K1, SSIM_K2, SSIM_SIGMA, SSIM_WINDOW


def charbonnier(pred: torch.Tensor, target: torch.Tensor, eps: float) -> torch.Tensor:
    """Mean ``sqrt((pred - target)^2 + eps^2)``: a smooth L1 that MIRNet trains with."""
    return torch.sqrt((pred - target) ** 2 + eps * eps).mean()


def _gaussian_window(channels: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    offsets = torch.arange(SSIM_WINDOW, device=device, dtype=dtype) - (SSIM_WINDOW - 1) / 2.0
    taps = torch.exp(-(offsets**2) / (2.0 * SSIM_SIGMA**2))
    taps = taps / taps.sum()
    return (taps[:, None] * taps[None, :]).expand(channels, 1, SSIM_WINDOW, SSIM_WINDOW).contiguous()


def ssim_torch(pred: torch.Tensor, target: torch.Tensor, data_range: float = 1.0) -> torch.Tensor:
    """Mean SSIM of two Bx C x H x W batches, with the same Gaussian window, constants and
    'valid' borders as :func:`core.metrics.ssim`, so the loss optimises what validation reports."""
    c = pred.shape[1]
    window = _gaussian_window(c, pred.device, pred.dtype)

    def blur(x: torch.Tensor) -> torch.Tensor:
        return F.conv2d(x, window, groups=c)

    c1, c2 = (SSIM_K1 * data_range) ** 2, (SSIM_K2 * data_range) ** 2
    mu_x, mu_y = blur(pred), blur(target)
    var_x = blur(pred * pred) - mu_x**2
    var_y = blur(target * target) - mu_y**2
    cov = blur(pred * target) - mu_x * mu_y
    s = ((2 * mu_x * mu_y + c1) * (2 * cov + c2)) / ((mu_x**2 + mu_y**2 + c1) * (var_x + var_y + c2))
    return s.mean()


def chroma_loss(pred: torch.Tensor, target: torch.Tensor, pool: int = 4) -> torch.Tensor:
    """L1 between the chroma (R-G, B-G) of ``pool``x average-pooled images: colour casts and lost
    saturation, with the per-pixel noise averaged away so it does not reward flat grey."""
    p, t = F.avg_pool2d(pred, pool), F.avg_pool2d(target, pool)
    return ((p[:, 0::2] - p[:, 1:2]) - (t[:, 0::2] - t[:, 1:2])).abs().mean()


def restoration_loss(pred: torch.Tensor, target: torch.Tensor, charbonnier_eps: float,
                     ssim_weight: float, colour_weight: float = 0.0) -> torch.Tensor:
    """Charbonnier loss plus ``ssim_weight * (1 - SSIM)`` and ``colour_weight * chroma L1`` when
    those weights are positive."""
    loss = charbonnier(pred, target, charbonnier_eps)
    if ssim_weight > 0:
        loss = loss + ssim_weight * (1.0 - ssim_torch(pred, target))
    if colour_weight > 0:
        loss = loss + colour_weight * chroma_loss(pred, target)
    return loss
