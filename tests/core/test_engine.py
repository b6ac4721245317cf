"""The engine with tiny random models: modes, strength, progress, cancel, OOM, seams, devices."""

from __future__ import annotations

import dataclasses
import threading

import numpy as np
import pytest
import torch

import core.engine as engine
from core.config import MIRNetConfig
from core.engine import EngineConfig, Enhancer, ProgressEvent, blend_strength
from core.errors import CancelledError, WeightsError
from core.model import MIRNet

TINY = MIRNetConfig(channels=8, num_rrg=1, num_mrb=1)


pytestmark = pytest.mark.usefixtures("one_torch_thread")


def _tiny_model(config: MIRNetConfig = TINY, seed: int = 0) -> MIRNet:
    torch.manual_seed(seed)
    model = MIRNet(config)
    with torch.no_grad():
        for p in model.parameters():
            p.add_(torch.randn_like(p) * 0.05)
    return model


def _identity_model() -> MIRNet:
    model = MIRNet(TINY)
    with torch.no_grad():
        model.tail.weight.zero_()
        model.tail.bias.zero_()
    return model


def _photo(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A dark image with smooth shading, edges and a little noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    base = 0.15 + 0.1 * np.sin(x / 17.0)[..., None] * np.cos(y / 23.0)[..., None] * np.array([1, 0.8, 0.6], np.float32)
    base = base + 0.2 * ((x // 40 + y // 40) % 2)[..., None]
    return np.clip(base + rng.normal(0, 0.01, (h, w, 3)), 0, 1).astype(np.float32)


def _psnr(a: np.ndarray, b: np.ndarray) -> float:
    mse = float(np.mean((a.astype(np.float64) - b) ** 2))
    return float("inf") if mse == 0 else 10 * np.log10(1.0 / mse)


def _enhancer(model: MIRNet | None = None, **config) -> Enhancer:
    return Enhancer(model=model or _tiny_model(), device="cpu", config=EngineConfig(**config))


@pytest.mark.parametrize("mode", ["full", "fast"])
def test_modes_give_right_shape_dtype_range(mode):
    image = _photo(101, 147)
    out = _enhancer(tile=64, overlap=32, fast_max_pixels=2000).enhance(image, mode=mode)
    assert out.shape == image.shape and out.dtype == np.float32
    assert out.min() >= 0.0 and out.max() <= 1.0 and np.isfinite(out).all()
    assert not np.array_equal(out, image)


def test_input_is_not_modified():
    image = _photo(80, 90)
    before = image.copy()
    _enhancer(tile=64, overlap=32, fast_max_pixels=2000).enhance(image, mode="fast", strength=0.5)
    assert np.array_equal(image, before)


def test_strength_zero_returns_input_and_half_blends():
    image = _photo(70, 60)
    enhancer = _enhancer()
    assert np.array_equal(enhancer.enhance(image, strength=0.0), image)
    full = enhancer.enhance(image, strength=1.0)
    half = enhancer.enhance(image, strength=0.5)
    np.testing.assert_allclose(half, np.clip(image + 0.5 * (full - image), 0, 1), atol=1e-5)


def test_blend_strength():
    original = np.full((4, 5, 3), 0.2, np.float32)
    enhanced = np.full((4, 5, 3), 0.8, np.float32)
    np.testing.assert_allclose(blend_strength(original, enhanced, 0.25), 0.35, atol=1e-6)
    assert np.array_equal(blend_strength(original, enhanced, 0.0), original)
    assert np.array_equal(blend_strength(original, enhanced, 1.0), enhanced)
    over = np.full((4, 5, 3), 1.7, np.float32)
    assert blend_strength(original, over, 1.0).max() == 1.0
    assert blend_strength(original, enhanced, 0.5).dtype == np.float32
    assert enhanced[0, 0, 0] == np.float32(0.8)  # inputs untouched


def test_identity_model_fast_mode_returns_input():
    image = _photo(240, 320)
    out = _enhancer(_identity_model(), fast_max_pixels=120 * 160).enhance(image, mode="fast")
    assert _psnr(out, image) > 35.0
    full = _enhancer(_identity_model()).enhance(image, mode="full")
    np.testing.assert_allclose(full, image, atol=1e-6)


def test_fast_mode_close_to_full_for_smooth_model():
    image = _photo(256, 256)
    enhancer = _enhancer(fast_max_pixels=128 * 128)
    fast = enhancer.enhance(image, mode="fast")
    full = enhancer.enhance(image, mode="full")
    assert _psnr(fast, full) > 25.0


def test_tiled_matches_whole_image():
    """The seam: 64 px tiles against one tile, with a matching context window."""
    image = _photo(200, 264)
    model = _tiny_model()
    whole = _enhancer(model, tile=512, context_window=48).enhance(image)
    tiled = _enhancer(model, tile=128, overlap=32, context_window=48).enhance(image)
    assert _psnr(tiled, whole) > 40.0


def test_progress_monotone_and_complete():
    events: list[ProgressEvent] = []
    _enhancer(tile=64, overlap=32).enhance(_photo(150, 170), progress=events.append)
    assert len(events) > 4
    fractions = [e.fraction for e in events]
    assert fractions == sorted(fractions) and fractions[0] == 0.0 and fractions[-1] == 1.0
    assert events[-1].done == events[-1].total


def test_fast_progress_ends_complete():
    events: list[ProgressEvent] = []
    _enhancer(fast_max_pixels=2000).enhance(_photo(150, 170), mode="fast", progress=events.append)
    assert events[-1].stage == "upsampling" and events[-1].fraction == 1.0


def test_cancel_mid_run():
    cancel = threading.Event()
    events: list[ProgressEvent] = []

    def on_progress(event: ProgressEvent) -> None:
        events.append(event)
        if event.done > 0:
            cancel.set()

    with pytest.raises(CancelledError):
        _enhancer(tile=64, overlap=32).enhance(_photo(200, 200), progress=on_progress, cancel=cancel)
    assert sum(e.done > 0 for e in events) == 1  # stopped within one tile


def test_steps_generator_returns_result():
    steps = _enhancer(tile=64, overlap=32).enhance_steps(_photo(90, 100))
    count = 0
    while True:
        try:
            next(steps)
            count += 1
        except StopIteration as stop:
            result = stop.value
            break
    assert count >= 2 and result.shape == (90, 100, 3)


def test_torch_oom_halves_tile(monkeypatch):
    model = _tiny_model()
    real_forward = model.forward
    sizes = []

    def forward(x, *args, **kwargs):
        if max(x.shape[-2:]) > 64:
            raise torch.OutOfMemoryError("fake: CUDA out of memory")
        sizes.append(tuple(x.shape[-2:]))
        return real_forward(x, *args, **kwargs)

    monkeypatch.setattr(model, "forward", forward)
    image = _photo(150, 150)
    out = _enhancer(model, tile=256, overlap=32).enhance(image)
    assert sizes and all(max(s) <= 64 for s in sizes)
    assert out.shape == image.shape


def test_oom_at_floor_on_cpu_raises(monkeypatch):
    from core.errors import InsufficientMemoryError

    model = _tiny_model()

    def forward(x, *args, **kwargs):
        raise torch.OutOfMemoryError("fake")

    monkeypatch.setattr(model, "forward", forward)
    with pytest.raises(InsufficientMemoryError):
        _enhancer(model, tile=128, overlap=32).enhance(_photo(100, 100))


def test_rejects_bad_images_and_modes():
    enhancer = _enhancer()
    with pytest.raises(ValueError):
        enhancer.enhance(np.zeros((10, 10), np.float32))
    with pytest.raises(ValueError):
        enhancer.enhance(np.zeros((10, 10, 3), np.uint8))
    with pytest.raises(ValueError):
        enhancer.enhance(np.zeros((10, 10, 3), np.float32), mode="turbo")  # type: ignore[arg-type]


def test_missing_bundled_weights(monkeypatch, tmp_path):
    missing = tmp_path / "nothing" / "lite.safetensors"
    monkeypatch.setattr(engine, "default_weights_path", lambda: missing)
    with pytest.raises(WeightsError, match="no bundled weights found"):
        Enhancer(device="cpu")


def test_loads_weights_file(tiny_weights):
    enhancer = Enhancer(tiny_weights, device="cpu")
    assert enhancer.info.path == tiny_weights
    assert enhancer.device_name.startswith("CPU")
    assert enhancer.precision == "fp32"
    out = enhancer.enhance(_photo(40, 48), mode="fast")
    assert out.shape == (40, 48, 3)


def test_default_weights_path_is_in_resources():
    path = engine.default_weights_path()
    assert path.name == "lite.safetensors" and path.parent.name == "weights"


def test_tile_choice_within_bounds():
    enhancer = _enhancer()
    tile = enhancer.choose_tile()
    assert tile % 64 == 0 and 128 <= tile <= EngineConfig().cpu_max_tile


@pytest.mark.skipif(torch.cuda.is_available(), reason="CUDA present")
def test_cuda_requested_without_cuda():
    with pytest.raises(RuntimeError, match="CUDA"):
        Enhancer(model=_tiny_model(), device="cuda")


def test_exposure_gain_measured_once_on_whole_image():
    config = dataclasses.replace(TINY, exposure_key=0.11)
    model = _tiny_model(config)
    image = _photo(180, 200) * 0.3
    whole = _enhancer(model, tile=512, context_window=48).enhance(image)
    tiled = _enhancer(model, tile=128, overlap=32, context_window=48).enhance(image)
    assert _psnr(tiled, whole) > 40.0
    assert whole.mean() > image.mean() * 1.5  # the gain brightens


def test_exposure_gain_by_strips_matches_direct(monkeypatch):
    monkeypatch.setattr(engine, "_DIRECT_GAIN_PIXELS", 1000)
    model = _tiny_model(dataclasses.replace(TINY, exposure_key=0.11))
    enhancer = _enhancer(model)
    image = np.random.default_rng(1).random((333, 517, 3), dtype=np.float32) * 0.2
    by_strips = enhancer._exposure_gain(image)
    direct = model.exposure_gain(torch.from_numpy(image).permute(2, 0, 1).unsqueeze(0))
    torch.testing.assert_close(by_strips, direct, rtol=1e-4, atol=0)


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_matches_cpu():
    model = _tiny_model()
    image = _photo(200, 230)
    cpu = _enhancer(model, tile=128, overlap=32).enhance(image)
    gpu_enhancer = Enhancer(model=_tiny_model(), device="cuda", precision="fp32",
                            config=EngineConfig(tile=128, overlap=32))
    assert gpu_enhancer.device_name and "CPU" not in gpu_enhancer.device_name
    gpu = gpu_enhancer.enhance(image)
    assert _psnr(gpu, cpu) > 45.0


@pytest.mark.gpu
@pytest.mark.skipif(not torch.cuda.is_available(), reason="needs CUDA")
def test_cuda_oom_falls_back_to_cpu(monkeypatch, caplog):
    model = _tiny_model()
    real_forward = model.forward

    def forward(x, *args, **kwargs):
        if x.is_cuda:
            raise torch.cuda.OutOfMemoryError("fake CUDA OOM")
        return real_forward(x, *args, **kwargs)

    monkeypatch.setattr(model, "forward", forward)
    enhancer = Enhancer(model=model, device="cuda", config=EngineConfig(tile=128, overlap=32))
    image = _photo(150, 170)
    with caplog.at_level("WARNING"):
        out = enhancer.enhance(image)
    assert out.shape == image.shape
    assert "continuing on the CPU" in caplog.text
    assert next(model.parameters()).is_cuda  # moved back for the next photo


def test_guided_upsample_reproduces_affine_maps():
    import cv2

    from core.guided_filter import guided_upsample

    full = _photo(240, 300)
    small = cv2.resize(full, (75, 60), interpolation=cv2.INTER_AREA)
    out = guided_upsample(full, small, 2.0 * small + 0.1, radius=2, eps=1e-6)
    assert out.shape == full.shape and out.dtype == np.float32
    assert _psnr(out, 2.0 * full + 0.1) > 40.0


def test_context_window_comes_from_the_weights(tmp_path):
    from core.weights import DEFAULT_CONTEXT_WINDOW, save_weights

    model = _tiny_model()
    recorded = save_weights(tmp_path / "w.safetensors", model, extra={"context_window": "96"})
    unrecorded = save_weights(tmp_path / "plain.safetensors", model)
    assert Enhancer(recorded, device="cpu").context_window == 96
    assert Enhancer(unrecorded, device="cpu").context_window == DEFAULT_CONTEXT_WINDOW
    fixed = Enhancer(recorded, device="cpu", config=EngineConfig(context_window=None))
    assert fixed.context_window is None and fixed.model.context_window is None


def _quantised(image: np.ndarray, levels: float, dtype: type) -> np.ndarray:
    return (image * np.float32(levels) + np.float32(0.5)).astype(dtype)


@pytest.mark.parametrize("mode", ["full", "fast"])
@pytest.mark.parametrize("strength", [1.0, 0.6])
def test_render_of_integer_pixels_is_the_quantised_float_result(mode, strength):
    """uint8 in, uint8 / uint16 out, tile by tile: bit for bit what the float32 path gives."""
    model = _tiny_model(dataclasses.replace(TINY, exposure_key=0.11))
    enhancer = _enhancer(model, tile=128, overlap=32, fast_max_pixels=5000)
    photo = (_photo(300, 410) * 127).astype(np.uint8)
    as_float = photo.astype(np.float32) / np.float32(255)
    reference = enhancer.enhance(as_float, mode=mode, strength=strength, exposure=0.5)
    out8 = enhancer.render(photo, mode=mode, strength=strength, exposure=0.5)
    assert out8.dtype == np.uint8 and out8.shape == photo.shape
    np.testing.assert_array_equal(out8, _quantised(reference, 255, np.uint8))
    out16 = enhancer.render(photo, mode=mode, strength=strength, exposure=0.5, dtype=np.uint16)
    np.testing.assert_array_equal(out16, _quantised(reference, 65535, np.uint16))
    assert np.array_equal(enhancer.render(photo, mode=mode, strength=0.0), photo)


def test_render_of_16_bit_pixels_and_float_output():
    enhancer = _enhancer(tile=64, overlap=32)
    photo = (_photo(90, 100) * 30000).astype(np.uint16)
    reference = enhancer.enhance(photo.astype(np.float32) / np.float32(65535))
    out = enhancer.render(photo, dtype=np.float32)
    assert out.dtype == np.float32
    np.testing.assert_array_equal(out, reference)
    np.testing.assert_array_equal(enhancer.render(photo), _quantised(reference, 65535, np.uint16))


def test_render_rejects_other_pixel_types():
    enhancer = _enhancer()
    with pytest.raises(ValueError, match="uint8"):
        enhancer.render(np.zeros((10, 10, 3), np.int32))
    with pytest.raises(ValueError, match="uint16"):
        enhancer.render(np.zeros((10, 10, 3), np.uint8), dtype=np.int64)


def test_render_progress_cancel_and_input_untouched():
    enhancer = _enhancer(tile=64, overlap=32, fast_max_pixels=2000)
    photo = (_photo(150, 170) * 255).astype(np.uint8)
    before = photo.copy()
    events: list[ProgressEvent] = []
    enhancer.render(photo, mode="fast", strength=0.5, progress=events.append)
    assert events[-1].stage == "upsampling" and events[-1].fraction == 1.0
    assert [e.fraction for e in events if e.stage == "upsampling"] == sorted(
        e.fraction for e in events if e.stage == "upsampling")
    assert np.array_equal(photo, before)
    cancel = threading.Event()

    def on_progress(event: ProgressEvent) -> None:
        if event.done > 0:
            cancel.set()

    with pytest.raises(CancelledError):
        enhancer.render(photo, progress=on_progress, cancel=cancel)


def test_full_mode_holds_no_full_size_float_copy(monkeypatch):
    """Beside the uint8 input and output, float32 work memory stays a band of tile rows."""
    import tracemalloc

    enhancer = _enhancer(_identity_model(), tile=128, overlap=32)
    photo = (_photo(1024, 1024) * 255).astype(np.uint8)
    enhancer.render(photo[:256, :256])  # warm-up: caches, lazy imports
    tracemalloc.start()
    try:
        out = enhancer.render(photo)
        _, peak = tracemalloc.get_traced_memory()
    finally:
        tracemalloc.stop()
    np.testing.assert_array_equal(out, photo)  # the identity network
    full_float = photo.size * 4
    assert peak < 0.75 * full_float, f"peak {peak / 2**20:.1f} MiB for a {full_float / 2**20:.0f} MiB float copy"


def test_blend_pixels_matches_blend_strength_for_every_pixel_type():
    from core.engine import blend_pixels

    rng = np.random.default_rng(3)
    original = rng.random((300, 40, 3), dtype=np.float32)
    enhanced = rng.random((300, 40, 3), dtype=np.float32)
    reference = blend_strength(original, enhanced, 0.3)
    np.testing.assert_array_equal(blend_pixels(original, enhanced, 0.3), reference)
    for dtype, levels in ((np.uint8, 255), (np.uint16, 65535)):
        o = _quantised(original, levels, dtype)
        e = _quantised(enhanced, levels, dtype)
        expected = blend_strength(o / np.float32(levels), e / np.float32(levels), 0.3)
        out = blend_pixels(o, e, 0.3)
        assert out.dtype == dtype
        np.testing.assert_array_equal(out, _quantised(expected, levels, dtype))
        assert np.array_equal(blend_pixels(o, e, 0.0), o) and np.array_equal(blend_pixels(o, e, 1.0), e)


def test_full_mode_runs_tiles_of_the_compiled_shape_through_the_compiled_model(monkeypatch):
    """A cached package is used for tiles of exactly its shape; everything else runs eagerly."""
    from core.compiled import CompiledModel

    model = _tiny_model(dataclasses.replace(TINY, exposure_key=0.11))
    calls: list[tuple[int, ...]] = []

    def fake_load(cls, m, shape, bf16):  # stands in for a built package: the same network
        def run(x, gain):
            calls.append(tuple(x.shape))
            with torch.inference_mode():
                return m(x, exposure_gain=gain)
        return CompiledModel(run, shape, bf16, path=None)

    monkeypatch.setattr(CompiledModel, "load", classmethod(fake_load))
    image = _photo(200, 264)
    eager = _enhancer(model, tile=128, overlap=32, compiled="off").enhance(image)
    assert calls == []
    compiled = _enhancer(model, tile=128, overlap=32).enhance(image)
    assert calls and all(shape[-2:] == (128, 128) for shape in calls)
    np.testing.assert_allclose(compiled, eager, atol=1e-6)
    calls.clear()
    _enhancer(model, tile=128, overlap=32, fast_max_pixels=5000).enhance(image, mode="fast")
    assert calls == []  # fast mode's small copy (one tile of another shape) runs eagerly


def test_compiled_package_key_follows_weights_shape_and_precision():
    from core.compiled import package_key

    model = _tiny_model(dataclasses.replace(TINY, exposure_key=0.11))
    key = package_key(model, (384, 384), False)
    assert key == package_key(model, (384, 384), False)
    assert key != package_key(model, (256, 384), False) != package_key(model, (384, 384), True)
    with torch.no_grad():
        model.tail.bias.add_(1e-3)
    assert package_key(model, (384, 384), False) != key


def _dark_scene(h: int, w: int, seed: int = 0) -> np.ndarray:
    """A night-photo stand-in: dark gradient, lit windows and a lamp (highlights), texture, noise."""
    rng = np.random.default_rng(seed)
    y, x = np.mgrid[0:h, 0:w].astype(np.float32)
    scene = 0.03 + 0.04 * (y / h)[..., None] * np.array([0.7, 0.8, 1.0], np.float32)
    scene = scene + 0.02 * np.sin(x / 5.0 + y / 7.0)[..., None]
    for cy, cx, r, level in ((h * 0.3, w * 0.25, 18, 0.9), (h * 0.6, w * 0.7, 10, 1.0)):
        scene = scene + level * (np.hypot(y - cy, x - cx) < r)[..., None] * np.array([1.0, 0.85, 0.6], np.float32)
    scene[(y.astype(int) // 24 % 3 == 0) & (x.astype(int) // 32 % 4 == 1)] += 0.25
    return np.clip(scene + rng.normal(0, 0.01, scene.shape), 0, 1).astype(np.float32)


def _psnr_photos() -> list[np.ndarray]:
    """The dark scene, plus real photos from $LOWLIGHT_REAL_PHOTOS (a folder; 256 px centre crops)."""
    import os

    from core.io import read_image

    photos = [_dark_scene(256, 320)]
    folder = os.environ.get("LOWLIGHT_REAL_PHOTOS")
    if folder:
        from pathlib import Path

        for path in sorted(Path(folder).iterdir())[:4]:
            pixels = read_image(path).pixels
            h, w = pixels.shape[:2]
            photos.append(np.ascontiguousarray(pixels[h // 2 - 128:h // 2 + 128, w // 2 - 160:w // 2 + 160]))
    return photos


@pytest.mark.skipif(not engine.cpu_bf16_is_native(), reason="this CPU has no native bf16 (oneDNN)")
def test_bf16_stays_within_45_db_of_fp32_with_the_bundled_weights():
    """Reduced precision is only acceptable where it is indistinguishable: >= 45 dB PSNR."""
    weights = engine.default_weights_path()
    if not weights.exists():
        pytest.skip("bundled weights missing")
    fp32 = Enhancer(weights, device="cpu", precision="fp32", config=EngineConfig(tile=192, compiled="off"))
    bf16 = Enhancer(weights, device="cpu", precision="bf16", config=EngineConfig(tile=192, compiled="off"))
    for photo in _psnr_photos():
        for exposure in (0.0, 2.0):
            reference = fp32.enhance(photo, exposure=exposure)
            assert _psnr(bf16.enhance(photo, exposure=exposure), reference) >= 45.0


@pytest.mark.parametrize("mode", ["full", "fast"])
def test_render_in_place_gives_the_same_result(mode):
    """``out=image`` overwrites the photo with its result: rows are read before being written."""
    model = _tiny_model(dataclasses.replace(TINY, exposure_key=0.11))
    enhancer = _enhancer(model, tile=96, overlap=32, fast_max_pixels=5000)
    photo = (_photo(300, 410) * 127).astype(np.uint8)
    expected = enhancer.render(photo, mode=mode, strength=0.7)
    work = photo.copy()
    assert enhancer.render(work, mode=mode, strength=0.7, out=work) is work
    np.testing.assert_array_equal(work, expected)
    with pytest.raises(ValueError, match="out must be"):
        enhancer.render(photo, out=np.empty((3, 3, 3), np.uint8))


def test_several_cpu_tiles_at_once_give_the_same_photo_and_restore_torch_threads(monkeypatch):
    image = _photo(200, 264)
    model = _tiny_model()
    one = _enhancer(model, tile=128, overlap=32, cpu_tile_workers=1).enhance(image)
    torch.set_num_threads(2)
    several = _enhancer(model, tile=128, overlap=32)  # one per torch thread: 2
    assert several.tile_workers(image.shape[:2], 128) == 2
    assert several.tile_workers((100, 100), 128) == 1  # one tile: it keeps both threads
    seen: list[int] = []
    infer = several._infer
    monkeypatch.setattr(several, "_infer", lambda *a, **k: (seen.append(torch.get_num_threads()), infer(*a, **k))[1])
    out = several.enhance(image)
    assert seen and set(seen) == {1}  # each tile on one of the two threads
    assert torch.get_num_threads() == 2
    assert _psnr(out, one) > 80.0

    cancel = threading.Event()
    with pytest.raises(CancelledError):
        several.enhance(image, cancel=cancel, progress=lambda e: e.done > 0 and cancel.set())
    assert torch.get_num_threads() == 2


def test_tile_workers_must_be_positive():
    with pytest.raises(ValueError, match="cpu_tile_workers"):
        EngineConfig(cpu_tile_workers=0)
