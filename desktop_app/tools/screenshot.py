"""Retake ``docs/screenshot.png``: open photos, enhance the first, grab the window.

Real window under Xvfb (what the README shows)::

    Xvfb :99 -screen 0 1600x1000x24 & export DISPLAY=:99
    .venv/bin/python -m desktop_app.tools.screenshot \
        /work/shared/data/real-lowlight/DICM/01.jpg /work/shared/data/real-lowlight/DICM/02.jpg \
        /work/shared/data/real-lowlight/ZeroDCEpp-real/101_0_.png --weights resources/weights/lite.safetensors
    # optional cross-check of what X shows: import -window root /tmp/root.png

Without a display it still works (``QT_QPA_PLATFORM=offscreen``): the window renders itself.
Without ``--weights`` the bundled model is used.
"""

from __future__ import annotations

import argparse
import sys
import tempfile
import time
from pathlib import Path


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description="Take the README screenshot of lowlight-studio.")
    parser.add_argument("photos", nargs="+", type=Path, help="photos to open; the first one is shown")
    parser.add_argument("--weights", type=Path, help="model weights (default: the bundled model)")
    parser.add_argument("--out", type=Path, default=Path("docs/screenshot.png"))
    parser.add_argument("--size", default="1440x880", help="window size WxH")
    parser.add_argument("--split", type=float, default=0.5, help="divider position (0..1)")
    parser.add_argument("--strength", type=float, default=1.0)
    parser.add_argument("--exposure", type=float, default=0.0, help="stops from auto for the Exposure slider")
    parser.add_argument("--mode", choices=("fast", "full"), default="full")
    parser.add_argument("--timeout", type=float, default=600.0)
    args = parser.parse_args(argv)

    from desktop_app.app import create_application
    from desktop_app.main_window import MainWindow
    from desktop_app.models.photo_queue import PhotoState
    from desktop_app.settings import open_store

    app = create_application()
    store = open_store(Path(tempfile.mkdtemp(prefix="llstudio-shot-")) / "settings.ini")
    store.setValue("mode", args.mode)
    store.setValue("strength", args.strength)
    store.setValue("exposure", args.exposure)
    if args.weights:
        store.setValue("weights_path", str(args.weights.resolve()))
    width, height = (int(v) for v in args.size.lower().split("x"))
    window = MainWindow(store)
    window.resize(width, height)
    window.move(0, 0)
    window.show()

    def spin(until, timeout: float) -> bool:  # noqa: ANN001
        deadline = time.monotonic() + timeout
        while not until() and time.monotonic() < deadline:
            app.processEvents()
            time.sleep(0.01)
        return bool(until())

    if not spin(lambda: not window.models.busy, 120) or window.engine is None:
        print(f"no model: {window.controls.model_info.text()}", file=sys.stderr)
        return 2
    window.add_paths([p.resolve() for p in args.photos])
    window.select_row(0)
    if not spin(lambda: window.queue.item(0).state in (PhotoState.DONE, PhotoState.FAILED), args.timeout):
        print("timed out", file=sys.stderr)
        return 2
    # let thumbnails of the other photos arrive too (they are cheap)
    spin(lambda: all(item.thumbnail is not None for item in window.queue.items()), 30)
    window.view.set_split(args.split)
    spin(lambda: False, 0.5)
    args.out.parent.mkdir(parents=True, exist_ok=True)
    window.grab().save(str(args.out), "PNG", 9)
    print(f"saved {args.out} ({args.out.stat().st_size // 1024} KB): {window.queue.item(0).path.name}, "
          f"model {window.model_text}, {window.device_text}")
    window.close()
    return 0


if __name__ == "__main__":
    sys.exit(main())
