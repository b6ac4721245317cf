"""Training losses: Charbonnier (as MIRNet) and optional SSIM and chroma terms, each optionally
weighted per pixel (e.g. to leave clipped references out)."""

from __future__ import annotations

import torch
import torch.nn.functional as F

from core.metrics import SSIM_K1, SSIM_K2, SSIM_SIGMA, SSIM_WINDOW


def _mean(values: torch.Tensor, weight: torch.Tensor | None) -> torch.Tensor:
    """Mean of ``values`` (N, C, H, W), or its ``weight``-weighted mean (``weight`` (N, 1, H, W),
    0 where a pixel does not count); 0 when nothing counts."""
    if weight is None:
        return values.mean()
    weight = weight.expand_as(values)
    return (values * weight).sum() / weight.sum().clamp(min=1.0)


def charbonnier(pred: torch.Tensor, target: torch.Tensor, eps: float,
                weight: torch.Tensor | None = None) -> torch.Tensor:
    """Mean ``sqrt((pred - target)^2 + eps^2)``: a smooth L1 that MIRNet trains with."""
    return _mean(torch.sqrt((pred - target) ** 2 + eps * eps), weight)


def _gaussian_window(channels: int, device: torch.device, dtype: torch.dtype) -> torch.Tensor:
    offsets = torch.arange(SSIM_WINDOW, device=device, dtype=dtype) - (SSIM_WINDOW - 1) / 2.0
    taps = torch.exp(-(offsets**2) / (2.0 * SSIM_SIGMA**2))
    taps = taps / taps.sum()
    return (taps[:, None] * taps[None, :]).expand(channels, 1, SSIM_WINDOW, SSIM_WINDOW).contiguous()


def ssim_torch(pred: torch.Tensor, target: torch.Tensor, data_range: float = 1.0,
               weight: torch.Tensor | None = None) -> torch.Tensor:
    """Mean SSIM of two Bx C x H x W batches, with the same Gaussian window, constants and
    'valid' borders as :func:`core.metrics.ssim`, so the loss optimises what validation reports.
    ``weight`` (B x 1 x H x W) weights each window by its centre pixel."""
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
    if weight is None:
        return s.mean()
    r = (SSIM_WINDOW - 1) // 2
    return _mean(s, weight[..., r:r + s.shape[-2], r:r + s.shape[-1]])


def chroma_loss(pred: torch.Tensor, target: torch.Tensor, pool: int = 4,
                weight: torch.Tensor | None = None) -> torch.Tensor:
    """L1 between the chroma (R-G, B-G) of ``pool``x average-pooled images: colour casts and lost
    saturation, with the per-pixel noise averaged away so it does not reward flat grey. A pooled
    cell counts only where all of its pixels have ``weight`` 1."""
    p, t = F.avg_pool2d(pred, pool), F.avg_pool2d(target, pool)
    cells = None if weight is None else -F.max_pool2d(-weight, pool)
    return _mean(((p[:, 0::2] - p[:, 1:2]) - (t[:, 0::2] - t[:, 1:2])).abs(), cells)


def unclipped_weight(target_u8: torch.Tensor, level: int, ring: int = 3) -> torch.Tensor:
    """``(N, 1, H, W)`` float: 0 where the 8-bit reference ``target_u8`` (N, 3, H, W, values
    0..255) has a channel at ``level`` or above, or lies within ``ring`` px of such a pixel
    (JPEG ringing and the soft edge of a blown area), else 1."""
    clipped = (target_u8.amax(dim=1, keepdim=True) >= level).float()
    if ring > 0:
        clipped = F.max_pool2d(clipped, 2 * ring + 1, stride=1, padding=ring)
    return 1.0 - clipped


def restoration_loss(pred: torch.Tensor, target: torch.Tensor, charbonnier_eps: float,
                     ssim_weight: float, colour_weight: float = 0.0,
                     weight: torch.Tensor | None = None) -> torch.Tensor:
    """Charbonnier loss plus ``ssim_weight * (1 - SSIM)`` and ``colour_weight * chroma L1`` when
    those weights are positive; every term over the pixels ``weight`` (N, 1, H, W) counts, when given."""
    loss = charbonnier(pred, target, charbonnier_eps, weight)
    if ssim_weight > 0:
        loss = loss + ssim_weight * (1.0 - ssim_torch(pred, target, weight=weight))
    if colour_weight > 0:
        loss = loss + colour_weight * chroma_loss(pred, target, weight=weight)
    return loss
