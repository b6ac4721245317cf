"""MIRNet shapes, the speed rewrites against the paper's formulas, and weights files."""

from __future__ import annotations

import pickle
from pathlib import Path

import pytest
import torch
import torch.nn.functional as F

from core.config import MIRNetConfig
from core.errors import WeightsError
from core.model import ChannelAttention, MIRNet, SelectiveKernelFusion, Upsample, local_mean
from core.weights import load_weights, save_weights

TINY = MIRNetConfig(channels=8, num_rrg=1, num_mrb=1)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _model(config: MIRNetConfig = TINY, seed: int = 0) -> MIRNet:
    torch.manual_seed(seed)
    model = MIRNet(config).eval()
    # Random init leaves PReLU slopes identical; perturb every parameter so all paths matter.
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return model


# --- the paper's formulas, as the model computed them before the speed rewrites ---------------

def _ref_upsample(self: Upsample, x: torch.Tensor) -> torch.Tensor:
    return self.main_post(self._up(self.main_pre(x))) + self.skip(self._up(x))


def _ref_channel_attention(self: ChannelAttention, x: torch.Tensor) -> torch.Tensor:
    pooled = local_mean(x, self.pool.window)
    return x * torch.sigmoid(self.excite(self.act(self.squeeze(pooled))))


def _ref_skff(self: SelectiveKernelFusion, inputs: list[torch.Tensor]) -> torch.Tensor:
    total = inputs[0]
    for extra in inputs[1:]:
        total = total + extra
    descriptor = self.squeeze(local_mean(total, self.pool.window))
    weights = torch.softmax(torch.stack([select(descriptor) for select in self.select]), dim=0)
    fused = inputs[0] * weights[0]
    for i in range(1, len(inputs)):
        fused = fused + inputs[i] * weights[i]
    return fused


@pytest.mark.parametrize("window", [None, 24, 192])
@pytest.mark.parametrize("config", [TINY, MIRNetConfig(channels=8, num_rrg=2, num_mrb=1, num_streams=2),
                                    MIRNetConfig(channels=6, num_rrg=1, num_mrb=2, num_streams=4, channel_factor=2.0)])
def test_fast_forward_matches_paper_formulas(monkeypatch, config, window):
    model = _model(config)
    model.set_context_window(window)
    x = torch.rand(1, 3, 48, 40)
    with torch.inference_mode():
        fast = model(x)
        fast_cl = model.to(memory_format=torch.channels_last)(x.to(memory_format=torch.channels_last))
        monkeypatch.setattr(Upsample, "forward", _ref_upsample)
        monkeypatch.setattr(ChannelAttention, "forward", _ref_channel_attention)
        monkeypatch.setattr(SelectiveKernelFusion, "forward", _ref_skff)
        ref = model(x)
    assert (fast - ref).abs().max().item() < 1e-5
    assert (fast_cl - ref).abs().max().item() < 1e-5


def test_training_still_backpropagates():
    model = _model().train()
    model.set_context_window(16)
    x = torch.rand(2, 3, 32, 32)
    loss = model(x).square().mean()
    loss.backward()
    assert all(p.grad is not None and torch.isfinite(p.grad).all() for p in model.parameters())


def test_state_dict_keys_unchanged():
    keys = set(MIRNet(TINY).state_dict())
    assert "groups.0.body.1.exchange_fuse.0.squeeze.0.weight" in keys
    assert "groups.0.body.1.exchange_fuse.0.select.2.bias" in keys
    assert "groups.0.body.1.leave.0.0.main_post.weight" in keys


@pytest.mark.parametrize("size", [(1, 1), (7, 13), (65, 33), (333, 517)])
def test_output_shape_for_odd_sizes(size):
    model = _model()
    with torch.inference_mode():
        out = model(torch.rand(1, 3, *size))
    assert out.shape == (1, 3, *size)
    assert torch.isfinite(out).all()


def test_local_mean_matches_box_filter():
    x = torch.rand(1, 2, 20, 17)
    window = 7
    # Reference: average over the clipped window, by brute force.
    r = window // 2
    ref = torch.empty_like(x)
    for i in range(20):
        for j in range(17):
            ref[..., i, j] = x[..., max(0, i - r):i - r + window, max(0, j - r):j - r + window].mean(dim=(-2, -1))
    assert torch.allclose(local_mean(x, window), ref, atol=1e-5)
    assert torch.allclose(local_mean(x, 64), x.mean(dim=(2, 3), keepdim=True))


@pytest.mark.parametrize("config", [
    TINY,
    MIRNetConfig(channels=6, num_rrg=2, num_mrb=1, num_streams=2),
    MIRNetConfig(channels=8, num_rrg=1, num_mrb=2, num_streams=3, channel_factor=2.0, reduction=4),
    MIRNetConfig(channels=4, num_rrg=1, num_mrb=1, num_streams=1),
])
def test_save_load_round_trip(tmp_path, config):
    model = _model(config, seed=3)
    path = save_weights(tmp_path / "m.safetensors", model, epochs=2, val_psnr=21.5)
    loaded, info = load_weights(path, "cpu")
    assert info.config == config and loaded.config == config
    assert info.epochs == 2 and info.val_psnr == pytest.approx(21.5)
    x = torch.rand(1, 3, 21, 34)
    with torch.inference_mode():
        assert torch.equal(model(x), loaded(x))


def _assert_refused(path: Path) -> None:
    with pytest.raises(WeightsError) as caught:
        load_weights(path, "cpu")
    assert path.name in str(caught.value)


def test_refuses_empty_corrupt_and_truncated(tmp_path):
    empty = tmp_path / "empty.safetensors"
    empty.write_bytes(b"")
    _assert_refused(empty)
    corrupt = tmp_path / "corrupt.safetensors"
    corrupt.write_bytes(b"\x00\x01garbage" * 50)
    _assert_refused(corrupt)
    good = save_weights(tmp_path / "good.safetensors", _model())
    truncated = tmp_path / "truncated.safetensors"
    truncated.write_bytes(good.read_bytes()[: good.stat().st_size // 2])
    _assert_refused(truncated)
    _assert_refused(tmp_path / "missing.safetensors")


class _NotAStateDict:
    pass


def test_refuses_pickles_that_are_not_plain_state_dicts(tmp_path):
    evil = tmp_path / "object.pt"
    evil.write_bytes(pickle.dumps(_NotAStateDict()))
    _assert_refused(evil)
    listy = tmp_path / "list.pt"
    torch.save([torch.zeros(2)], listy)
    _assert_refused(listy)
    plain = tmp_path / "plain.pt"
    torch.save(_model().state_dict(), plain)
    model, info = load_weights(plain, "cpu")
    assert info.config == TINY


def test_refuses_wrong_architecture(tmp_path):
    state = _model().state_dict()
    state.pop("tail.bias")
    path = tmp_path / "missing_key.pt"
    torch.save(state, path)
    _assert_refused(path)
    other = {k: v for k, v in _model().state_dict().items()}
    other["head.weight"] = torch.zeros(8, 3, 5, 5)
    path2 = tmp_path / "wrong_shape.pt"
    torch.save(other, path2)
    _assert_refused(path2)
    unrelated = tmp_path / "resnet.pt"
    torch.save({"conv1.weight": torch.zeros(4, 3, 3, 3)}, unrelated)
    _assert_refused(unrelated)


def test_bilinear_upsample_commutes_with_1x1():
    """The identity behind the Upsample rewrite, on its own."""
    x = torch.rand(1, 5, 9, 11)
    w = torch.randn(3, 5, 1, 1)
    up = lambda t: F.interpolate(t, scale_factor=2.0, mode="bilinear", align_corners=False)  # noqa: E731
    assert torch.allclose(F.conv2d(up(x), w), up(F.conv2d(x, w)), atol=1e-5)
