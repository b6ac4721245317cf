"""Time to the first enhanced pixels in the app for a 12 MP JPEG, and what each step costs.

    QT_QPA_PLATFORM=offscreen .venv/bin/python benchmarks/bench_preview.py --image PHOTO [--weights W]

1. Steps, each timed on its own (min of ``--repeats``): full JPEG decode to float32 (before) and
   to uint8 (after), the reduced (draft-mode) decode, display pyramids, fast mode at full size
   (float32 in and out, before; uint8, after) and on the display-size working copy.
2. The real main window (offscreen, fast mode): from ``add_paths`` until the compare view holds
   enhanced pixels, with the quick preview of a working copy ("after") and without it ("before":
   the first enhanced pixels are the full-size fast result, as the app did before), alternating,
   min of ``--repeats``; the full-size result's arrival is timed too.

``--image`` is resized to 12 MP (4000x3000) and saved as a quality-95 JPEG first. Run it on a
quiet machine (``--pause-pid-file`` stops a background process while timing); it names the CPU.
"""

from __future__ import annotations

import argparse
import os
import sys
import tempfile
import time
from collections.abc import Callable
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))
sys.path.insert(0, str(Path(__file__).resolve().parent))
os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from bench_engine import Pauser, describe_cpu, make_jpeg  # noqa: E402

GOAL_S = 1.0


def best(fn: Callable[[], object], repeats: int) -> float:
    times = []
    for _ in range(repeats):
        start = time.perf_counter()
        fn()
        times.append(time.perf_counter() - start)
    return min(times)


def steps(photo: Path, enhancer, repeats: int) -> None:  # noqa: ANN001
    from core.io import read_image, read_preview
    from desktop_app.imaging import PREVIEW_MAX_SIDE, downscale, pyramid, to_uint8
    from desktop_app.jobs import QUICK_NETWORK_PIXELS

    as_float = read_image(photo)
    as_int = read_image(photo, integers=True)
    look = read_preview(photo, PREVIEW_MAX_SIDE)
    rows = [
        ("decode, float32 (before)", lambda: read_image(photo)),
        ("decode, uint8 (after)", lambda: read_image(photo, integers=True)),
        (f"reduced decode to <= {PREVIEW_MAX_SIDE} px (draft)", lambda: read_preview(photo, PREVIEW_MAX_SIDE)),
        ("display levels from float32 (before)", lambda: pyramid(downscale(to_uint8(as_float.pixels), 2048))),
        ("display levels from uint8 (after)", lambda: pyramid(downscale(to_uint8(as_int.pixels), 2048))),
        ("display levels of the working copy", lambda: pyramid(look.pixels)),
        ("fast mode, 12 MP, float32 in and out (enhance)", lambda: enhancer.enhance(as_float.pixels, mode="fast")),
        ("fast mode, 12 MP, uint8 in and out (render)", lambda: enhancer.render(as_int.pixels, mode="fast")),
        (f"fast mode, working copy {look.pixels.shape[1]}x{look.pixels.shape[0]}, 0.2 MP network",
         lambda: enhancer.render(look.pixels, mode="fast")),
        (f"  the same, {QUICK_NETWORK_PIXELS / 1e6:.2f} MP network (the app's quick preview)",
         lambda: enhancer.render(look.pixels, mode="fast", fast_pixels=QUICK_NETWORK_PIXELS)),
    ]
    enhancer.render(look.pixels, mode="fast")  # warm-up
    print(f"\n[steps] {photo.name}, min of {repeats}")
    for label, fn in rows:
        print(f"  {label:48s} {best(fn, repeats) * 1000:7.0f} ms")


def first_pixels(photo: Path, weights: Path, repeats: int, pauser: Pauser) -> None:
    from core.engine import Enhancer
    from desktop_app import jobs
    from desktop_app.app import create_application
    from desktop_app.main_window import MainWindow
    from desktop_app.models.photo_queue import PhotoState
    from desktop_app.settings import open_store

    app = create_application()
    engine = Enhancer(weights, device="cpu")
    tmp = Path(tempfile.mkdtemp(prefix="bench_preview_"))
    store = open_store(tmp / "settings.ini")
    store.setValue("mode", "fast")
    store.setValue("weights_path", str(weights))
    quick = (jobs.QUICK_MIN_SIDE, jobs.QUICK_FULL_PIXELS)

    def one(with_quick: bool) -> tuple[float, float]:
        jobs.QUICK_MIN_SIDE, jobs.QUICK_FULL_PIXELS = quick if with_quick else (10**9, 10**18)
        window = MainWindow(store, lambda _w: engine)
        window.resize(1400, 860)
        window.show()
        deadline = time.monotonic() + 60
        while window.engine is None and time.monotonic() < deadline:
            app.processEvents()
            time.sleep(0.002)
        start = time.perf_counter()
        window.add_paths([photo])
        first = None
        while time.monotonic() < deadline + 120:
            app.processEvents()
            if first is None and window.view.has_result():
                first = time.perf_counter() - start
            item = window.queue.item(0)
            if item.state in (PhotoState.DONE, PhotoState.FAILED) and window.scheduler.active_worker is None:
                break
            time.sleep(0.001)
        done = time.perf_counter() - start
        window.close()
        app.processEvents()
        return first if first is not None else float("nan"), done

    one(True)  # warm-up: imports, first-call costs
    results: dict[bool, list[tuple[float, float]]] = {True: [], False: []}
    with pauser():
        for _ in range(repeats):
            for with_quick in (False, True):
                results[with_quick].append(one(with_quick))
    jobs.QUICK_MIN_SIDE, jobs.QUICK_FULL_PIXELS = quick
    print(f"\n[app] main window, fast mode, {photo.name}: add_paths -> enhanced pixels in the view "
          f"(min of {repeats}; goal <= {GOAL_S:.1f} s)")
    for with_quick, label in ((False, "before (no working copy)"), (True, "after (quick preview)  ")):
        first = min(r[0] for r in results[with_quick])
        done = min(r[1] for r in results[with_quick])
        print(f"  {label}: first enhanced pixels {first:5.2f} s, full-size result {done:5.2f} s")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    root = Path(__file__).resolve().parents[1]
    parser.add_argument("--image", type=Path, required=True, help="a photo (resized to 12 MP)")
    parser.add_argument("--weights", type=Path, default=root / "resources" / "weights" / "lite.safetensors")
    parser.add_argument("--repeats", type=int, default=3)
    parser.add_argument("--only", default="steps,app")
    parser.add_argument("--pause-pid-file", type=Path, action="append", default=[],
                        help="SIGSTOP the process(es) named in this file while timing (repeatable)")
    args = parser.parse_args()

    import torch

    from core.engine import Enhancer

    work = Path(tempfile.mkdtemp(prefix="bench_preview_"))
    photo = make_jpeg(args.image, (4000, 3000), work)
    print(f"CPU: {describe_cpu()}; torch {torch.__version__} ({torch.get_num_threads()} threads)")
    pauser = Pauser(args.pause_pid_file)
    try:
        if "steps" in args.only:
            enhancer = Enhancer(args.weights, device="cpu")
            with pauser():
                steps(photo, enhancer, args.repeats)
        if "app" in args.only:
            first_pixels(photo, args.weights, args.repeats, pauser)
    finally:
        if pauser.pid is not None:
            print(f"\n(background processes {pauser.pids} were paused for about {pauser.total:.0f} s)")
    return 0


if __name__ == "__main__":
    sys.exit(main())
