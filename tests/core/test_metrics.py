"""core.metrics against hand-computed values and a slow reference SSIM."""

from __future__ import annotations

import math

import numpy as np
import pytest

from core.metrics import blockiness, psnr, ssim


def _reference_ssim(a: np.ndarray, b: np.ndarray, data_range: float = 1.0) -> float:
    """Direct loops over every fully-inside 11x11 window, straight from Wang et al. 2004."""
    offsets = np.arange(11) - 5.0
    g = np.exp(-(offsets**2) / (2 * 1.5**2))
    window = np.outer(g, g) / np.outer(g, g).sum()
    c1, c2 = (0.01 * data_range) ** 2, (0.03 * data_range) ** 2
    per_channel = []
    for c in range(a.shape[2]):
        x, y = a[:, :, c].astype(np.float64), b[:, :, c].astype(np.float64)
        values = []
        for i in range(x.shape[0] - 10):
            for j in range(x.shape[1] - 10):
                px, py = x[i : i + 11, j : j + 11], y[i : i + 11, j : j + 11]
                mx, my = (window * px).sum(), (window * py).sum()
                vx = (window * (px - mx) ** 2).sum()
                vy = (window * (py - my) ** 2).sum()
                cov = (window * (px - mx) * (py - my)).sum()
                values.append(((2 * mx * my + c1) * (2 * cov + c2)) / ((mx**2 + my**2 + c1) * (vx + vy + c2)))
        per_channel.append(np.mean(values))
    return float(np.mean(per_channel))


def test_psnr_known_mse():
    a = np.zeros((4, 4, 3), np.float32)
    b = np.full((4, 4, 3), 0.1, np.float32)  # MSE = 0.01 -> 20 dB
    assert psnr(a, b) == pytest.approx(20.0, abs=1e-4)
    half = a.copy()
    half[:2] = 0.1  # MSE = 0.005 -> 23.01 dB
    assert psnr(half, a) == pytest.approx(10 * math.log10(1 / 0.005), abs=1e-4)
    assert psnr(a.astype(np.uint8), (b * 255).astype(np.uint8), data_range=255) == pytest.approx(
        10 * math.log10(255**2 / 25**2), abs=1e-6
    )


def test_identical_images():
    img = np.random.default_rng(0).random((16, 16, 3)).astype(np.float32)
    assert psnr(img, img) == math.inf
    assert ssim(img, img) == pytest.approx(1.0, abs=1e-12)


def test_ssim_constant_images_closed_form():
    # Constant images: variances and covariance are 0, so SSIM = (2 m1 m2 + C1) / (m1^2 + m2^2 + C1).
    a = np.full((20, 20, 3), 0.2)
    b = np.full((20, 20, 3), 0.6)
    c1 = 0.01**2
    expected = (2 * 0.2 * 0.6 + c1) / (0.2**2 + 0.6**2 + c1)
    assert ssim(a, b) == pytest.approx(expected, rel=1e-9)


def test_ssim_matches_slow_reference():
    rng = np.random.default_rng(3)
    a = rng.random((18, 21, 3))
    b = np.clip(a * 0.7 + 0.2 * rng.random((18, 21, 3)), 0, 1)
    assert ssim(a, b) == pytest.approx(_reference_ssim(a, b), abs=1e-9)
    assert ssim(a[:, :, 0], b[:, :, 0]) == pytest.approx(_reference_ssim(a[:, :, :1], b[:, :, :1]), abs=1e-9)


def test_ssim_decreases_with_noise():
    rng = np.random.default_rng(5)
    clean = rng.random((32, 32, 3))
    light = np.clip(clean + 0.05 * rng.standard_normal(clean.shape), 0, 1)
    heavy = np.clip(clean + 0.3 * rng.standard_normal(clean.shape), 0, 1)
    assert 1.0 > ssim(clean, light) > ssim(clean, heavy)


def test_rejects_bad_input():
    a = np.zeros((16, 16, 3), np.float32)
    with pytest.raises(ValueError, match="shape mismatch"):
        psnr(a, np.zeros((16, 15, 3), np.float32))
    with pytest.raises(ValueError, match="8-bit"):
        psnr(np.full((16, 16, 3), 200, np.uint8), np.zeros((16, 16, 3), np.uint8))
    with pytest.raises(ValueError, match="outside"):
        ssim(a - 0.5, a)
    with pytest.raises(ValueError, match="NaN"):
        psnr(a * np.nan, a)
    with pytest.raises(ValueError, match="at least 11"):
        ssim(a[:8, :8], a[:8, :8])
    with pytest.raises(TypeError):
        psnr(a.astype(bool), a.astype(bool))


def _blocky(rng: np.random.Generator, side: int = 64) -> np.ndarray:
    """8x8 blocks at random levels plus a little noise: what a lifted, heavily compressed dark JPEG shows."""
    levels = rng.uniform(0.2, 0.4, (side // 8, side // 8))
    return np.kron(levels, np.ones((8, 8))) + rng.normal(0, 0.002, (side, side))


def test_blockiness_tells_a_block_grid_from_noise_and_ignores_brightness() -> None:
    rng = np.random.default_rng(0)
    blocky = _blocky(rng)
    noise = rng.uniform(0.2, 0.4, (64, 64))
    assert blockiness(blocky) > 10
    assert 0.9 < blockiness(noise) < 1.1
    assert blockiness(0.5 * blocky) == pytest.approx(blockiness(blocky), rel=0.01)
    rgb = np.repeat(blocky[:, :, None], 3, axis=2)
    assert blockiness(rgb) == pytest.approx(blockiness(blocky))
    assert blockiness(np.zeros((64, 64))) == pytest.approx(1.0)


def test_blockiness_counts_only_the_masked_area() -> None:
    rng = np.random.default_rng(1)
    image = rng.uniform(0.2, 0.4, (64, 64))
    image[:, :32] = _blocky(rng)[:, :32]
    left = np.zeros((64, 64), dtype=bool)
    left[:, :32] = True
    assert blockiness(image, where=left) > 10
    assert 0.8 < blockiness(image, where=~left) < 1.2
    assert np.isnan(blockiness(image, where=np.zeros((64, 64), dtype=bool)))
