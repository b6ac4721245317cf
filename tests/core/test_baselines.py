"""core.baselines keep the float32 RGB convention and brighten dark images."""

from __future__ import annotations

import numpy as np
import pytest

from core.baselines import autocontrast, gamma


@pytest.mark.parametrize("method", [autocontrast, gamma])
def test_convention_and_brightening(method, small_rgb):
    out = method(small_rgb)
    assert out.dtype == np.float32 and out.shape == small_rgb.shape
    assert 0.0 <= out.min() and out.max() <= 1.0
    assert out.mean() > small_rgb.mean()


def test_gamma_is_a_power_law():
    img = np.full((4, 4, 3), 0.25, np.float32)
    np.testing.assert_allclose(gamma(img, 0.5), 0.5, atol=1e-6)
    np.testing.assert_allclose(gamma(img, 0.4), 0.25**0.4, atol=1e-6)
    with pytest.raises(ValueError):
        gamma(img, 0)


def test_autocontrast_stretches_to_full_range():
    img = np.linspace(0.1, 0.3, 4 * 5 * 3, dtype=np.float32).reshape(4, 5, 3)
    out = autocontrast(img)
    for c in range(3):
        assert out[:, :, c].min() == 0.0 and out[:, :, c].max() >= 254 / 255  # Pillow truncates its LUT


def test_rejects_non_rgb():
    with pytest.raises(ValueError, match="H x W x 3"):
        gamma(np.zeros((4, 4), np.float32))
