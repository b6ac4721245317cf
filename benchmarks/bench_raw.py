"""Time and memory of RAW reading: preview (half-size development) and full development.

Writes a synthetic DNG of the given size (12-bit RGGB, a dark gradient scene with shot and read
noise, tests/synthetic_raw.py), then runs each step in a fresh process and reports its wall
time and the process's peak resident memory (``ru_maxrss``, so the baseline of Python + numpy
+ rawpy is included; ``baseline`` is that process doing nothing but the imports). ``full`` gives
the float32 picture, ``full16`` the uint16 one (``read_image(integers=True)``, the batch's path).

    .venv/bin/python benchmarks/bench_raw.py --mp 24 --repeat 3
"""

from __future__ import annotations

import argparse
import json
import subprocess
import sys
import tempfile
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent

_CHILD = r"""
import json, resource, sys, time
sys.path.insert(0, {root!r})
from core.io import read_image, read_preview
step, path = sys.argv[1], sys.argv[2]
started = time.perf_counter()
if step == "preview":
    result = read_preview(path, 1600)
    shape = result.pixels.shape
elif step == "full":
    result = read_image(path)
    shape = result.pixels.shape
elif step == "full16":
    result = read_image(path, integers=True)
    shape = result.pixels.shape
elif step == "write":
    sys.path.insert(0, {tests!r})
    import numpy as np
    from synthetic_raw import bayer_from_linear, smooth_scene, write_dng
    megapixels = float(sys.argv[3])
    width = int(round((megapixels * 1e6 * 1.5) ** 0.5)) // 2 * 2
    height = int(round(width / 1.5)) // 2 * 2
    cfa = bayer_from_linear(smooth_scene(height, width) * 0.08, rng=np.random.default_rng(0), photons=8000,
                            read_noise=2.0)
    write_dng(path, cfa)
    shape = cfa.shape
else:
    shape = None
seconds = time.perf_counter() - started
print(json.dumps({{"step": step, "seconds": seconds, "shape": shape,
                   "peak_rss_mib": resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024}}))
"""


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--mp", type=float, default=24.0, help="megapixels of the synthetic DNG")
    parser.add_argument("--repeat", type=int, default=3)
    args = parser.parse_args()
    # Every step in its own process: ru_maxrss survives fork and exec, so the parent stays small.
    child = _CHILD.format(root=str(ROOT), tests=str(ROOT / "tests"))
    with tempfile.TemporaryDirectory() as folder:
        dng = Path(folder) / "bench.dng"
        subprocess.run([sys.executable, "-c", child, "write", str(dng), str(args.mp)], check=True,
                       capture_output=True)
        print(f"{dng.stat().st_size / 2**20:.0f} MiB DNG, {args.mp:g} MP", file=sys.stderr)
        for step in ("baseline", "preview", "full", "full16"):
            runs = [json.loads(subprocess.run([sys.executable, "-c", child, step, str(dng)], check=True,
                                              capture_output=True, text=True).stdout.strip().splitlines()[-1])
                    for _ in range(args.repeat)]
            best = min(r["seconds"] for r in runs)
            print(f"{step:8s} best {best:6.2f} s of {args.repeat}  peak RSS {max(r['peak_rss_mib'] for r in runs):6.0f} "
                  f"MiB  output {runs[0]['shape']}")


if __name__ == "__main__":
    main()
