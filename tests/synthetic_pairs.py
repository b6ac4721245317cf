"""Synthetic training pairs (dark / bright PNGs) written by the tests themselves.

``write_pairs`` fills one ``low/`` + ``high/`` folder; ``make_lol_dataset`` writes a whole LOL-layout
dataset (``our485/``, ``eval15/``). Used by the trainer tests and the wizard's (tests/app).
"""

from __future__ import annotations

from pathlib import Path

import numpy as np
from PIL import Image


def smooth_image(rng: np.random.Generator, h: int, w: int) -> np.ndarray:
    small = rng.random((4, 4, 3))
    img = Image.fromarray((small * 255).astype(np.uint8)).resize((w, h), Image.Resampling.BILINEAR)
    return np.asarray(img, dtype=np.float32) / 255.0


def write_pairs(folder: Path, n: int, size: tuple[int, int], rng: np.random.Generator, start: int = 0) -> None:
    (folder / "low").mkdir(parents=True, exist_ok=True)
    (folder / "high").mkdir(parents=True, exist_ok=True)
    for i in range(start, start + n):
        high = smooth_image(rng, *size)
        low = np.clip(high * 0.2 + rng.normal(0, 0.01, high.shape), 0, 1)
        Image.fromarray((high * 255).astype(np.uint8)).save(folder / "high" / f"{i:03d}.png")
        Image.fromarray((low * 255).astype(np.uint8)).save(folder / "low" / f"{i:03d}.png")


def make_lol_dataset(root: Path, n_train: int = 6, n_val: int = 2, size: tuple[int, int] = (48, 40),
                     seed: int = 0) -> Path:
    """A LOL-layout folder (our485/, eval15/) of smooth synthetic scenes and their dark versions."""
    rng = np.random.default_rng(seed)
    w, h = size
    yy, xx = np.mgrid[0:h, 0:w].astype(np.float32)
    for split, count in (("our485", n_train), ("eval15", n_val)):
        for sub in ("low", "high"):
            (root / split / sub).mkdir(parents=True, exist_ok=True)
        for i in range(count):
            fx, fy, phase = rng.uniform(0.05, 0.3, 3)
            base = 0.5 + 0.4 * np.sin(fx * xx + phase)[..., None] * np.cos(fy * yy)[..., None]
            high = np.clip(base * rng.uniform(0.6, 1.0, 3), 0, 1)
            low = np.clip(high * 0.15 + rng.normal(0, 0.01, high.shape), 0, 1)
            Image.fromarray((high * 255).astype(np.uint8)).save(root / split / "high" / f"{i:03d}.png")
            Image.fromarray((low * 255).astype(np.uint8)).save(root / split / "low" / f"{i:03d}.png")
    return root
