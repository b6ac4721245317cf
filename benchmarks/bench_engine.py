"""Engine benchmark: model speed per tile, 12 MP fast/full, 50 MP peak memory, seam PSNR.

Usage::

    python benchmarks/bench_engine.py --images DIR [--weights W.safetensors] [--skip-50mp]

Without ``--weights`` a randomly initialised ``lite`` model is used (``--perturb S`` adds
N(0, S) noise to every parameter so the residual branch matters, which makes the seam test
stricter); the output says which. Timings are the minimum of ``--repeats`` runs; the CPU may
be shared, so compare figures taken in the same run.
"""

from __future__ import annotations

import argparse
import copy
import logging
import resource
import subprocess
import sys
import time
from collections.abc import Callable
from pathlib import Path

import cv2
import numpy as np
import torch

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from core.config import PRESETS  # noqa: E402
from core.engine import DEFAULT_CONTEXT_WINDOW, EngineConfig, Enhancer, cpu_bf16_is_native  # noqa: E402
from core.metrics import psnr  # noqa: E402
from core.model import MIRNet  # noqa: E402
from core.weights import load_weights  # noqa: E402

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"}


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", type=Path, help="weights file (default: random lite model)")
    p.add_argument("--images", type=Path, required=True, help="folder of real dark photos")
    p.add_argument("--device", default="cpu")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: PyTorch default)")
    p.add_argument("--repeats", type=int, default=3)
    p.add_argument("--perturb", type=float, default=0.0, help="random model only: add N(0, S) to parameters")
    p.add_argument("--windows", default="192,none", help="context windows for the seam test")
    p.add_argument("--only", default="tile,bf16,fast,full,seam,50mp", help="comma list of sections to run")
    p.add_argument("--skip-50mp", action="store_true", help="skip the (minutes long) 50 MP memory run")
    p.add_argument("--child-50mp", action="store_true", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def best_of(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def load_model(args: argparse.Namespace) -> tuple[MIRNet, str]:
    if args.weights is not None:
        model, info = load_weights(args.weights, "cpu")
        return model, f"weights {args.weights} ({info.summary()})"
    torch.manual_seed(0)
    model = MIRNet(PRESETS["lite"])
    if args.perturb > 0:
        with torch.no_grad():
            for p in model.parameters():
                p.add_(torch.randn_like(p) * args.perturb)
    return model, f"RANDOM lite model (seed 0, perturb {args.perturb}); quality figures are only indicative"


def first_photo(folder: Path) -> Path:
    photos = sorted(p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES)
    if not photos:
        raise SystemExit(f"no images in {folder}")
    return photos[0]


def read_rgb(path: Path, size: tuple[int, int] | None = None) -> np.ndarray:
    """float32 RGB in [0, 1]; ``size`` = (width, height) resizes (cubic up, area down) in uint8."""
    bgr = cv2.imread(str(path), cv2.IMREAD_COLOR)
    if bgr is None:
        raise SystemExit(f"cannot read {path}")
    if size is not None:
        up = size[0] * size[1] > bgr.shape[0] * bgr.shape[1]
        bgr = cv2.resize(bgr, size, interpolation=cv2.INTER_CUBIC if up else cv2.INTER_AREA)
    rgb = np.empty(bgr.shape, np.float32)
    np.multiply(bgr[:, :, ::-1], np.float32(1 / 255), out=rgb)
    return rgb


def bench_tile(model: MIRNet, photo: Path, repeats: int, sections: set[str]) -> None:
    crop = read_rgb(photo, (256, 256))
    x = torch.from_numpy(crop).permute(2, 0, 1).unsqueeze(0).contiguous()
    xc = x.to(memory_format=torch.channels_last)
    model = model.eval()
    model.set_context_window(DEFAULT_CONTEXT_WINDOW)
    print(f"\n[1] one 256x256 tile, context window {model.context_window}, min of {repeats}")
    with torch.inference_mode():
        model.to(memory_format=torch.contiguous_format)
        ref = model(x)
        print(f"  fp32 eager (NCHW)          {best_of(lambda: model(x), repeats):.3f} s")
        model.to(memory_format=torch.channels_last)
        print(f"  fp32 channels_last (engine) {best_of(lambda: model(xc), repeats):.3f} s")
        if "bf16" in sections:
            def run_bf16() -> torch.Tensor:
                with torch.autocast("cpu", dtype=torch.bfloat16):
                    return model(xc)

            out = run_bf16()
            secs = best_of(run_bf16, 1)
            quality = psnr(out.float().clamp(0, 1)[0].permute(1, 2, 0).numpy(),
                           ref.clamp(0, 1)[0].permute(1, 2, 0).numpy())
            print(f"  bf16 autocast channels_last {secs:.3f} s (oneDNN native bf16: {cpu_bf16_is_native()}); "
                  f"PSNR bf16 vs fp32 {quality:.1f} dB")
    model.to(memory_format=torch.contiguous_format)


def bench_fast_full(enhancer: Enhancer, photo: Path, repeats: int, sections: set[str]) -> None:
    image = read_rgb(photo, (4000, 3000))
    print(f"\n[2] 12 MP ({image.shape[1]}x{image.shape[0]}) from {photo.name}")
    if "fast" in sections:
        enhancer.enhance(image, mode="fast")  # warm-up
        cpu = time.process_time()
        secs = best_of(lambda: enhancer.enhance(image, mode="fast"), repeats)
        cpu = (time.process_time() - cpu) / repeats
        print(f"  fast: {secs:.2f} s wall (min), {cpu:.2f} s CPU (mean) (goal <= 1.5 s; network at ~{enhancer.config.fast_max_pixels / 1e6:.2f} MP)")
    if "full" in sections:
        tiles = []
        start, cpu = time.perf_counter(), time.process_time()
        enhancer.enhance(image, mode="full", progress=lambda e: tiles.append(e.detail))
        secs, cpu = time.perf_counter() - start, time.process_time() - cpu
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 2**20
        print(f"  full: {secs:.1f} s wall, {cpu:.1f} s CPU (goal <= 40 s; {tiles[-1]}, overlap {enhancer.config.overlap}); "
              f"peak RSS so far {peak:.2f} GiB")


def bench_seam(model: MIRNet, photo: Path, windows: list[int | None], tile_sizes: list[int]) -> None:
    image = read_rgb(photo, (1024, 1024))
    print(f"\n[4] seam: tiled vs whole-image output, 1024x1024 from {photo.name} (goal >= 40 dB)")
    # The network's own contribution (output minus its input path, i.e. the tail-zeroed model):
    # errors are also given relative to it, since a weak residual makes any seam test easy.
    base_model = copy.deepcopy(model)
    with torch.no_grad():
        base_model.tail.weight.zero_()
        base_model.tail.bias.zero_()
    base = Enhancer(model=base_model, device="cpu", config=EngineConfig(tile=1024)).enhance(image)
    for window in windows:
        whole = Enhancer(model=model, device="cpu", config=EngineConfig(context_window=window, tile=1024)).enhance(image)
        residual = float(np.mean((whole.astype(np.float64) - base) ** 2))
        print(f"  window {window!s:>4}: network residual RMS {residual ** 0.5:.4f}")
        for tile in tile_sizes:
            for overlap in (32, 64):
                cfg = EngineConfig(context_window=window, tile=tile, overlap=overlap)
                tiled = Enhancer(model=model, device="cpu", config=cfg).enhance(image)
                err = float(np.mean((tiled.astype(np.float64) - whole) ** 2))
                rel = 10 * np.log10(residual / err) if err > 0 else float("inf")
                print(f"  window {window!s:>4}  tile {tile:4d}  overlap {overlap:3d}: {psnr(tiled, whole):6.2f} dB"
                      f"  (error {rel:5.1f} dB below the residual)")


def child_50mp(args: argparse.Namespace) -> None:
    model, _ = load_model(args)
    enhancer = Enhancer(model=model, device=args.device)
    image = read_rgb(first_photo(args.images), (8660, 5773))
    start = time.perf_counter()
    enhancer.enhance(image, mode="full")
    print(f"{time.perf_counter() - start:.0f}")


def bench_50mp(args: argparse.Namespace) -> None:
    print("\n[3] 50 MP (8660x5773) full, in a subprocess (goal: peak RSS <= 2.5 GiB)")
    cmd = [sys.executable, __file__, "--child-50mp", "--images", str(args.images), "--device", args.device,
           "--perturb", str(args.perturb), "--threads", str(args.threads)]
    if args.weights is not None:
        cmd += ["--weights", str(args.weights)]
    done = subprocess.run(cmd, capture_output=True, text=True)
    peak = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 2**20  # KiB -> GiB
    if done.returncode != 0:
        print("  child failed:", done.stderr[-2000:])
        return
    print(f"  peak RSS {peak:.2f} GiB, {done.stdout.strip()} s")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.threads:
        torch.set_num_threads(args.threads)
    if args.child_50mp:
        child_50mp(args)
        return
    sections = set(args.only.split(","))
    model, source = load_model(args)
    photo = first_photo(args.images)
    enhancer = Enhancer(model=model, device=args.device)
    print(f"model: {source}")
    print(f"device: {enhancer.device_name}, precision {enhancer.precision}, tile {enhancer.choose_tile()} px, "
          f"torch {torch.__version__}, capability {torch.backends.cpu.get_cpu_capability()}")
    if "tile" in sections:
        bench_tile(model, photo, args.repeats, sections)
    if sections & {"fast", "full"}:
        bench_fast_full(enhancer, photo, args.repeats, sections)
    if "50mp" in sections and not args.skip_50mp:
        bench_50mp(args)
    if "seam" in sections:
        windows = [None if w.strip().lower() == "none" else int(w) for w in args.windows.split(",")]
        bench_seam(model, photo, windows, [256, enhancer.choose_tile()])


if __name__ == "__main__":
    main()
