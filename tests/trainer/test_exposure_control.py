"""Exposure control (issue 11): the highlight shoulder, the auto-exposure head, EV through the
engine, the CLI and the batch, and the picture recipe's augmentations."""

from __future__ import annotations

import numpy as np
import pytest
import torch
from PIL import Image

from core.auto_exposure import KEY_RANGE, ExposureHead, exposure_features, feature_count
from core.batch import BatchOptions, run_batch
from core.cli import main
from core.config import MIRNetConfig
from core.exposure import (
    EV_RANGE,
    check_exposure,
    expose,
    highlight_shoulder,
    hue_keeping_shoulder,
    srgb_to_linear,
)
from core.model import MIRNet
from trainer.augment import degrade_low, exposure_jitter, jpeg_recompress
from trainer.config import AugmentConfig


@pytest.mark.parametrize("white", [1.0, 1.3, 4.0, 30.0, 100.0])
def test_shoulder_never_exceeds_one_is_monotone_and_smooth(white):
    # Inputs reach at most ``white`` (it is the gain applied to values <= 1); past it the curve is flat.
    x = torch.linspace(0.0, white, 20001).view(1, 1, 1, -1)
    y = highlight_shoulder(x, torch.tensor([white]), knee=0.85).flatten()
    assert float(y.max()) <= 1.0
    step = float(x.flatten()[1] - x.flatten()[0])
    slope = torch.diff(y) / step
    assert float(slope.min()) >= -1e-4  # monotone
    below = x.flatten()[1:] <= 0.85
    assert torch.allclose(y[1:][below], x.flatten()[1:][below])  # identity under the knee
    # Smooth: the slope has no jump anywhere (it is 1 on both sides of the knee); it changes at most
    # in proportion to the step, i.e. the curvature stays bounded.
    assert float(torch.diff(slope).abs().max()) < 100 * step
    knee_index = int((x.flatten() <= 0.85).sum())
    assert float(slope[knee_index]) == pytest.approx(1.0, abs=200 * step)
    # What was white stays white: the white point lands on 1.
    at_white = highlight_shoulder(torch.tensor([white]).view(1, 1, 1, 1), torch.tensor([white]))
    assert float(at_white) == pytest.approx(1.0, abs=1e-4)


@pytest.mark.parametrize("white", [1.0, 1.3, 4.0, 30.0])
def test_hue_keeping_shoulder_keeps_channel_ratios_never_exceeds_one_and_is_smooth(white):
    # A ramp of one colour (channel ratios 1 : 0.5 : 0.2) from black to the white point.
    colour = torch.tensor([1.0, 0.5, 0.2]).view(1, 3, 1, 1)
    x = torch.linspace(0.0, white, 20001).view(1, 1, 1, -1) * colour
    y = hue_keeping_shoulder(x, torch.tensor([white]), knee=0.7)
    assert float(y.max()) <= 1.0
    # The brightest channel follows the per-channel shoulder exactly; the others keep their ratio to it.
    assert torch.allclose(y[:, :1], highlight_shoulder(x[:, :1], torch.tensor([white]), knee=0.7), atol=1e-6)
    lit = y[0, 0, 0] > 1e-3
    assert torch.allclose((y[0, 1, 0] / y[0, 0, 0])[lit], torch.tensor(0.5), atol=1e-5)
    assert torch.allclose((y[0, 2, 0] / y[0, 0, 0])[lit], torch.tensor(0.2), atol=1e-5)
    step = float(x[0, 0, 0, 1] - x[0, 0, 0, 0])
    for channel in range(3):
        slope = torch.diff(y[0, channel, 0]) / step
        assert float(slope.min()) >= -1e-4  # monotone
        assert float(torch.diff(slope).abs().max()) < 100 * step  # no kink at the knee
    # Below the knee nothing changes; random colours never pass 1 and keep their hue.
    dim = torch.rand(2, 3, 8, 8) * 0.69
    assert torch.equal(hue_keeping_shoulder(dim, torch.tensor([2.0, 3.0]), 0.7), dim)
    bright = torch.rand(2, 3, 16, 16) * torch.tensor([3.0, 8.0]).view(2, 1, 1, 1)
    rolled = hue_keeping_shoulder(bright, torch.tensor([3.0, 8.0]), 0.7)
    assert float(rolled.max()) <= 1.0
    ratio = lambda t: t / t.amax(dim=1, keepdim=True).clamp(min=1e-6)  # noqa: E731
    assert torch.allclose(ratio(rolled), ratio(bright), atol=1e-4)


def test_expose_keeps_highlight_saturation_only_when_asked():
    from core.metrics import saturation

    orange = torch.tensor([0.9, 0.45, 0.1]).view(1, 3, 1, 1).expand(1, 3, 4, 4)
    per_channel = expose(orange, torch.tensor([4.0]), 0.7)
    half = expose(orange, torch.tensor([4.0]), 0.7, hue=0.5)
    kept = expose(orange, torch.tensor([4.0]), 0.7, hue=1.0)
    as_image = lambda t: t[0].permute(1, 2, 0).numpy()  # noqa: E731
    sat = [saturation(as_image(t)) for t in (per_channel, half, kept)]
    assert sat[0] + 0.02 < sat[1] < sat[2] - 0.02  # the share moves saturation steadily
    assert float(kept.max()) <= 1.0 and float(half.max()) <= 1.0
    # Without a knee (clipping) the option has nothing to act on.
    assert torch.equal(expose(orange, torch.tensor([4.0]), None), expose(orange, torch.tensor([4.0]), None, hue=1.0))


def test_the_network_input_goes_through_the_shoulder_its_weights_name():
    torch.manual_seed(0)
    cfg = MIRNetConfig(channels=8, num_rrg=1, num_mrb=1, exposure_key=0.11, highlight_knee=0.7,
                       shoulder_hue=1.0)
    model = MIRNet(cfg).eval()
    torch.nn.init.zeros_(model.tail.weight)  # zero residual: the output is the exposed input
    torch.nn.init.zeros_(model.tail.bias)
    x = torch.rand(1, 3, 16, 16)
    gain = torch.tensor([5.0])
    with torch.no_grad():
        out = model(x, exposure_gain=gain)
    assert torch.allclose(out, expose(x, gain, 0.7, hue=1.0), atol=1e-6)
    assert not torch.allclose(out, expose(x, gain, 0.7), atol=1e-3)


def test_gain_with_shoulder_keeps_highlight_falloff():
    ramp = torch.linspace(0, 1, 256).view(1, 1, 1, -1).expand(1, 3, 1, 256)
    clipped = expose(ramp, torch.tensor([30.0]), None)[0, 0, 0]
    rolled = expose(ramp, torch.tensor([30.0]), 0.85)[0, 0, 0]
    assert int((clipped >= 254 / 255).sum()) > 150  # hard clip: most of the ramp is blown
    assert int((rolled >= 254 / 255).sum()) < 80  # shoulder: a falloff is kept
    assert bool((torch.diff(rolled) >= 0).all())


def test_check_exposure_names_the_range():
    assert check_exposure("1.5") == 1.5
    for bad in ("4", "-3.5", "nan", "bright", None):
        with pytest.raises(ValueError, match="stops|-3"):
            check_exposure(bad)
    assert EV_RANGE == (-3.0, 3.0)


def _tiny(knee: float | None = 0.85, bins: int | None = 16) -> MIRNet:
    torch.manual_seed(0)
    cfg = MIRNetConfig(channels=8, num_rrg=1, num_mrb=1, exposure_key=0.11, highlight_knee=knee,
                       auto_exposure_bins=bins)
    return MIRNet(cfg).eval()


def test_ev_is_monotone_on_a_tiny_model():
    from core.engine import Enhancer

    model = _tiny()
    # A network that only restores (zero residual) so the test checks the exposure path itself.
    torch.nn.init.zeros_(model.tail.weight)
    torch.nn.init.zeros_(model.tail.bias)
    enhancer = Enhancer(model=model, device="cpu")
    rng = np.random.default_rng(0)
    image = (rng.random((40, 56, 3)) ** 3 * 0.3).astype(np.float32)
    outputs = [enhancer.enhance(image, mode="full", exposure=ev) for ev in np.linspace(-3, 3, 13)]
    for darker, brighter in zip(outputs, outputs[1:]):
        assert np.all(brighter >= darker - 1e-5)
    # One stop is about twice the linear mid-tone light.
    lin = [float(srgb_to_linear(torch.from_numpy(o)).median()) for o in
           (enhancer.enhance(image, exposure=0.0), enhancer.enhance(image, exposure=1.0))]
    assert lin[1] / lin[0] == pytest.approx(2.0, rel=0.15)
    with pytest.raises(ValueError):
        enhancer.enhance(image, exposure=3.5)


def test_old_weights_without_the_new_parts_load_and_take_exposure(tmp_path):
    from core.engine import Enhancer
    from core.weights import load_weights, save_weights

    old = _tiny(knee=None, bins=None)
    path = save_weights(tmp_path / "old.safetensors", old)
    model, info = load_weights(path)
    assert model.exposure_head is None and model.config.highlight_knee is None
    enhancer = Enhancer(path, device="cpu")
    assert not enhancer.exposure_is_trained  # the UI says exposure works by input scaling
    image = np.full((24, 24, 3), 0.1, np.float32)
    dark, bright = enhancer.enhance(image, exposure=-1), enhancer.enhance(image, exposure=1)
    assert bright.mean() > dark.mean()


def test_exposure_head_features_and_range():
    head = ExposureHead(16)
    images = torch.rand(3, 3, 50, 70) * torch.tensor([0.05, 0.2, 0.8]).view(3, 1, 1, 1)
    features = exposure_features(images, 16)
    assert features.shape == (3, feature_count(16))
    assert torch.isfinite(features).all()
    key = head(images)
    assert key.shape == (3,) and bool(((key >= KEY_RANGE[0]) & (key <= KEY_RANGE[1])).all())
    # A darker version of the same photo has other features (the head can tell night from day).
    assert not torch.allclose(features[0], exposure_features(images[:1] * 0.5, 16)[0])


def test_exposure_reaches_the_engine_through_the_batch(tmp_path):
    class Recorder:
        def __init__(self) -> None:
            self.exposures: list[float] = []

        def enhance(self, image, mode="full", strength=1.0, progress=None, cancel=None, exposure=0.0):
            self.exposures.append(exposure)
            return image

    paths = []
    for i in range(2):
        paths.append(tmp_path / f"p{i}.png")
        Image.fromarray(np.full((8, 8, 3), 30, np.uint8)).save(paths[-1])
    recorder = Recorder()
    report = run_batch(recorder, paths, tmp_path / "out", BatchOptions(exposure=-1.25))
    assert report.ok and recorder.exposures == [-1.25, -1.25]
    with pytest.raises(ValueError):
        BatchOptions(exposure=5.0)


@pytest.mark.parametrize("value", ["3.5", "-4", "bright", "nan"])
def test_cli_exposure_out_of_range_is_a_usage_error(tmp_path, tiny_weights, value, capsys):
    Image.fromarray(np.full((8, 8, 3), 30, np.uint8)).save(tmp_path / "a.png")
    code = main(["enhance", str(tmp_path / "a.png"), "-o", str(tmp_path / "out"), "--weights", str(tiny_weights),
                 f"--exposure={value}"])
    err = capsys.readouterr().err
    assert code == 2 and "-3" in err and "+3" in err
    assert not (tmp_path / "out").exists()


def test_cli_exposure_changes_the_output(tmp_path, tiny_weights):
    Image.fromarray(np.full((16, 16, 3), 25, np.uint8)).save(tmp_path / "a.png")
    means = []
    for ev in ("-2", "2"):
        out = tmp_path / f"out{ev}"
        assert main(["enhance", str(tmp_path / "a.png"), "-o", str(out), "--weights", str(tiny_weights),
                     "--exposure", ev, "-q"]) == 0
        means.append(np.asarray(Image.open(out / "a_enhanced.png"), np.float32).mean())
    assert means[1] > means[0]


def test_augmentations_keep_shapes_and_ranges():
    gen = torch.Generator().manual_seed(0)
    batch = torch.rand(4, 3, 32, 40)
    cfg = AugmentConfig(chroma_noise_prob=1.0, banding_prob=1.0, jpeg_prob=1.0, jpeg_quality=(50, 60))
    out, gain = degrade_low(batch, cfg, gen)
    assert out.shape == batch.shape and gain.shape == (4,)
    assert float(out.min()) >= 0.0 and float(out.max()) <= 1.0
    assert torch.allclose(out * 255, torch.round(out * 255), atol=1e-3)  # 8-bit levels, as a decoded JPEG
    jpeg = jpeg_recompress(batch, AugmentConfig(jpeg_prob=1.0), gen)
    assert jpeg.shape == batch.shape and not torch.equal(jpeg, batch)
    none = jpeg_recompress(batch, AugmentConfig(jpeg_prob=0.0), gen)
    assert none is batch
    ev = exposure_jitter(1000, AugmentConfig(ev_jitter_prob=0.5, ev_jitter=1.5), gen, torch.device("cpu"))
    assert float(ev.min()) >= 2**-1.5 - 1e-6 and float(ev.max()) <= 2**1.5 + 1e-6
    assert 0.35 < float((ev == 1).float().mean()) < 0.65


def test_chroma_noise_leaves_luminance_alone():
    gen = torch.Generator().manual_seed(1)
    flat = torch.full((2, 3, 64, 64), 0.4)
    cfg = AugmentConfig(darken_prob=0.0, noise_prob=0.0, chroma_noise_prob=1.0, chroma_noise=(0.01, 0.01),
                        quantise=False)
    out, _ = degrade_low(flat, cfg, gen)
    lin = srgb_to_linear(out)
    assert float((lin - lin.mean(dim=1, keepdim=True)).abs().max()) > 1e-3  # colour moved
    assert float((lin.mean(dim=1) - srgb_to_linear(flat).mean(dim=1)).abs().max()) < 1e-5  # grey level did not


def test_best_exposure_search_finds_the_reference_exposure():
    from core.exposure import best_exposure

    rng = np.random.default_rng(0)
    low = (rng.random((16, 16, 3)) * 0.1).astype(np.float32)
    lin = np.where(low <= 0.04045, low / 12.92, ((low + 0.055) / 1.055) ** 2.4)

    def enhance_at(img, ev):  # a perfect "network": the photo exposed 2**(ev + 2) in linear light
        x = np.clip(lin * 2.0 ** (ev + 2.0), 0, 1)
        return np.where(x <= 0.0031308, 12.92 * x, 1.055 * x ** (1 / 2.4) - 0.055).astype(np.float32)

    reference = enhance_at(low, 0.7)
    ev, out = best_exposure(lambda e: enhance_at(low, e), reference)
    assert ev == pytest.approx(0.7, abs=0.05)
    assert np.allclose(out, enhance_at(low, ev))


def test_eval_best_ev_reports_the_extra_row(tmp_path, tiny_weights, capsys):
    for sub in ("low", "high"):
        (tmp_path / "pairs" / sub).mkdir(parents=True)
    rng = np.random.default_rng(1)
    for i in range(2):
        high = (rng.random((24, 24, 3)) * 200).astype(np.uint8)
        Image.fromarray(high).save(tmp_path / "pairs" / "high" / f"{i}.png")
        Image.fromarray((high * 0.2).astype(np.uint8)).save(tmp_path / "pairs" / "low" / f"{i}.png")
    assert main(["eval", "--data", str(tmp_path / "pairs"), "--weights", str(tiny_weights), "--best-ev",
                 "--json", str(tmp_path / "e.json")]) == 0
    out = capsys.readouterr().out
    assert "model best EV" in out and "GT-mean" in out and "best EV per image" in out
    import json

    data = json.loads((tmp_path / "e.json").read_text())
    model, best = data["mean"]["model"], data["mean"]["model best EV"]
    assert best["psnr"] >= model["psnr"] - 1e-9
    assert all(-2 <= img["best_ev"] <= 2 for img in data["images"])


def _exposed_u8(low: np.ndarray, gain: float) -> np.ndarray:
    from core.exposure import expose

    x = torch.from_numpy(low).permute(2, 0, 1)[None].float() / 255.0
    return (expose(x, torch.tensor([gain]), 0.85)[0].permute(1, 2, 0).numpy() * 255.0).round().astype(np.uint8)


def _bracket_items(offsets_ev: list[float]):
    """Pairs whose reference is the low frame exposed ``true_gain * 2**offset``."""
    from trainer.data import PairImages

    rng = np.random.default_rng(1)
    items = []
    for i, offset in enumerate(offsets_ev):
        low = (rng.random((48, 64, 3)) * 40 + 2).astype(np.uint8)
        items.append(PairImages(f"scene{i}_1", low, _exposed_u8(low, 4.0 * 2.0**offset),
                                low_log_average=0.01, high_log_average=0.04))  # true gain 4
    return items


def test_input_best_ev_finds_the_exposure_of_the_reference():
    from trainer.exposure_fit import input_best_ev

    for offset in (-0.8, 0.0, 0.6):
        (item,) = _bracket_items([offset])
        assert input_best_ev(item, 0.85) == pytest.approx(offset, abs=0.08)


def test_calibration_recovers_the_networks_exposure_line_and_moves_the_head_targets():
    from trainer.exposure_fit import (
        ExposureFitConfig,
        calibrate_to_network,
        fit_calibrated_head,
        input_best_ev,
    )

    offsets = [-0.9, -0.5, -0.2, 0.1, 0.4, 0.7, 1.0, 1.3]
    items = _bracket_items(offsets)
    cfg = ExposureFitConfig(bins=16, folds=4, calibration_pairs=8)

    def enhance_at(item, ev):
        # A "network" that already brightens by 0.4 x the input's own best EV + 0.1: its best
        # exposure is then 0.6 x input EV - 0.1 above the true gain.
        e = input_best_ev(item, 0.85, cfg)
        return _exposed_u8(item.low, 4.0 * 2.0 ** (ev + 0.4 * e + 0.1)).astype(np.float32) / 255.0

    input_evs = [input_best_ev(item, 0.85, cfg) for item in items]
    calibration = calibrate_to_network(enhance_at, items, input_evs, cfg)
    assert calibration is not None and calibration.pairs == 8
    assert calibration.slope == pytest.approx(0.6, abs=0.08)
    assert calibration.intercept == pytest.approx(-0.1, abs=0.06)
    fit = fit_calibrated_head(items, enhance_at, 0.85, cfg)
    assert fit.calibration is not None
    # Too few pairs for a line: the targets stay at the log-average match.
    assert calibrate_to_network(enhance_at, items[:3], input_evs[:3], cfg) is None


def test_colour_cast_tints_low_and_reference_alike_and_keeps_grey_luminance():
    from trainer.augment import colour_cast
    from trainer.config import AugmentConfig, picture_augment

    gen = torch.Generator().manual_seed(0)
    grey = torch.full((6, 3, 8, 8), 0.4)
    low, high = colour_cast(grey * 0.3, grey, AugmentConfig(colour_cast_prob=1.0, colour_cast_stops=0.3), gen)
    assert low.shape == grey.shape and float(low.min()) >= 0 and float(high.max()) <= 1
    lin_low, lin_high = srgb_to_linear(low), srgb_to_linear(high)
    # A cast: channels differ, by the same ratios in the low frame and in the reference.
    assert float((lin_high.amax(dim=1) - lin_high.amin(dim=1)).min()) > 1e-3
    ratio_low = lin_low[:, :, 0, 0] / lin_low[:, 1:2, 0, 0]
    ratio_high = lin_high[:, :, 0, 0] / lin_high[:, 1:2, 0, 0]
    assert torch.allclose(ratio_low, ratio_high, rtol=2e-3)
    weights = torch.tensor((0.2126, 0.7152, 0.0722)).view(1, 3, 1, 1)
    assert torch.allclose((lin_high * weights).sum(dim=1), (srgb_to_linear(grey) * weights).sum(dim=1), rtol=1e-4)
    # Off (the default recipe): untouched, and no random numbers drawn.
    state = gen.get_state()
    same_low, same_high = colour_cast(grey * 0.3, grey, picture_augment(), gen)
    assert torch.equal(same_high, grey) and torch.equal(gen.get_state(), state)
    assert picture_augment(with_parts=["colour-cast"]).colour_cast_prob > 0
    milder = picture_augment(with_parts=["jpeg-mild"])  # a trial JPEG setting replaces the recipe's
    assert (milder.jpeg_prob, milder.jpeg_quality) == (0.25, (70, 95))
    assert milder.chroma_noise_prob == picture_augment().chroma_noise_prob
    with pytest.raises(ValueError, match="trial parts"):
        picture_augment(with_parts=["sepia"])


def test_scale_chroma_keeps_greys_and_luminance_and_scales_colour():
    from core.exposure import scale_chroma

    grey = torch.full((1, 3, 4, 4), 0.3)
    assert torch.allclose(scale_chroma(grey, 1.2), grey, atol=1e-6)
    colour = torch.tensor([0.6, 0.3, 0.2]).view(1, 3, 1, 1).expand(1, 3, 4, 4)
    weights = torch.tensor((0.2126, 0.7152, 0.0722)).view(1, 3, 1, 1)
    boosted, muted = scale_chroma(colour, 1.2), scale_chroma(colour, 0.8)
    luma = (srgb_to_linear(colour) * weights).sum(dim=1)
    assert torch.allclose((srgb_to_linear(boosted) * weights).sum(dim=1), luma, rtol=1e-4)
    spread = lambda x: float((x.amax(dim=1) - x.amin(dim=1)).mean())  # noqa: E731
    assert spread(muted) < spread(colour) < spread(boosted)
    assert torch.allclose(scale_chroma(colour, 1.0), colour, atol=1e-6)


def test_chroma_gain_is_fitted_to_the_references_saturation_and_reaches_the_weights(tmp_path):
    from core.config import DEFAULT_SHADOW_CHROMA
    from core.exposure import scale_chroma
    from core.metrics import saturation
    from core.model import MIRNet
    from core.weights import load_weights, save_weights
    from trainer.exposure_fit import ExposureCalibration, ExposureFit, fit_chroma_gain, with_exposure_head

    rng = np.random.default_rng(3)
    refs = [rng.uniform(0.1, 0.9, (16, 16, 3)).astype(np.float32) for _ in range(4)]
    # A "network" that greys colour by 0.93: the fit must undo it (to within the bisection).
    outs = [scale_chroma(torch.from_numpy(r).permute(2, 0, 1)[None], 0.93)[0].permute(1, 2, 0).numpy() for r in refs]
    gain = fit_chroma_gain(outs, refs)
    assert 1.03 < gain < 1.1
    fixed = [scale_chroma(torch.from_numpy(o).permute(2, 0, 1)[None], gain)[0].permute(1, 2, 0).numpy() for o in outs]
    assert np.mean([saturation(f) for f in fixed]) == pytest.approx(np.mean([saturation(r) for r in refs]), rel=0.02)

    model = MIRNet(MIRNetConfig(channels=4, num_rrg=1, num_mrb=1, num_streams=2, exposure_key=0.11,
                                highlight_knee=0.85)).eval()
    fit = ExposureFit(np.zeros(16 + 6), -2.0, 0.1, 0.3, 0.5, calibration=ExposureCalibration(0.7, -0.2, 8, 0.1, gain))
    extended = with_exposure_head(model, fit, 16)
    path = save_weights(tmp_path / "w.safetensors", extended)
    loaded, _ = load_weights(path)
    assert loaded.config.chroma_gain == pytest.approx(gain)
    assert loaded.config.shadow_chroma == pytest.approx(DEFAULT_SHADOW_CHROMA)
    x = torch.rand(1, 3, 16, 16) * 0.2
    with torch.inference_mode():
        plain, boosted = model(x), loaded(x)
    spread = lambda t: float((t.amax(dim=1) - t.amin(dim=1)).mean())  # noqa: E731
    assert spread(boosted.clamp(0, 1)) > spread(plain.clamp(0, 1))
