"""Fixtures shared by several layers (tests/core, tests/trainer, tests/app): torch on one thread and a
tiny random MIRNet weights file. Each layer's own fixtures live in its folder's conftest.py."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture(scope="module")
def one_torch_thread():
    """Tiny tensors: one thread avoids OpenMP hand-off costs (up to 100x on a busy shared CPU)."""
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(1)
    yield
    torch.set_num_threads(before)


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
