"""Per-pixel weighting of the training losses (leaving clipped references out)."""

from __future__ import annotations

import pytest
import torch

from core.metrics import SSIM_WINDOW
from trainer.config import CLIPPED_TARGET_LEVEL
from trainer.losses import charbonnier, chroma_loss, restoration_loss, ssim_torch, unclipped_weight


def _pair(seed: int = 0, size: int = 48) -> tuple[torch.Tensor, torch.Tensor]:
    g = torch.Generator().manual_seed(seed)
    target = torch.rand(2, 3, size, size, generator=g)
    pred = (target + 0.1 * torch.randn(2, 3, size, size, generator=g)).clamp(0, 1)
    return pred, target


def test_unclipped_weight_masks_clipped_pixels_and_a_ring_around_them() -> None:
    target = torch.full((1, 3, 20, 20), 120, dtype=torch.uint8)
    target[0, 0, 10, 10] = CLIPPED_TARGET_LEVEL  # one channel at the level counts as clipped
    target[0, :, 2, 15] = CLIPPED_TARGET_LEVEL - 1  # just under it does not
    weight = unclipped_weight(target, CLIPPED_TARGET_LEVEL, ring=3)
    assert weight.shape == (1, 1, 20, 20) and weight.dtype == torch.float32
    masked = torch.nonzero(weight[0, 0] == 0)
    assert masked[:, 0].min() == 7 and masked[:, 0].max() == 13  # the pixel and 3 px around it
    assert masked[:, 1].min() == 7 and masked[:, 1].max() == 13
    assert int((weight == 0).sum()) == 7 * 7
    assert weight[0, 0, 2, 15] == 1
    assert torch.equal(unclipped_weight(target, CLIPPED_TARGET_LEVEL, ring=0).eq(0).nonzero()[:, 2:],
                       torch.tensor([[10, 10]]))


@pytest.mark.parametrize("term", ["charbonnier", "ssim", "chroma", "all"])
def test_a_weight_of_ones_gives_the_unweighted_loss(term: str) -> None:
    pred, target = _pair()
    ones = torch.ones(2, 1, 48, 48)
    losses = {
        "charbonnier": lambda w: charbonnier(pred, target, 1e-3, w),
        "ssim": lambda w: ssim_torch(pred, target, weight=w),
        "chroma": lambda w: chroma_loss(pred, target, weight=w),
        "all": lambda w: restoration_loss(pred, target, 1e-3, 0.3, 0.5, w),
    }
    assert float(losses[term](ones)) == pytest.approx(float(losses[term](None)), rel=1e-6)


def test_pixels_left_out_get_no_gradient_and_the_rest_still_learn() -> None:
    pred, target = _pair(1)
    weight = torch.ones(2, 1, 48, 48)
    weight[:, :, 4:40, 4:40] = 0
    pred = pred.requires_grad_()
    restoration_loss(pred, target, 1e-3, ssim_weight=0.3, colour_weight=0.5, weight=weight).backward()
    assert pred.grad is not None and torch.isfinite(pred.grad).all()
    # SSIM windows centred on counted pixels reach SSIM_WINDOW // 2 px into the left-out block.
    reach = SSIM_WINDOW // 2
    inner = pred.grad[:, :, 4 + reach:40 - reach, 4 + reach:40 - reach]
    assert inner.abs().max() == 0
    assert pred.grad[:, :, :4].abs().sum() > 0


def test_a_weight_of_zeros_everywhere_is_a_zero_loss_not_a_nan() -> None:
    pred, target = _pair(2)
    loss = restoration_loss(pred, target, 1e-3, 0.3, 0.5, torch.zeros(2, 1, 48, 48))
    assert float(loss) == pytest.approx(0.3)  # only the constant of 1 - SSIM is left
