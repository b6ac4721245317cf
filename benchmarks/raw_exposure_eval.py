"""Is enhancing our linear RAW development at least as good as enhancing a camera-style rendering?

Ground truth: well-exposed frames (e.g. SICE ``val/high``). Each is turned into a dark RAW the
way a camera would record a scene ``--stops`` darker: sRGB -> linear light, divided by 2^stops,
white balance taken out, RGGB mosaic, Poisson shot noise (``--photons`` electrons at full
scale) and Gaussian read noise (``--read-noise`` in 12-bit steps), 12-bit quantisation, written
as a DNG (tests/synthetic_raw.py). Then three pipelines are enhanced by the same engine and
compared with the ground truth (PSNR, SSIM, and GT-mean PSNR, which first matches the mean
brightness so a different global exposure choice is not what is measured):

* ``ours``: ``core.io.read_image`` on the DNG, the default development of :mod:`core.raw`
  (LibRaw linear 16-bit, automatic pre-gain on the linear data, highlight shoulder, BT.709
  curve, float32);
* ``exact srgb``: ``RawConfig(auto_bright=None, tone_curve="srgb")``: the exact sRGB encoding
  of the linear data as exposed, so the engine's gain is the only exposure and acts on linear
  sensor data;
* ``srgb8``: that rendering saved as an 8-bit JPEG (quality 92): the gain then stretches
  8-bit steps;
* ``camera``: LibRaw's default camera-style rendering (BT.709 curve, automatic brightening
  that clips 1 %, 8 bits) saved as a JPEG (quality 92).

``--gain-only`` also reports the oracle for the exact renderings: pushed by exactly 2^stops in
linear light, with no network (what exposure alone recovers). Prints a table; ``--json``
saves it.

    .venv/bin/python benchmarks/raw_exposure_eval.py --data /path/to/SICE-brackets/val --scenes 8
"""

from __future__ import annotations

import argparse
import io
import json
import sys
import tempfile
import time
from pathlib import Path

import numpy as np
import torch
from PIL import Image

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))
sys.path.insert(0, str(ROOT / "tests"))

from synthetic_raw import bayer_from_linear, write_dng  # noqa: E402

from core.engine import Enhancer  # noqa: E402
from core.exposure import apply_gain, srgb_to_linear  # noqa: E402
from core.io import read_image  # noqa: E402
from core.metrics import gt_mean_psnr, psnr, ssim  # noqa: E402
from core.raw import RawConfig, decode_raw  # noqa: E402


def _jpeg_round_trip(pixels: np.ndarray, quality: int = 92) -> np.ndarray:
    buffer = io.BytesIO()
    Image.fromarray((np.clip(pixels, 0, 1) * 255 + 0.5).astype(np.uint8)).save(buffer, "JPEG", quality=quality)
    return np.asarray(Image.open(io.BytesIO(buffer.getvalue())).convert("RGB"), dtype=np.float32) / 255.0


def _camera_style(dng: Path) -> np.ndarray:
    import rawpy

    with rawpy.imread(str(dng)) as raw:
        rgb = raw.postprocess(use_camera_wb=True, output_bps=8)  # LibRaw defaults: BT.709, auto-bright
    return _jpeg_round_trip(rgb.astype(np.float32) / 255.0)


def _gain(pixels: np.ndarray, gain: float) -> np.ndarray:
    x = torch.from_numpy(np.ascontiguousarray(pixels)).permute(2, 0, 1)[None]
    return apply_gain(x, torch.tensor([gain]))[0].permute(1, 2, 0).numpy()


def _scenes(data: Path, count: int, crop: int) -> list[tuple[str, np.ndarray]]:
    """The first frame of each of ``count`` distinct scenes (name prefix), centre-cropped."""
    seen: set[str] = set()
    out = []
    for path in sorted((data / "high").iterdir()):
        scene = path.name.split("_")[0]
        if scene in seen:
            continue
        seen.add(scene)
        array = np.asarray(Image.open(path).convert("RGB"), dtype=np.float32) / 255.0
        h, w = array.shape[:2]
        side = min(crop, h, w) // 2 * 2
        y, x = (h - side) // 2 // 2 * 2, (w - side) // 2 // 2 * 2
        out.append((path.name, np.ascontiguousarray(array[y:y + side, x:x + side])))
        if len(out) == count:
            break
    return out


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--data", type=Path, required=True, help="folder with high/ (well-exposed frames)")
    parser.add_argument("--scenes", type=int, default=8)
    parser.add_argument("--crop", type=int, default=256, help="centre crop side (CPU time)")
    parser.add_argument("--stops", type=float, nargs="+", default=[3.0, 5.0])
    parser.add_argument("--photons", type=float, default=20000.0, help="electrons at full scale (shot noise)")
    parser.add_argument("--read-noise", type=float, default=1.5, help="read noise in 12-bit steps")
    parser.add_argument("--weights", type=Path, default=None)
    parser.add_argument("--mode", choices=["full", "fast"], default="full")
    parser.add_argument("--gain-only", action="store_true", help="also the oracle 2^stops gain, no network")
    parser.add_argument("--json", type=Path, default=None)
    args = parser.parse_args()

    enhancer = Enhancer(args.weights, device="cpu")
    rng = np.random.default_rng(0)
    rows: dict[str, list[dict[str, float]]] = {}
    started = time.perf_counter()
    with tempfile.TemporaryDirectory() as folder:
        for name, truth in _scenes(args.data, args.scenes, args.crop):
            linear = srgb_to_linear(torch.from_numpy(truth)).numpy().astype(np.float64)
            for stops in args.stops:
                dng = write_dng(Path(folder) / "dark.dng",
                                bayer_from_linear(linear / 2.0**stops, rng=rng, photons=args.photons,
                                                  read_noise=args.read_noise))
                exact = decode_raw(dng, dng.read_bytes(), config=RawConfig(auto_bright=None, tone_curve="srgb")).pixels
                inputs = {"ours": read_image(dng).pixels, "exact srgb": exact, "srgb8": _jpeg_round_trip(exact),
                          "camera": _camera_style(dng)}
                for pipeline, pixels in inputs.items():
                    result = enhancer.enhance(pixels, mode=args.mode)
                    key = f"{stops:g} stops, {pipeline}, enhanced"
                    rows.setdefault(key, []).append({"psnr": psnr(result, truth), "ssim": ssim(result, truth),
                                                     "gt_mean_psnr": gt_mean_psnr(result, truth)})
                    if args.gain_only and pipeline in ("exact srgb", "srgb8"):
                        pushed = _gain(pixels, 2.0**stops)
                        key = f"{stops:g} stops, {pipeline}, 2^stops gain only"
                        rows.setdefault(key, []).append({"psnr": psnr(pushed, truth), "ssim": ssim(pushed, truth),
                                                         "gt_mean_psnr": gt_mean_psnr(pushed, truth)})
                print(f"{name} {stops:g} stops done ({time.perf_counter() - started:.0f} s)", file=sys.stderr,
                      flush=True)
    summary = {key: {metric: float(np.mean([r[metric] for r in values])) for metric in values[0]}
               | {"n": len(values)} for key, values in rows.items()}
    print(f"{'pipeline':44s} {'PSNR':>7s} {'SSIM':>6s} {'GT-mean PSNR':>13s}")
    for key, value in summary.items():
        print(f"{key:44s} {value['psnr']:7.2f} {value['ssim']:6.3f} {value['gt_mean_psnr']:13.2f}")
    if args.json:
        args.json.write_text(json.dumps({"args": {k: str(v) for k, v in vars(args).items()}, "summary": summary},
                                        indent=2))


if __name__ == "__main__":
    main()
