"""Fixtures of the core tests (core/, lowlight_resources and the command line): small deterministic images."""

from __future__ import annotations

import numpy as np
import pytest


@pytest.fixture
def rng() -> np.random.Generator:
    return np.random.default_rng(1234)


@pytest.fixture
def small_rgb(rng: np.random.Generator) -> np.ndarray:
    """A 40 x 48 float32 RGB image in [0, 1] (dark-ish, like a low-light shot)."""
    return (rng.random((40, 48, 3)) * 0.4).astype(np.float32)
