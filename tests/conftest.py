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


# --- Qt teardown at interpreter exit ---------------------------------------------------------
# After every test has passed and pytest has printed its summary, the interpreter can crash
# (SIGSEGV) while tearing down PySide6 objects left by the app and wizard tests (seen with
# PySide6 6.11.3 when both suites run in one process). The exit status would then be 139
# whatever the tests said. Until the object whose destruction crashes is found, end the test
# process with pytest's own status once everything is reported.
_exit_status: int | None = None


def pytest_sessionfinish(session: pytest.Session, exitstatus: int) -> None:
    global _exit_status
    _exit_status = int(exitstatus)


@pytest.hookimpl(trylast=True)
def pytest_unconfigure(config: pytest.Config) -> None:
    import os
    import sys

    if _exit_status is not None and "PySide6" in sys.modules:
        sys.stdout.flush()
        sys.stderr.flush()
        os._exit(_exit_status)
