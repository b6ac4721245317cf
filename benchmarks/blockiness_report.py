"""Does an enhancer amplify the 8x8 blocks of dark JPEGs? Compares the block-grid visibility
(:func:`core.metrics.blockiness`) of each output with its input's, over the input's dark areas
(where a lift makes blocks show), and prints one summary line.

    python benchmarks/blockiness_report.py OUT_DIR IN_DIR [--dark 0.15]

Files are matched by stem, as in the team's picture report. ``amplified`` is the mean of
output / input blockiness: 1 keeps the grid as visible as it was, above 1 makes it stand out
more, below 1 smooths it away; ``blocked`` is the same over the inputs whose grid already
shows (input blockiness above 1.1: once-JPEG photos, whatever their file format now). Inputs
with too few dark pixels are skipped (and counted).
"""

from __future__ import annotations

import argparse
import math
from pathlib import Path

import numpy as np

from core.io import read_image
from core.metrics import blockiness, luma

#: Input blockiness above which a photo's block grid already shows.
BLOCKED = 1.1


def dark_mask(pixels: np.ndarray, level: float) -> np.ndarray:
    """Pixels whose sRGB luma is at or below ``level``."""
    return luma(pixels) <= level


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("out_dir", type=Path)
    parser.add_argument("in_dir", type=Path)
    parser.add_argument("--dark", type=float, default=0.15, help="sRGB luma of the input's dark areas (default 0.15)")
    args = parser.parse_args()
    outputs = {p.stem: p for p in args.out_dir.iterdir() if p.is_file()}
    rows: list[tuple[str, float, float]] = []
    skipped = 0
    for path in sorted(p for p in args.in_dir.iterdir() if p.is_file()):
        if path.stem not in outputs:
            print(f"missing output for {path.name}")
            return 1
        source = read_image(path)
        result = read_image(outputs[path.stem])
        if result.pixels.shape != source.pixels.shape:
            print(f"{path.name}: output size {result.pixels.shape[:2]} differs from input {source.pixels.shape[:2]}")
            return 1
        mask = dark_mask(source.pixels, args.dark)
        before, after = blockiness(source.pixels, mask), blockiness(result.pixels, mask)
        if math.isnan(before) or math.isnan(after):
            skipped += 1
            continue
        rows.append((path.stem, before, after))
    if not rows:
        print(f"no inputs with enough dark pixels to measure ({skipped} skipped)")
        return 1
    ratios = np.array([after / before for _, before, after in rows])
    worst = int(np.argmax(ratios))
    blocked = ratios[np.array([before > BLOCKED for _, before, _ in rows])]
    blocked_text = f"{blocked.mean():.3f} ({len(blocked)} images)" if len(blocked) else "- (0 images)"
    print(f"images {len(rows)} (skipped {skipped})  input {np.mean([r[1] for r in rows]):.3f}  "
          f"output {np.mean([r[2] for r in rows]):.3f}  amplified {ratios.mean():.3f}  "
          f"blocked {blocked_text}  worst {ratios[worst]:.3f} ({rows[worst][0]})")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
