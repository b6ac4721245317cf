"""Engine benchmark: backends per tile, 12 MP export through the CLI's batch path, peak memory
at 12 / 24 / 50 MP, seam PSNR; "before" (another revision of the code) and "after" side by side.

Usage::

    python benchmarks/bench_engine.py --images DIR --weights resources/weights/lite.safetensors \\
        [--baseline REV] [--only tile,pipeline,memory,seam] [--pause-pid-file FILE]

* ``tile``: one 384 px tile of the model per backend (eager fp32 NCHW / channels_last, bf16
  autocast where oneDNN has native bf16, the engine's compiled path, OpenVINO f32 / default
  precision when installed); each backend runs in its own process, in interleaved rounds, and
  the minimum is kept. PSNR against eager fp32 on real crops, each at its photo's own exposure
  gain (reduced precision must stay >= 45 dB).
* ``pipeline``: a real photo resized to 12 MP, saved as JPEG, enhanced by ``core.batch.run_batch``
  (what ``lowlight enhance`` runs: read, enhance, write) in fresh processes: wall time and peak RSS.
* ``memory``: the same in full mode at 12, 24 and 50 MP: peak RSS (and time).
* ``seam``: tiled against whole-image output (in this process).

``--baseline REV`` runs the pipeline and memory children also with the code of git revision
``REV`` (exported with ``git archive`` into a temporary folder) and prints both. The CPU may be
shared: ``--pause-pid-file`` names a process (a background training run) that is stopped with
SIGSTOP only while timed work runs and always continued afterwards. Compare figures taken in one
run; the output names the CPU.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import logging
import os
import platform
import resource
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np

ROOT = Path(__file__).resolve().parents[1]
IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff"}
SIZES_MP = {12: (4000, 3000), 24: (6000, 4000), 50: (8660, 5773)}
TILE = 384
#: Reduced precision must stay this close to fp32 (dB PSNR) on real photos.
MIN_PSNR_DB = 45.0


# ------------------------------------------------------------------------------------- helpers


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--weights", type=Path, default=ROOT / "resources" / "weights" / "lite.safetensors")
    p.add_argument("--images", type=Path, required=True, help="folder of real dark photos (the largest are used)")
    p.add_argument("--threads", type=int, default=0, help="torch threads (0: PyTorch default)")
    p.add_argument("--only", default="tile,pipeline,memory,seam", help="comma list of sections to run")
    p.add_argument("--baseline", help="git revision (or source folder) to compare with, e.g. da10818")
    p.add_argument("--backends", default="eager-nchw,eager,bf16,compiled,compiled-bf16,openvino,openvino-default",
                   help="tile section: backends to compare")
    p.add_argument("--rounds", type=int, default=3, help="tile section: interleaved rounds per backend")
    p.add_argument("--sizes", default="12,24,50", help="memory section: megapixel sizes (12, 24, 50)")
    p.add_argument("--memory-threads", type=int, default=1,
                   help="memory section: torch threads (peak RSS does not depend on them; one thread is "
                        "far faster than two on a CPU that other work shares)")
    p.add_argument("--modes", default="full,fast", help="pipeline section: modes")
    p.add_argument("--compiled", type=_compiled_list, default=[None],
                   help="after: EngineConfig.compiled, 'cached' or 'off', or both ('cached,off': two 'after' "
                        "rows in the same run; default: the engine's, which uses a compiled package when the "
                        "cache has one)")
    p.add_argument("--tile-workers", type=lambda t: [int(v) or None for v in t.split(",")], default=[None],
                   help="after: EngineConfig.cpu_tile_workers, a comma list (0: the engine's default, one per "
                        "thread), e.g. '0,1' for two 'after' rows")
    p.add_argument("--pause-pid-file", type=Path, action="append", default=[],
                   help="SIGSTOP the process(es) named in this file while timed work runs (repeatable)")
    p.add_argument("--child", help=argparse.SUPPRESS)
    return p.parse_args(argv)


def _compiled_list(text: str) -> list[str | None]:
    values = [v.strip() for v in text.split(",") if v.strip()]
    if not values or any(v not in ("cached", "off") for v in values):
        raise argparse.ArgumentTypeError("expected 'cached', 'off' or 'cached,off'")
    return values


@dataclass(frozen=True)
class Variant:
    """One column of a before/after comparison: a code tree (None: this one) and, for this tree,
    the engine's ``compiled`` setting."""

    label: str
    tree: Path | None
    compiled: str | None = None
    tile_workers: int | None = None


def describe_cpu() -> str:
    model, flags = platform.processor() or "", set()
    with contextlib.suppress(OSError), open("/proc/cpuinfo", encoding="ascii", errors="replace") as handle:
        for line in handle:
            if line.startswith("model name") and not model:
                model = line.split(":", 1)[1].strip()
            elif line.startswith("flags"):
                flags = set(line.split(":", 1)[1].split())
                break
    wanted = [f for f in ("avx2", "avx512f", "avx512_bf16", "amx_bf16") if f in flags]
    return f"{model or 'unknown CPU'}, {os.cpu_count()} cores, flags: {' '.join(wanted) or 'no avx2'}"


class Pauser:
    """Stops background processes (SIGSTOP) only while timed work runs; always continues them."""

    def __init__(self, pid_files: list[Path] | Path | None) -> None:
        files = [pid_files] if isinstance(pid_files, Path) else list(pid_files or [])
        self.pids = [int(word) for f in files for word in f.read_text().split()]
        self.total = 0.0

    @property
    def pid(self) -> list[int] | None:
        return self.pids or None

    @contextlib.contextmanager
    def __call__(self) -> Iterator[None]:
        if not self.pids:
            yield
            return
        start = time.monotonic()
        stopped = []
        try:
            for pid in self.pids:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGSTOP)
                    stopped.append(pid)
            yield
        finally:
            for pid in stopped:
                with contextlib.suppress(ProcessLookupError):
                    os.kill(pid, signal.SIGCONT)
            self.total += time.monotonic() - start


def largest_photos(folder: Path, count: int) -> list[Path]:
    photos = [p for p in folder.iterdir() if p.suffix.lower() in IMAGE_SUFFIXES]
    if not photos:
        raise SystemExit(f"no images in {folder}")

    def pixels(path: Path) -> int:
        from PIL import Image

        with Image.open(path) as image:
            return image.width * image.height

    return sorted(photos, key=lambda p: (-pixels(p), p.name))[:count]


def make_jpeg(photo: Path, size: tuple[int, int], folder: Path) -> Path:
    """``photo`` resized to ``size`` (cubic up, area down) and saved as a quality-95 JPEG."""
    target = folder / f"{photo.stem}_{size[0]}x{size[1]}.jpg"
    if not target.exists():
        bgr = cv2.imread(str(photo), cv2.IMREAD_COLOR)
        up = size[0] * size[1] > bgr.shape[0] * bgr.shape[1]
        bgr = cv2.resize(bgr, size, interpolation=cv2.INTER_CUBIC if up else cv2.INTER_AREA)
        cv2.imwrite(str(target), bgr, [cv2.IMWRITE_JPEG_QUALITY, 95])
    return target


def run_child(spec: dict, tree: Path | None = None) -> dict:
    """Run ``--child`` with ``spec`` in a fresh interpreter (``tree``: whose ``core`` to import)."""
    env = dict(os.environ)
    if tree is not None:
        spec = {**spec, "tree": str(tree)}
    done = subprocess.run([sys.executable, __file__, "--images", ".", "--child", json.dumps(spec)],
                          capture_output=True, text=True, env=env)
    lines = [line for line in done.stdout.splitlines() if line.startswith("{")]
    if done.returncode != 0 or not lines:
        return {"error": (done.stderr or done.stdout)[-1500:]}
    return json.loads(lines[-1])


def baseline_tree(revision: str, workdir: Path) -> Path:
    """The source of ``revision`` (a folder, or a git revision exported with ``git archive``)."""
    if Path(revision).is_dir():
        return Path(revision).resolve()
    target = workdir / f"baseline-{revision}"
    target.mkdir(parents=True, exist_ok=True)
    archive = subprocess.run(["git", "-C", str(ROOT), "archive", revision, "core"], capture_output=True, check=True)
    subprocess.run(["tar", "-x", "-C", str(target)], input=archive.stdout, check=True)
    return target


# -------------------------------------------------------------------------------- child processes


def _import_core(spec: dict) -> None:
    sys.path.insert(0, spec.get("tree") or str(ROOT))


def child_pipeline(spec: dict) -> dict:
    """Read, enhance and write one photo through ``core.batch.run_batch``."""
    _import_core(spec)
    import torch

    from core.batch import BatchOptions, run_batch
    from core.engine import Enhancer

    if spec.get("threads"):
        torch.set_num_threads(spec["threads"])
    if spec.get("compiled") or spec.get("tile_workers"):  # only for trees that have these EngineConfig fields
        from core.engine import EngineConfig

        fields = {"compiled": spec.get("compiled"), "cpu_tile_workers": spec.get("tile_workers")}
        enhancer = Enhancer(spec["weights"], device="cpu",
                            config=EngineConfig(**{k: v for k, v in fields.items() if v is not None}))
    else:
        enhancer = Enhancer(spec["weights"], device="cpu")
    out = Path(tempfile.mkdtemp(prefix="bench_out_"))
    loaded = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    start, start_cpu = time.perf_counter(), time.process_time()
    report = run_batch(enhancer, [Path(spec["input"])], out, BatchOptions(mode=spec["mode"]))
    seconds, cpu = time.perf_counter() - start, time.process_time() - start_cpu
    if report.failed:
        raise SystemExit(f"failed: {report.failed}")
    for path in out.iterdir():
        path.unlink()
    out.rmdir()
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return {"seconds": seconds, "cpu_s": cpu, "peak_gib": peak / 2**20, "loaded_gib": loaded / 2**20}


def child_tile(spec: dict) -> dict:
    """Time one backend on a 384 px tile; save its outputs on the PSNR crops for comparison."""
    _import_core(spec)
    import torch

    from core.weights import load_weights

    if spec.get("threads"):
        torch.set_num_threads(spec["threads"])
    backend = spec["backend"]
    model, info = load_weights(spec["weights"], "cpu")
    model.eval().set_context_window(info.descriptor.context_window)
    crops = np.load(spec["crops"])
    gains = np.load(spec["gains"])
    prepared = time.perf_counter()
    run = _tile_backend(backend, model, crops.shape[1:3])
    if run is None:
        return {"skipped": True}
    x = torch.from_numpy(crops[:1]).permute(0, 3, 1, 2)
    g = torch.from_numpy(gains[:1])
    run(x, g)  # warm-up (and compile)
    prepared = time.perf_counter() - prepared
    outputs = np.stack([run(torch.from_numpy(c[None]).permute(0, 3, 1, 2), torch.from_numpy(gains[i:i + 1]))[0]
                        .float().permute(1, 2, 0).numpy() for i, c in enumerate(crops)])
    np.save(spec["out"], outputs)
    times, cpu = [], []
    with _paused_in_child(spec):
        for _ in range(spec.get("repeats", 3)):
            start, start_cpu = time.perf_counter(), time.process_time()
            run(x, g)
            times.append(time.perf_counter() - start)
            cpu.append(time.process_time() - start_cpu)
    return {"seconds": min(times), "cpu_s": min(cpu), "prepare_s": prepared}


def _paused_in_child(spec: dict) -> contextlib.AbstractContextManager:
    pauser = Pauser(None)
    pauser.pids = list(spec.get("pause_pid") or [])
    return pauser()


def _tile_backend(name: str, model, shape: tuple[int, int]) -> Callable | None:  # noqa: ANN001
    """A callable ``(x, gain) -> y`` running ``model`` with backend ``name``, or None if unavailable."""
    import torch

    from core.engine import cpu_bf16_is_native

    def eager(channels_last: bool, bf16: bool) -> Callable:
        model.to(memory_format=torch.channels_last if channels_last else torch.contiguous_format)

        def run(x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
            x = x.contiguous(memory_format=torch.channels_last if channels_last else torch.contiguous_format)
            with torch.inference_mode(), torch.autocast("cpu", dtype=torch.bfloat16, enabled=bf16):
                return model(x, exposure_gain=g).float()
        return run

    if name == "eager-nchw":
        return eager(False, False)
    if name == "eager":
        return eager(True, False)
    if name in ("bf16", "compiled-bf16") and not cpu_bf16_is_native():
        return None
    if name == "bf16":
        return eager(True, True)
    if name in ("compiled", "compiled-bf16"):
        from core.compiled import CompiledModel, compiled_available

        if not compiled_available():
            return None
        model.to(memory_format=torch.channels_last)
        compiled = CompiledModel.load_or_build(model, shape, bf16=name.endswith("bf16"))

        def run_compiled(x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
            return compiled(x.contiguous(memory_format=torch.channels_last), g).float()
        return run_compiled
    if name.startswith("openvino"):
        try:
            import openvino as ov
        except ImportError:
            return None

        class Wrapped(torch.nn.Module):
            def __init__(self) -> None:
                super().__init__()
                self.model = model

            def forward(self, x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
                return self.model(x, exposure_gain=g)

        example = (torch.zeros(1, 3, *shape), torch.ones(1))
        with torch.no_grad():
            converted = ov.convert_model(Wrapped().eval(), example_input=example)
        config = {"INFERENCE_NUM_THREADS": torch.get_num_threads()}
        if name == "openvino":
            config["INFERENCE_PRECISION_HINT"] = "f32"
        compiled_ov = ov.Core().compile_model(converted, "CPU", config)

        def run_ov(x: torch.Tensor, g: torch.Tensor) -> torch.Tensor:
            return torch.from_numpy(compiled_ov([x.contiguous().numpy(), g.numpy()])[0])
        return run_ov
    raise SystemExit(f"unknown backend {name}")


# ------------------------------------------------------------------------------------- sections


def section_tile(args: argparse.Namespace, work: Path, pauser: Pauser) -> None:
    import torch

    from core.engine import cpu_bf16_is_native
    from core.metrics import psnr
    from core.weights import load_weights

    model, _ = load_weights(args.weights, "cpu")
    crops, gains = [], []
    for photo in largest_photos(args.images, 4):
        rgb = cv2.imread(str(photo), cv2.IMREAD_COLOR)[:, :, ::-1].astype(np.float32) / np.float32(255)
        with torch.inference_mode():
            gain = model.exposure_gain(torch.from_numpy(np.ascontiguousarray(rgb)).permute(2, 0, 1)[None])
        h, w = rgb.shape[:2]
        for y, x in ((h // 2 - TILE // 2, w // 2 - TILE // 2), (h // 4, w // 4)):
            crops.append(np.ascontiguousarray(rgb[y:y + TILE, x:x + TILE]))
            gains.append(gain.numpy().astype(np.float32))
    np.save(work / "crops.npy", np.stack(crops))
    np.save(work / "gains.npy", np.concatenate(gains))
    backends = args.backends.split(",")
    print(f"\n[tile] one {TILE}x{TILE} tile, min of 3 x {args.rounds} interleaved rounds, one process per backend "
          f"(oneDNN native bf16: {cpu_bf16_is_native()}); PSNR vs eager fp32 on {len(crops)} real crops "
          f"(goal >= {MIN_PSNR_DB:.0f} dB)")
    best: dict[str, dict] = {}
    for _ in range(args.rounds):
        for name in backends:
            spec = {"child": "tile", "backend": name, "weights": str(args.weights), "threads": args.threads,
                    "crops": str(work / "crops.npy"), "gains": str(work / "gains.npy"),
                    "out": str(work / f"out-{name}.npy"), "pause_pid": pauser.pid}
            start = time.monotonic()
            result = run_child(spec)
            if pauser.pid is not None and "seconds" in result:
                pauser.total += result["seconds"] * 3  # the child's own pause (approximately)
            result["wall"] = time.monotonic() - start
            kept = best.setdefault(name, {"first_prepare_s": result.get("prepare_s")})
            for key in ("seconds", "cpu_s"):
                if key in result and result[key] < kept.get(key, 1e9):
                    kept[key] = result[key]
            kept.update({k: v for k, v in result.items() if k not in ("seconds", "cpu_s")})
    reference = np.load(work / "out-eager.npy") if (work / "out-eager.npy").exists() else None
    base = best.get("eager", {}).get("seconds")
    for name in backends:
        result = best[name]
        if "error" in result:
            print(f"  {name:17s} failed: {result['error'].strip().splitlines()[-1]}")
            continue
        if result.get("skipped"):
            print(f"  {name:17s} not available here")
            continue
        quality = ""
        if reference is not None and name != "eager":
            out = np.load(work / f"out-{name}.npy")
            worst = min(psnr(np.clip(o, 0, 1), np.clip(r, 0, 1)) for o, r in zip(out, reference))
            quality = f", worst PSNR vs fp32 {worst:.1f} dB{'' if worst >= MIN_PSNR_DB else ' (BELOW the bar)'}"
        speed = f" ({base / result['seconds']:.2f}x eager)" if base else ""
        base_cpu = best.get("eager", {}).get("cpu_s")
        cpu = f" ({base_cpu / result['cpu_s']:.2f}x)" if base_cpu else ""
        print(f"  {name:17s} {result['seconds']:.3f} s{speed}, CPU time {result['cpu_s']:.3f} s{cpu}; "
              f"first start {result['first_prepare_s']:.1f} s{quality}")


def section_pipeline(args: argparse.Namespace, work: Path, pauser: Pauser, variants: list[Variant]) -> None:
    photo = largest_photos(args.images, 1)[0]
    jpeg = make_jpeg(photo, SIZES_MP[12], work)
    print(f"\n[pipeline] 12 MP JPEG ({jpeg.name}) through core.batch.run_batch in a fresh process "
          f"(read + enhance + write; model loading excluded)")
    for mode in args.modes.split(","):
        for v in variants:
            with pauser():
                result = run_child({"child": "pipeline", "input": str(jpeg), "mode": mode,
                                    "weights": str(args.weights), "threads": args.threads,
                                    "compiled": v.compiled, "tile_workers": v.tile_workers}, v.tree)
            _print_run(f"{mode:4s} {v.label:20s}", result)


def section_memory(args: argparse.Namespace, work: Path, pauser: Pauser, variants: list[Variant]) -> None:
    photo = largest_photos(args.images, 1)[0]
    sizes = [int(s) for s in args.sizes.split(",")]
    print("\n[memory] full mode, peak RSS of a fresh process running core.batch.run_batch on a JPEG "
          f"(a real photo resized; {args.memory_threads} torch thread(s), times not comparable; "
          "goal: 50 MP <= 2.0 GiB and <= 1.3x the 12 MP figure)")
    peaks: dict[str, dict[int, float]] = {v.label: {} for v in variants}
    for size in sizes:
        jpeg = make_jpeg(photo, SIZES_MP[size], work)
        for v in variants:
            result = run_child({"child": "pipeline", "input": str(jpeg), "mode": "full",
                                "weights": str(args.weights), "threads": args.memory_threads,
                                "compiled": v.compiled, "tile_workers": v.tile_workers}, v.tree)
            _print_run(f"{size:2d} MP {v.label:20s}", result)
            if "peak_gib" in result:
                peaks[v.label][size] = result["peak_gib"]
    for label, by_size in peaks.items():
        if 12 in by_size and len(by_size) > 1:
            ratios = ", ".join(f"{s} MP {by_size[s] / by_size[12]:.2f}x" for s in sorted(by_size) if s != 12)
            print(f"  {label}: relative to 12 MP: {ratios}")


def _print_run(label: str, result: dict) -> None:
    if "error" in result:
        print(f"  {label}: failed: {result['error'].strip().splitlines()[-1]}")
        return
    print(f"  {label}: {result['seconds']:6.1f} s (CPU {result.get('cpu_s', float('nan')):6.1f} s), "
          f"peak RSS {result['peak_gib']:.2f} GiB "
          f"(after loading the model {result['loaded_gib']:.2f} GiB)")


def section_seam(args: argparse.Namespace) -> None:
    import copy

    import torch

    from core.engine import EngineConfig, Enhancer
    from core.metrics import psnr
    from core.weights import load_weights

    model, _ = load_weights(args.weights, "cpu")
    photo = largest_photos(args.images, 1)[0]
    bgr = cv2.resize(cv2.imread(str(photo), cv2.IMREAD_COLOR), (1024, 1024), interpolation=cv2.INTER_AREA)
    image = np.ascontiguousarray(bgr[:, :, ::-1]).astype(np.float32) / np.float32(255)
    print(f"\n[seam] tiled vs whole-image output, 1024x1024 from {photo.name} (goal >= 40 dB)")
    # The network's own contribution (output minus its input path, i.e. the tail-zeroed model):
    # errors are also given relative to it, since a weak residual makes any seam test easy.
    base_model = copy.deepcopy(model)
    with torch.no_grad():
        base_model.tail.weight.zero_()
        base_model.tail.bias.zero_()
    base = Enhancer(model=base_model, device="cpu", config=EngineConfig(tile=1024)).enhance(image)
    whole = Enhancer(model=model, device="cpu", config=EngineConfig(tile=1024)).enhance(image)
    residual = float(np.mean((whole.astype(np.float64) - base) ** 2))
    for tile in (256, TILE):
        tiled = Enhancer(model=model, device="cpu", config=EngineConfig(tile=tile)).enhance(image)
        err = float(np.mean((tiled.astype(np.float64) - whole) ** 2))
        rel = 10 * np.log10(residual / err) if err > 0 else float("inf")
        print(f"  tile {tile:4d}, overlap 32: {psnr(tiled, whole):6.2f} dB (error {rel:5.1f} dB below the "
              f"network's residual, RMS {residual ** 0.5:.4f})")


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    logging.basicConfig(level=logging.WARNING)
    if args.child:
        spec = json.loads(args.child)
        result = {"pipeline": child_pipeline, "tile": child_tile}[spec["child"]](spec)
        print(json.dumps(result))
        return
    sys.path.insert(0, str(ROOT))
    import torch

    if args.threads:
        torch.set_num_threads(args.threads)
    sections = set(args.only.split(","))
    pauser = Pauser(args.pause_pid_file)
    work = Path(tempfile.mkdtemp(prefix="bench_engine_"))
    print(f"CPU: {describe_cpu()}; torch {torch.__version__} ({torch.get_num_threads()} threads, "
          f"capability {torch.backends.cpu.get_cpu_capability()}); weights {args.weights}")
    variants: list[Variant] = []
    if args.baseline:
        variants.append(Variant("before", baseline_tree(args.baseline, work)))
        print(f"before: {args.baseline} ({variants[0].tree}); after: the working tree")
    for c in args.compiled:
        for w in args.tile_workers:
            label = "/".join(["after"] + ([c] if len(args.compiled) > 1 else [])
                             + ([f"{w or 'default'} at once"] if len(args.tile_workers) > 1 else []))
            variants.append(Variant(label, None, c, w))
    try:
        if "tile" in sections:
            section_tile(args, work, pauser)
        if "pipeline" in sections:
            section_pipeline(args, work, pauser, variants)
        if "memory" in sections:
            section_memory(args, work, pauser, variants)
        if "seam" in sections:
            section_seam(args)
    finally:
        if pauser.pid is not None:
            print(f"\n(background processes {pauser.pids} were paused for about {pauser.total:.0f} s in all)")


if __name__ == "__main__":
    main()
