"""Shared fixtures: small deterministic images and a tiny random MIRNet weights file."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny tensors: one thread avoids OpenMP hand-off costs (up to 100x on a busy shared CPU)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture
def small_rgb(rng: np.random.Generator) -> np.ndarray:
    """A 40 x 48 float32 RGB image in [0, 1] (dark-ish, like a low-light shot)."""
    return (rng.random((40, 48, 3)) * 0.4).astype(np.float32)


@pytest.fixture(scope="session")
def tiny_weights(tmp_path_factory: pytest.TempPathFactory) -> Path:
    """A randomly initialised MIRNet with 8 channels, 1 RRG, 1 MRB, saved with save_weights."""
    import torch

    from core.config import MIRNetConfig
    from core.model import MIRNet
    from core.weights import save_weights

    torch.manual_seed(0)
    model = MIRNet(MIRNetConfig(channels=8, num_rrg=1, num_mrb=1))
    return save_weights(tmp_path_factory.mktemp("weights") / "tiny.safetensors", model, epochs=1)
