"""Content-aware automatic exposure: predict the key (log-average luminance) a well-exposed
version of a photo would have, from a histogram of the dark photo's log luminance.

A fixed target key treats a night street like a sunny field, so night scenes came out as
daylight. The head is a ridge regression (one linear layer) on exposure statistics of a
64 px copy: a log2-luminance histogram, the log-average and a few percentiles. It is fitted
on bracketed pairs where the answer is known (``trainer/exposure_fit.py``) and stored in the
weights as ``exposure_head.*``. The network then only restores; exposure is this head's choice
times the user's EV.
"""

from __future__ import annotations

import math

import torch
from torch import nn

from .exposure import thumbnail_luminance

#: Range of log2 linear luminance the histogram covers (below: folded into the first bin).
LOG2_RANGE = (-12.0, 0.0)
_PERCENTILES = (0.01, 0.1, 0.5, 0.9, 0.99)
#: The predicted key is kept within these (a ~3.5-stop band around typical well-exposed scenes).
KEY_RANGE = (0.02, 0.3)


def feature_count(bins: int) -> int:
    return bins + 1 + len(_PERCENTILES)


def exposure_features(image: torch.Tensor, bins: int) -> torch.Tensor:
    """Features of ``(N, 3, H, W)`` sRGB in [0, 1]: ``(N, feature_count(bins))``.

    The histogram is soft (linear interpolation between bin centres) so a small change of the
    photo moves the features, and so the prediction, smoothly.
    """
    log_luma = torch.log2(thumbnail_luminance(image).flatten(1) + 2.0 ** LOG2_RANGE[0])
    lo, hi = LOG2_RANGE
    pos = ((log_luma - lo) / (hi - lo) * bins - 0.5).clamp(0.0, bins - 1.0)
    left = pos.floor().long()
    frac = pos - left
    hist = torch.zeros(log_luma.shape[0], bins, dtype=log_luma.dtype, device=log_luma.device)
    hist.scatter_add_(1, left, 1.0 - frac)
    hist.scatter_add_(1, (left + 1).clamp(max=bins - 1), frac)
    hist = hist / log_luma.shape[1]
    mean = log_luma.mean(dim=1, keepdim=True)
    q = torch.quantile(log_luma, torch.tensor(_PERCENTILES, dtype=log_luma.dtype, device=log_luma.device), dim=1).T
    # Scaled so every feature is of order 1 (the ridge penalty then treats them alike).
    return torch.cat([hist * math.sqrt(bins), mean / 4.0, q / 4.0], dim=1)


class ExposureHead(nn.Module):
    """``log(key)`` from :func:`exposure_features`: one linear layer, fitted in closed form."""

    def __init__(self, bins: int) -> None:
        super().__init__()
        self.bins = bins
        self.linear = nn.Linear(feature_count(bins), 1)
        nn.init.zeros_(self.linear.weight)
        nn.init.constant_(self.linear.bias, math.log(0.11))

    def forward(self, image: torch.Tensor) -> torch.Tensor:
        """Predicted target key per image, shape ``(N,)``."""
        features = exposure_features(image, self.bins).to(self.linear.weight.dtype)
        return torch.exp(self.linear(features)[:, 0]).clamp(*KEY_RANGE)
