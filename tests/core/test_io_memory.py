"""core.io: reading and writing a large JPEG costs little memory beyond the decoded frame.

Measured in a fresh interpreter: its peak resident set size (``VmHWM``, reset once the imports
are done) against its size just before reading. Not ``ru_maxrss``: Linux hands a child the peak
of the process it was forked from (pytest's, hundreds of MiB after other tests), which hides
everything below it. Reading with ``integers=True`` and writing those pixels, as the batch does,
peaks at 2.1 frames (H x W x 3 bytes): the frame, OpenCV's own decode buffer, which its Python
binding copies into the returned array (one more frame for a moment), and the file's bytes.
Through Pillow the same steps peaked at 4.8 frames (its 4-byte pixels, exif_transpose's copy,
tobytes), and 3.4 with libjpeg's optimised Huffman tables (their coefficient buffer is 2 frames
at 4:4:4).
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytestmark = pytest.mark.skipif(not Path("/proc/self/clear_refs").exists(), reason="needs Linux's /proc")

REPO = Path(__file__).resolve().parents[2]
#: Peak growth allowed, in decoded frames (H x W x 3 bytes).
MAX_FRAMES = 2.6

_CHILD = """
import json, sys
from core.io import read_image, write_image

def status(field):  # bytes
    for line in open("/proc/self/status"):
        if line.startswith(field + ":"):
            return int(line.split()[1]) * 1024

try:  # peak so far := resident size now, so the imports' peak hides nothing
    with open("/proc/self/clear_refs", "w") as handle:
        handle.write("5")
except OSError:
    print(json.dumps({"reset": False}))
    sys.exit()
base = status("VmRSS")
data = read_image(sys.argv[1], integers=True)
after_read = status("VmHWM")
write_image(sys.argv[2], data.pixels, source=data)
print(json.dumps({"reset": True, "read": after_read - base, "total": status("VmHWM") - base,
                  "frame": data.pixels.nbytes, "writable": data.pixels.flags.writeable}))
"""


def _photo(path: Path, height: int, width: int) -> None:
    """Gradients plus a fine texture (not noise-free flat areas a JPEG encoder shrinks to nothing)."""
    texture = np.random.default_rng(5).integers(0, 40, (256, 256, 3), dtype=np.uint8)
    pixels = np.tile(texture, (height // 256 + 1, width // 256 + 1, 1))[:height, :width]
    pixels[:, :, 0] += np.linspace(0, 200, width).astype(np.uint8)[None, :]
    pixels[:, :, 1] += np.linspace(0, 200, height).astype(np.uint8)[:, None]
    pixels[:, :, 2] += 60
    exif = Image.Exif()
    exif[315] = "memory test"
    Image.fromarray(pixels).save(path, quality=90, exif=exif.tobytes())


def test_large_jpeg_read_and_write_stay_near_the_frame_size(tmp_path):
    height, width = 4240, 5664  # 24 MP
    _photo(tmp_path / "big.jpg", height, width)
    env = {**os.environ, "OMP_NUM_THREADS": "1", "PYTHONPATH": str(REPO)}
    command = [sys.executable, "-c", _CHILD, str(tmp_path / "big.jpg"), str(tmp_path / "out.jpg")]
    result = subprocess.run(command, cwd=REPO, env=env, capture_output=True, text=True, timeout=120,
                            check=False)
    assert result.returncode == 0, result.stderr
    figures = json.loads(result.stdout.strip().splitlines()[-1])
    if not figures["reset"]:
        pytest.skip("the peak resident size cannot be reset here (/proc/self/clear_refs)")
    frame = figures["frame"]
    assert frame == height * width * 3 and figures["writable"]
    read, total = figures["read"] / frame, figures["total"] / frame
    message = (f"peak growth {figures['total'] / 2**20:.0f} MiB = {total:.2f} frames of "
               f"{frame / 2**20:.0f} MiB (after reading: {read:.2f} frames; allowed {MAX_FRAMES})")
    assert total < MAX_FRAMES, message
    with Image.open(tmp_path / "out.jpg") as written:
        assert written.size == (width, height) and written.getexif()[315] == "memory test"
