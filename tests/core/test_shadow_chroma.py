"""The neutral-shadow fade (core/exposure.shadow_fade, MIRNetConfig.shadow_chroma): black stays
neutral, lit areas keep their colour, the fade is smooth, and weights with and without it load."""

from __future__ import annotations

import dataclasses

import numpy as np
import pytest
import torch

from core.config import MIRNetConfig
from core.engine import EngineConfig, Enhancer
from core.exposure import LUMA_WEIGHTS, scale_chroma, shadow_fade, shadow_signal, srgb_to_linear
from core.model import MIRNet
from core.weights import load_weights, save_weights

pytestmark = pytest.mark.usefixtures("one_torch_thread")

LEVEL = 4 / 255
TINY = MIRNetConfig(channels=8, num_rrg=1, num_mrb=1, exposure_key=0.11, highlight_knee=0.85)


def neutral_shadows(output: torch.Tensor, photo: torch.Tensor, level: float) -> torch.Tensor:
    """The fade as MIRNet applies it (without a chroma gain)."""
    return scale_chroma(output, shadow_fade(photo, level))


def _chroma(image: torch.Tensor) -> torch.Tensor:
    """Per-pixel spread of the channels (0 for a neutral grey)."""
    return image.amax(dim=1) - image.amin(dim=1)


def _luminance(image: torch.Tensor) -> torch.Tensor:
    weights = torch.tensor(LUMA_WEIGHTS).view(1, 3, 1, 1)
    return (srgb_to_linear(image) * weights).sum(dim=1)


def _olive(h: int, w: int) -> torch.Tensor:
    """What a network lifting black was seen to make of it: a dark olive."""
    return torch.tensor([0.16, 0.22, 0.10]).view(1, 3, 1, 1).expand(1, 3, h, w).clone()


def test_black_becomes_neutral_and_keeps_its_luminance():
    photo = torch.zeros(1, 3, 16, 16)
    output = _olive(16, 16)
    faded = neutral_shadows(output, photo, LEVEL)
    assert float(_chroma(faded).max()) < 1e-5
    assert torch.allclose(_luminance(faded), _luminance(output), atol=1e-5)


def test_lit_areas_keep_their_colour():
    photo = torch.full((1, 3, 16, 16), 0.05)
    photo[:, 0] = 0.08
    output = _olive(16, 16)
    assert torch.allclose(neutral_shadows(output, photo, LEVEL), output, atol=1e-6)


def test_fade_is_monotone_and_smooth_in_the_signal():
    """Chroma grows with the photo's signal, without steps: from one signal level to the next
    (1/100 of the level) it moves at most about what a smoothstep's steepest slope (1.5) allows."""
    levels = torch.linspace(0.0, 2 * LEVEL, 201)
    photo = levels.view(1, 1, 1, -1).expand(1, 3, 5, 201).contiguous()
    photo = torch.cat([photo[:, :, :, :1].expand(1, 3, 5, 2), photo, photo[:, :, :, -1:].expand(1, 3, 5, 2)], dim=3)
    output = _olive(5, photo.shape[-1])
    chroma = _chroma(neutral_shadows(output, photo, LEVEL))[0, 2, 2:-2]
    full = float(_chroma(output).max())
    assert float(chroma[0]) < 1e-3 and float(chroma[-1]) == pytest.approx(full, abs=1e-5)
    steps = torch.diff(chroma)
    assert float(steps.min()) > -1e-6
    assert float(steps.max()) < 0.025 * full


def test_signal_is_averaged_so_single_noisy_pixels_do_not_flicker_it():
    photo = torch.zeros(1, 3, 33, 33)
    photo[:, 1, 16, 16] = 25 / 255  # one hot pixel in black
    signal = shadow_signal(photo)
    # Two passes of a 9x9 box: the pixel's weight is 1/81 where it stands, and nothing 9 px away.
    assert float(signal[0, 0, 16, 16]) == pytest.approx(25 / 255 / 81, rel=1e-4)
    assert float(signal[0, 0, 16, 25]) == 0.0 and float(signal[0, 0, 16, 24]) > 0.0


def test_jpeg_blocks_a_level_apart_do_not_make_a_patchwork():
    """Heavily compressed black: 8x8 blocks alternately 1 and 5 levels (around the 4-level fade).
    The fade must change gradually across block edges, not flip grey / colour block by block."""
    blocks = (torch.arange(8).view(-1, 1) + torch.arange(8).view(1, -1)) % 2  # checkerboard of blocks
    levels = (1 + 4 * blocks).float().repeat_interleave(8, 0).repeat_interleave(8, 1) / 255
    photo = levels.expand(1, 3, 64, 64).contiguous()
    fade = shadow_fade(photo, LEVEL)[0, 0, 16:48, 16:48]
    steps = torch.cat([fade.diff(dim=0).abs().flatten(), fade.diff(dim=1).abs().flatten()])
    assert float(steps.max()) < 0.1
    assert float(fade.max() - fade.min()) < 0.3  # one shade over the area, not grey and colour


def test_network_keeps_black_neutral_in_whole_and_tiled_runs():
    torch.manual_seed(0)
    model = MIRNet(dataclasses.replace(TINY, shadow_chroma=LEVEL))
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
        model.tail.bias.copy_(torch.tensor([0.0, 0.2, -0.1]))  # a network that tints everything green
    rng = np.random.default_rng(0)
    image = np.clip(rng.normal(0.12, 0.02, (160, 200, 3)), 0, 1).astype(np.float32)
    image[40:120, 50:150] = 0.0  # a black sky
    for tile in (512, 64):
        out = Enhancer(model=model, device="cpu", config=EngineConfig(tile=tile, overlap=32)).enhance(image)
        inner = out[50:110, 60:140]
        assert float((inner.max(-1) - inner.min(-1)).max()) < 2e-3, tile
        lit = out[:30]
        assert float((lit[..., 1] - lit[..., 0]).mean()) > 0.02  # the fade leaves lit areas alone


def test_weights_keep_the_field_and_old_files_load_without_it(tmp_path):
    with_fade = MIRNet(dataclasses.replace(TINY, shadow_chroma=LEVEL))
    loaded, _ = load_weights(save_weights(tmp_path / "fade.safetensors", with_fade, epochs=1))
    assert loaded.config.shadow_chroma == pytest.approx(LEVEL)
    old, _ = load_weights(save_weights(tmp_path / "old.safetensors", MIRNet(TINY), epochs=1))
    assert old.config.shadow_chroma is None
    assert old(torch.zeros(1, 3, 32, 32)).shape == (1, 3, 32, 32)


@pytest.mark.parametrize("bad", [0.0, -0.01, 0.2])
def test_out_of_range_levels_are_refused(bad):
    with pytest.raises(ValueError, match="shadow_chroma"):
        dataclasses.replace(TINY, shadow_chroma=bad)
