"""Side-by-side sheet of real dark photos: input, old weights, new weights at auto, and the new
weights at EV -1 and +1 (full mode, each photo resized to one row height for the sheet only).

    python benchmarks/picture_sheet.py --old OLD.safetensors --new NEW.safetensors \
        --out docs/picture-sheet.jpg PHOTO...
"""

from __future__ import annotations

import argparse
from pathlib import Path

import numpy as np
from PIL import Image, ImageDraw

from core.engine import Enhancer
from core.io import read_image

ROW_HEIGHT = 240
LABEL_HEIGHT = 22


def _to_tile(pixels: np.ndarray, height: int) -> Image.Image:
    image = Image.fromarray((np.clip(pixels, 0, 1) * 255 + 0.5).astype(np.uint8))
    width = max(1, round(image.width * height / image.height))
    return image.resize((width, height), Image.Resampling.LANCZOS)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--old", required=True)
    parser.add_argument("--new", required=True)
    parser.add_argument("--out", required=True)
    parser.add_argument("--mode", default="full", choices=["full", "fast"])
    parser.add_argument("photos", nargs="+")
    args = parser.parse_args()
    old, new = Enhancer(args.old, device="cpu"), Enhancer(args.new, device="cpu")
    columns = [("input", None, 0.0), ("previous weights", old, 0.0), ("new, auto", new, 0.0),
               ("new, -1 EV", new, -1.0), ("new, +1 EV", new, 1.0)]
    rows = []
    for photo in args.photos:
        pixels = read_image(photo).pixels
        tiles = []
        for _, enhancer, ev in columns:
            out = pixels if enhancer is None else enhancer.enhance(pixels, mode=args.mode, exposure=ev)
            tiles.append(_to_tile(out, ROW_HEIGHT))
        rows.append(tiles)
        print(f"{Path(photo).name}: done", flush=True)
    widths = [max(row[c].width for row in rows) for c in range(len(columns))]
    sheet = Image.new("RGB", (sum(widths) + 4 * (len(widths) + 1), LABEL_HEIGHT + len(rows) * (ROW_HEIGHT + 4) + 4),
                      (24, 26, 30))
    draw = ImageDraw.Draw(sheet)
    x = 4
    for (label, _, _), width in zip(columns, widths):
        draw.text((x + 4, 5), label, fill=(230, 230, 230))
        x += width + 4
    y = LABEL_HEIGHT
    for row in rows:
        x = 4
        for tile, width in zip(row, widths):
            sheet.paste(tile, (x + (width - tile.width) // 2, y))
            x += width + 4
        y += ROW_HEIGHT + 4
    sheet.save(args.out, quality=90)
    print(f"wrote {args.out} ({sheet.width}x{sheet.height})")


if __name__ == "__main__":
    main()
