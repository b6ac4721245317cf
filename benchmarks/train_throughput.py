"""Training throughput: seconds per crop for a preset, with the trainer's real step.

    python benchmarks/train_throughput.py --preset lite --crop 128 --batch 8 [--device cpu] [--precision bf16]

Prints seconds per crop and crops per second after warm-up steps (the issue's goal for
``lite`` on the 2-core CPU: <= 0.3 s per 128x128 crop).
"""

from __future__ import annotations

import argparse
import time

import torch

from core.config import get_preset
from core.model import MIRNet, count_parameters
from trainer.augment import degrade_low
from trainer.config import AugmentConfig
from trainer.loop import _autocast, select_device
from trainer.losses import charbonnier


def measure(preset: str, crop: int, batch: int, device_name: str, precision: str, steps: int, warmup: int,
            channels_last: bool, compile_model: bool) -> float:
    device = select_device(device_name)
    torch.manual_seed(0)
    model = MIRNet(get_preset(preset)).to(device)
    if channels_last:
        model = model.to(memory_format=torch.channels_last)
    step_model = torch.compile(model) if compile_model else model
    optimiser = torch.optim.Adam(model.parameters(), lr=1e-4)
    gen = torch.Generator(device=device)
    gen.manual_seed(0)
    high = torch.rand(batch, 3, crop, crop, device=device)
    aug = AugmentConfig()

    def step() -> None:
        low, _ = degrade_low(high * 0.3, aug, gen)
        if channels_last:
            low = low.contiguous(memory_format=torch.channels_last)
        with _autocast(device, precision):
            pred = step_model(low)
        loss = charbonnier(pred.float(), high, 1e-3)
        optimiser.zero_grad(set_to_none=True)
        loss.backward()
        optimiser.step()

    for _ in range(warmup):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    t0 = time.perf_counter()
    for _ in range(steps):
        step()
    if device.type == "cuda":
        torch.cuda.synchronize()
    per_crop = (time.perf_counter() - t0) / (steps * batch)
    print(f"{preset} ({count_parameters(model) / 1e6:.2f} M params) crop {crop} batch {batch} on {device} "
          f"precision {precision} channels_last={channels_last} compile={compile_model}: "
          f"{per_crop:.4f} s per crop, {1 / per_crop:.1f} crops/s")
    return per_crop


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--preset", default="lite")
    parser.add_argument("--crop", type=int, default=128)
    parser.add_argument("--batch", type=int, default=8)
    parser.add_argument("--device", default="auto")
    parser.add_argument("--precision", default="auto", choices=["auto", "fp32", "bf16"])
    parser.add_argument("--steps", type=int, default=5)
    parser.add_argument("--warmup", type=int, default=2)
    parser.add_argument("--no-channels-last", action="store_true")
    parser.add_argument("--compile", action="store_true")
    args = parser.parse_args()
    measure(args.preset, args.crop, args.batch, args.device, args.precision, args.steps, args.warmup,
            not args.no_channels_last, args.compile)


if __name__ == "__main__":
    main()
