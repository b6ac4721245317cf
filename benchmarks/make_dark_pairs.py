"""Make a darker, noisier copy of a paired folder for measuring how a model copes with real
dark photos (targets unchanged).

    python benchmarks/make_dark_pairs.py --src PAIRS_DIR --out OUT_DIR [--min-stops 1.5 --max-stops 3]

``PAIRS_DIR`` holds ``low/`` and ``high/``. Each low frame is darkened in linear light by a
seeded random 1.5-3 stops and given Poisson-Gaussian sensor noise (the trainer's own
degradation with darkening and noise always on), then saved as PNG; ``high/`` is copied.
Typical SICE low frames (mean luma ~0.13) come out at ~0.03-0.05, like real night photos.
"""

from __future__ import annotations

import argparse
import shutil
from pathlib import Path

import numpy as np
import torch
from PIL import Image

from trainer.augment import degrade_low
from trainer.config import AugmentConfig
from trainer.data import discover_pairs, load_rgb8


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--src", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--min-stops", type=float, default=1.5)
    parser.add_argument("--max-stops", type=float, default=3.0)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args()
    cfg = AugmentConfig(darken_prob=1.0, darken_min_stops=args.min_stops, darken_stops=args.max_stops, noise_prob=1.0)
    out = Path(args.out)
    (out / "low").mkdir(parents=True, exist_ok=True)
    (out / "high").mkdir(parents=True, exist_ok=True)
    gen = torch.Generator().manual_seed(args.seed)
    lumas = []
    for pair in discover_pairs(args.src):
        low = torch.from_numpy(load_rgb8(pair.low)).permute(2, 0, 1)[None].float() / 255.0
        dark = degrade_low(low, cfg, gen)[0][0].permute(1, 2, 0).numpy()
        dark8 = np.clip(np.round(dark * 255.0), 0, 255).astype(np.uint8)
        Image.fromarray(dark8).save(out / "low" / f"{pair.name}.png")
        shutil.copyfile(pair.high, out / "high" / pair.high.name)
        lumas.append(float(np.asarray(Image.fromarray(dark8).convert("L")).mean() / 255.0))
    print(f"{len(lumas)} pairs written to {out}; median mean luma of the dark frames {np.median(lumas):.3f}")


if __name__ == "__main__":
    main()
