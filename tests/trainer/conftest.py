"""Fixtures of the trainer tests: a tiny LOL-layout dataset."""

from __future__ import annotations

from pathlib import Path

import numpy as np
import pytest
from synthetic_pairs import write_pairs


@pytest.fixture()
def lol_dataset(tmp_path: Path) -> Path:
    """A tiny dataset in the LOL layout: 8 training and 2 evaluation pairs of 48x40."""
    rng = np.random.default_rng(0)
    root = tmp_path / "LOL"
    write_pairs(root / "our485", 8, (40, 48), rng)
    write_pairs(root / "eval15", 2, (40, 48), rng, start=100)
    return root
