"""The ``lowlight`` command line: enhance, compile, eval, info, convert and bench (``python -m core.cli``).

Layers above core add their own subcommands through :class:`Command` (the ``lowlight`` package adds
the trainer's ``train``), so core never imports them.

Exit codes: 0 success; 1 some files failed (each named on stderr); 2 usage problems (bad
arguments, no input images, output folder is a file, not writable or full, weights missing or
unusable); 130 interrupted (Ctrl-C), 143 terminated (SIGTERM, handled the same way: what was
finished is kept, temporary files are removed). Errors are reported as one clear line, never
as a traceback.
"""

from __future__ import annotations

import argparse
import json
import logging
import math
import signal
import sys
import threading
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import numpy as np

from .atomic import write_bytes_atomically
from .batch import (
    COMPILED_CHOICES,
    DEFAULT_SUFFIX,
    OUTPUT_FORMATS,
    BatchOptions,
    BatchProgress,
    EnginePrepared,
    collect_inputs,
    prepare_engine_steps,
    prepare_output_folder,
    run_batch,
)
from .errors import CoreError, ImageWriteError, WeightsError
from .exposure import EV_RANGE, best_exposure, check_exposure
from .progress import format_duration

log = logging.getLogger(__name__)

PROG = "lowlight"
EXIT_OK, EXIT_FAILED, EXIT_USAGE, EXIT_INTERRUPTED, EXIT_TERMINATED = 0, 1, 2, 130, 143
EVAL_METHODS = ("input", "autocontrast", "gamma 0.4", "model")
REPORT_ROWS = 4
REPORT_TILE_WIDTH = 256


@dataclass(frozen=True)
class Command:
    """A subcommand added by a layer above core: it parses its own arguments and returns the exit code."""

    help: str
    run: Callable[[list[str]], int]
    #: Said after "interrupted; " on Ctrl-C or SIGTERM.
    interrupted: str = "finished files are kept, nothing partial was written"


class UsageError(Exception):
    """A problem with how the command was called; reported with exit code 2."""


class Terminated(KeyboardInterrupt):
    """SIGTERM, raised in the main thread so that it unwinds like Ctrl-C (temporary files removed)."""


def _on_sigterm(signum: int, frame: Any) -> None:
    raise Terminated()


def _interrupt_exit(exc: KeyboardInterrupt) -> tuple[str, int]:
    return ("terminated", EXIT_TERMINATED) if isinstance(exc, Terminated) else ("interrupted", EXIT_INTERRUPTED)


def _err(message: str) -> None:
    print(f"{PROG}: {message}", file=sys.stderr, flush=True)


# ------------------------------------------------------------------------------------- weights


def _bundled_weights_path() -> Path:
    from .engine import default_weights_path  # torch is imported only when a model is needed

    return default_weights_path()


def _resolve_weights(option: str | None) -> Path:
    """The weights file to use, or a :class:`UsageError` with advice when there is none."""
    if option is not None:
        from .files import file_problem

        path = Path(option)
        problem = file_problem(path)
        if problem == "file not found":
            raise UsageError(f"weights file not found: {path}")
        if problem is not None:
            raise UsageError(f"weights file {path}: {problem}")
        return path
    path = _bundled_weights_path()
    if not path.is_file():
        raise UsageError(f"no bundled weights found at {path}; pass --weights FILE or train with "
                         f"'{PROG} train'")
    return path


def _make_enhancer(weights_option: str | None, device: str, **config: Any) -> Any:
    path = _resolve_weights(weights_option)
    from .engine import EngineConfig, Enhancer  # torch is imported only when a model is needed

    try:
        return Enhancer(path, device=device, config=EngineConfig(**config))
    except CoreError:
        raise
    except (ValueError, RuntimeError) as exc:  # e.g. --device cuda without a GPU
        raise UsageError(f"cannot start the model on device '{device}': {exc}") from None


# ------------------------------------------------------------------------------------- progress


class _ProgressBar:
    """A plain-text bar on stderr: redrawn with ``\\r`` on a terminal, one line per file otherwise."""

    WIDTH = 28

    def __init__(self, enabled: bool = True) -> None:
        self.enabled = enabled
        self.interactive = sys.stderr.isatty()
        self._drawn = False

    def update(self, step: BatchProgress) -> None:
        if not self.enabled:
            return
        if self.interactive:
            filled = int(round(step.fraction * self.WIDTH))
            bar = "#" * filled + "." * (self.WIDTH - filled)
            finished = step.index + (step.stage not in ("start", "progress"))
            line = (f"\r[{bar}] {finished}/{step.total} {step.fraction:4.0%}  {step.path.name[:40]}  "
                    f"ETA {format_duration(step.eta_s)} ")
            print(line, end="", file=sys.stderr, flush=True)
            self._drawn = True
        elif step.stage in ("done", "skipped"):
            note = "skipped, output exists" if step.stage == "skipped" else f"-> {step.output}"
            print(f"[{step.index + 1}/{step.total}] {step.path.name} {note}", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self._drawn:
            print(file=sys.stderr, flush=True)
            self._drawn = False


class _BuildLine:
    """The one line that says a compiled package is being built (stderr), with the time so far
    redrawn on a terminal."""

    def __init__(self, live: bool = True) -> None:
        self.live = live and sys.stderr.isatty()
        self._head = ""

    def update(self, step: Any) -> None:
        if not self._head:
            self._head = (f"preparing a faster engine for this CPU, once: ~{format_duration(step.estimate_s)} "
                          f"({step.reason})")
            print(self._head, end="" if self.live else "\n", file=sys.stderr, flush=True)
        elif self.live:
            print(f"\r{self._head}  [{format_duration(step.elapsed_s)}] ", end="", file=sys.stderr, flush=True)

    def close(self) -> None:
        if self._head and self.live:
            print(file=sys.stderr, flush=True)
        self._head = ""


def _prepare_engine(enhancer: Any, inputs: list[Path], mode: str, choice: str, quiet: bool) -> EnginePrepared:
    """Build the compiled package first when the policy (or ``--compiled on``) says so."""
    from .steps import run_to_end

    line = _BuildLine(live=not quiet)
    try:
        prepared = run_to_end(prepare_engine_steps(enhancer, inputs, mode, choice), line.update)
    finally:
        line.close()
    if prepared.warning:
        _err(f"warning: {prepared.warning}")
    elif prepared.built:
        print("the faster engine is ready (kept in the cache for later runs)", file=sys.stderr, flush=True)
    elif choice == "on" and not prepared.cached and prepared.decision is not None and not prepared.decision.possible:
        _err(f"note: no faster engine: {prepared.decision.reason}")
    return prepared


# ------------------------------------------------------------------------------------- enhance


def _bounded(kind: type, low: float, high: float):
    """An argparse ``type`` that parses ``kind`` and checks ``low <= value <= high``."""
    noun = "an integer" if kind is int else "a number"

    def parse(text: str):
        try:
            value = kind(text)
        except ValueError:
            raise argparse.ArgumentTypeError(f"not {noun}: {text!r}") from None
        if not low <= value <= high:
            raise argparse.ArgumentTypeError(f"must be between {low:g} and {high:g}, got {value}")
        return value

    return parse


_strength = _bounded(float, 0.0, 1.0)
_quality = _bounded(int, 1, 100)


def _exposure(text: str) -> float:
    """argparse ``type`` for ``--exposure``: a number of stops within core.exposure.EV_RANGE."""
    try:
        return check_exposure(text)
    except ValueError as exc:
        raise argparse.ArgumentTypeError(str(exc)) from None


def _run_enhance(args: argparse.Namespace) -> int:
    out_dir = Path(args.out_dir)
    if out_dir.exists() and not out_dir.is_dir():
        raise UsageError(f"output folder is a file: {out_dir}")
    inputs = collect_inputs(args.paths, recursive=args.recursive, exclude=[out_dir])
    if not inputs:
        raise UsageError(f"no images found in {', '.join(args.paths)} (looked for JPEG, PNG, TIFF, WebP, BMP, GIF, "
                         f"HEIC/HEIF, AVIF and camera RAW files"
                         f"{'' if args.recursive else '; add --recursive for subfolders'})")
    options = BatchOptions(mode=args.mode, strength=args.strength, exposure=args.exposure, fmt=args.format,
                           suffix=args.suffix,
                           quality=args.quality, skip_existing=args.skip_existing, overwrite=args.overwrite,
                           keep_metadata=not args.strip_metadata)
    try:  # before minutes of work: a read-only, full or impossible output folder is a usage error
        prepare_output_folder(out_dir, inputs)
    except ImageWriteError as exc:
        raise UsageError(f"output folder {out_dir}: {exc.reason}") from None
    enhancer = _make_enhancer(args.weights, args.device, compiled="off" if args.compiled == "off" else "cached")
    bar = _ProgressBar(enabled=not args.quiet)
    finished: list[Path] = []

    def on_progress(step: BatchProgress) -> None:
        bar.update(step)
        if step.stage == "done" and step.output is not None:
            finished.append(step.output)

    try:
        _prepare_engine(enhancer, inputs, options.mode, args.compiled, args.quiet)
        report = run_batch(enhancer, inputs, out_dir, options, on_progress=on_progress, on_file_progress=bar.update)
    except KeyboardInterrupt as exc:
        bar.close()
        what, code = _interrupt_exit(exc)
        _err(f"{what}: {len(finished)} of {len(inputs)} image(s) finished in {out_dir}; the one in progress "
             "was not written (no partial file is left)")
        return code
    except ImageWriteError as exc:
        raise UsageError(f"output folder {out_dir}: {exc.reason}") from None
    finally:
        bar.close()
    for path, note in report.notes:
        _err(f"note: {path.name}: {note}")
    for path, reason in report.failed:
        _err(f"FAILED {path}: {reason}")
    summary = f"enhanced {len(report.succeeded)} of {len(inputs)} image(s) into {out_dir}"
    if report.skipped:
        summary += f", {len(report.skipped)} skipped (output exists)"
    if report.failed:
        summary += f", {len(report.failed)} failed"
    print(f"{summary} in {format_duration(report.elapsed_s)}", file=sys.stderr)
    if report.cancelled:
        return EXIT_INTERRUPTED
    return EXIT_FAILED if report.failed else EXIT_OK


# ------------------------------------------------------------------------------------- compile


def _run_compile(args: argparse.Namespace) -> int:
    from .compiled import (
        BuildError,
        BuildHost,
        build_steps,
        compiled_available,
        cpu_bf16_is_native,
        policy_for,
    )
    from .steps import run_to_end

    enhancer = _make_enhancer(args.weights, "cpu", tile=args.tile)
    request = enhancer.compiled_build_request()
    if request is None:
        raise UsageError("these weights cannot be compiled (only networks with exposure normalisation are)")
    if request.path.is_file():
        print(f"already built: {request.path}")
        return EXIT_OK
    if not compiled_available():
        _err("error: building needs AOTInductor (PyTorch >= 2.6) and a C++ compiler (g++ or clang++) on PATH")
        return EXIT_FAILED
    if not cpu_bf16_is_native():
        _err("note: this CPU has no native bf16, so the package runs fp32 tiles, which measured no faster "
             "than the standard engine")
    line = _BuildLine()
    try:
        path = run_to_end(build_steps(request, estimate_s=policy_for(BuildHost.detect()).build_seconds,
                                      reason=f"{request.shape[0]} px tiles, {request.threads} thread(s)"), line.update)
    except BuildError as exc:
        _err(f"error: {exc}")
        return EXIT_FAILED
    finally:
        line.close()
    print(f"{path} ({'bf16' if request.bf16 else 'fp32'}, {request.shape[0]} x {request.shape[1]} tiles, "
          f"{request.threads} thread(s))")
    return EXIT_OK


# ------------------------------------------------------------------------------------- eval


def _pairs(data_dir: Path) -> list[tuple[Path, Path]]:
    low_dir, high_dir = data_dir / "low", data_dir / "high"
    if not low_dir.is_dir() or not high_dir.is_dir():
        raise UsageError(f"{data_dir} must hold low/ and high/ folders with matching file names")
    highs = {p.stem: p for p in collect_inputs([high_dir])}
    pairs = []
    for low in collect_inputs([low_dir]):
        if low.stem in highs:
            pairs.append((low, highs[low.stem]))
        else:
            log.warning("no reference for %s in %s", low.name, high_dir)
    if not pairs:
        raise UsageError(f"no matching image names in {low_dir} and {high_dir}")
    return pairs


def _finite(value: float) -> float | None:
    return round(value, 6) if math.isfinite(value) else None


def _report_tile(image: np.ndarray, width: int) -> np.ndarray:
    import cv2

    height = max(1, int(round(image.shape[0] * width / image.shape[1])))
    return cv2.resize(image, (width, height), interpolation=cv2.INTER_AREA)


def _write_report(path: Path, rows: list[list[np.ndarray]], titles: Sequence[str]) -> None:
    import cv2

    from .io import write_image

    width = REPORT_TILE_WIDTH
    header = np.full((24, width * len(titles), 3), 40, np.uint8)  # OpenCV draws text on 8-bit only
    for i, title in enumerate(titles):
        cv2.putText(header, title, (i * width + 8, 17), cv2.FONT_HERSHEY_SIMPLEX, 0.5, (255, 255, 255), 1,
                    cv2.LINE_AA)
    bands = [header.astype(np.float32) / 255.0]
    for row in rows:
        tiles = [_report_tile(img, width) for img in row]
        height = min(t.shape[0] for t in tiles)
        bands.append(np.concatenate([t[:height] for t in tiles], axis=1))
    write_image(path, np.clip(np.concatenate(bands, axis=0), 0, 1), overwrite=True)


def _run_eval(args: argparse.Namespace) -> int:
    from .baselines import autocontrast, gamma
    from .evaluation import ALL_METRICS, score
    from .io import read_image
    from .metrics import saturation

    pairs = _pairs(Path(args.data))
    enhancer = _make_enhancer(args.weights, args.device)

    def enhance_at(img: np.ndarray, ev: float) -> np.ndarray:
        return enhancer.enhance(img, mode=args.mode, exposure=ev)

    methods: dict[str, Any] = {
        "input": lambda img: img,
        "autocontrast": autocontrast,
        "gamma 0.4": lambda img: gamma(img, 0.4),
        "model": lambda img: enhance_at(img, args.exposure),
    }
    names = list(methods) + (["model best EV"] if args.best_ev else [])
    per_image: list[dict[str, Any]] = []
    failed: list[tuple[Path, str]] = []
    report_rows: list[list[np.ndarray]] = []
    interactive = sys.stderr.isatty()
    for n, (low_path, high_path) in enumerate(pairs, 1):
        print(f"\r[{n}/{len(pairs)}] {low_path.name}", end="" if interactive else "\n", file=sys.stderr, flush=True)
        try:
            low, high = read_image(low_path).pixels, read_image(high_path).pixels
            if low.shape != high.shape:
                raise ValueError(f"size {low.shape[1]}x{low.shape[0]} differs from the reference "
                                 f"{high.shape[1]}x{high.shape[0]}")
            outputs = {name: fn(low) for name, fn in methods.items()}
            best_ev = None
            if args.best_ev:
                auto = outputs["model"] if args.exposure == 0 else None
                best_ev, outputs["model best EV"] = best_exposure(lambda ev, low=low: enhance_at(low, ev), high, auto)
        except (CoreError, ValueError) as exc:
            failed.append((low_path, getattr(exc, "reason", None) or str(exc)))
            continue
        entry: dict[str, Any] = {"name": low_path.stem, "reference_saturation": saturation(high)}
        if best_ev is not None:
            entry["best_ev"] = best_ev
        for name, out in outputs.items():
            entry[name] = score(out, high, ALL_METRICS)
        per_image.append(entry)
        if len(report_rows) < REPORT_ROWS:
            report_rows.append([low, outputs["autocontrast"], outputs["model"], high])
    if interactive:
        print(file=sys.stderr)
    for path, reason in failed:
        _err(f"FAILED {path}: {reason}")
    if not per_image:
        return EXIT_FAILED

    means = {name: {metric: float(np.mean([e[name][metric] for e in per_image])) for metric in ALL_METRICS}
             for name in names}
    ref_sat = float(np.mean([e["reference_saturation"] for e in per_image]))
    for m in means.values():
        m["sat_ratio"] = m.pop("saturation") / max(ref_sat, 1e-9)
    ev_note = f", exposure {args.exposure:+g} EV" if args.exposure else ""
    print(f"{'method':<15}{'PSNR (dB)':>10}{'SSIM':>8}{'GT-mean':>9}{'sat':>7}    "
          f"({len(per_image)} image(s), {args.mode} mode{ev_note})")
    for name in names:
        m = means[name]
        print(f"{name:<15}{m['psnr']:>10.2f}{m['ssim']:>8.3f}{m['gt_mean_psnr']:>9.2f}{m['sat_ratio']:>7.3f}")
    if args.best_ev:
        evs = [e["best_ev"] for e in per_image]
        print(f"best EV per image: mean {np.mean(evs):+.2f}, mean |EV| {np.mean(np.abs(evs)):.2f}")

    if args.json:
        payload = {
            "data": str(args.data), "weights": str(enhancer.info.path), "mode": args.mode, "data_range": 1.0,
            "exposure": args.exposure, "count": len(per_image),
            "mean": {name: {k: _finite(v) for k, v in m.items()} for name, m in means.items()},
            "images": [{"name": e["name"], **({"best_ev": e["best_ev"]} if "best_ev" in e else {}),
                        **{name: {k: _finite(v) for k, v in e[name].items()} for name in names}}
                       for e in per_image],
            "failed": [{"path": str(p), "reason": r} for p, r in failed],
        }
        write_bytes_atomically(Path(args.json), json.dumps(payload, indent=2).encode("utf-8"))
    if args.report:
        _write_report(Path(args.report), report_rows, ("input", "autocontrast", "model", "reference"))
    return EXIT_FAILED if failed else EXIT_OK


# ------------------------------------------------------------------------------------- info, bench


def _run_info(args: argparse.Namespace) -> int:
    from .weights import read_weights_info

    info = read_weights_info(args.file)  # checks the header; never builds the model
    data = info.as_dict()
    if args.json:
        print(json.dumps(data, indent=2, default=str))
        return EXIT_OK
    for key, value in data.items():
        if key == "architecture":
            value = ", ".join(f"{k}={v}" for k, v in value.items())
        elif key == "parameters":
            value = f"{value:,}"
        print(f"{key + ':':<15}{value}")
    return EXIT_OK


def _run_convert(args: argparse.Namespace) -> int:
    from .weights import convert_to_safetensors

    written = convert_to_safetensors(args.source, args.target)
    print(f"wrote {written}")
    return EXIT_OK


def _run_bench(args: argparse.Namespace) -> int:
    import torch

    from .config import get_preset
    from .model import MIRNet, count_parameters, estimate_gflops

    size = args.size
    header = f"{'preset':<10}{'params':>12}{f'GFLOP@{size}':>14}"
    print(header + (f"{f'CPU fp32 ms@{size}':>18}" if args.time else ""))
    for name in args.presets:
        try:
            config = get_preset(name)
        except ValueError as exc:
            raise UsageError(str(exc)) from None
        model = MIRNet(config).eval()
        line = f"{name:<10}{count_parameters(model):>12,}{estimate_gflops(model, size, size):>14.2f}"
        if args.time:
            x = torch.rand(1, 3, size, size)
            timings = []
            with torch.inference_mode():
                model(x)  # warm-up
                for _ in range(args.repeat):
                    start = time.perf_counter()
                    model(x)
                    timings.append(time.perf_counter() - start)
            line += f"{min(timings) * 1000:>18.0f}"  # best of N: least disturbed by other processes
        print(line, flush=True)
    return EXIT_OK


# ------------------------------------------------------------------------------------- parser


def build_parser(extra: Mapping[str, Command] | None = None) -> argparse.ArgumentParser:
    """The ``lowlight`` argument parser; ``extra`` commands are listed (their options are their own)."""
    from .config import PRESETS

    parser = argparse.ArgumentParser(prog=PROG, description="Enhance low-light photos with MIRNet.")
    parser.add_argument("-v", "--verbose", action="store_true", help="log details to stderr")
    commands = parser.add_subparsers(dest="command", metavar="COMMAND", required=True)

    enhance = commands.add_parser(
        "enhance", help="enhance image files or folders",
        description="Enhance images into OUT_DIR as <stem><suffix>.<ext>. Inputs are never modified and "
                    "existing outputs are kept (a free name like 'photo_enhanced (1).jpg' is used) unless "
                    "--overwrite or --skip-existing. Exit code 0: all done, 1: some failed, 2: usage error.")
    enhance.add_argument("paths", nargs="+", metavar="PATH", help="image files and/or folders")
    enhance.add_argument("-o", "--out-dir", required=True, metavar="OUT_DIR", help="output folder (created)")
    enhance.add_argument("--weights", metavar="FILE", help="weights .safetensors (default: bundled lite model)")
    enhance.add_argument("--mode", choices=["fast", "full"], default="full",
                         help="full: best quality; fast: quicker preview quality (default: full)")
    enhance.add_argument("--strength", type=_strength, default=1.0, metavar="S",
                         help="0..1, blend of original (0) and enhanced (1) (default: 1)")
    enhance.add_argument("--exposure", type=_exposure, default=0.0, metavar="EV",
                         help=f"stops from the automatic exposure, {EV_RANGE[0]:+g}..{EV_RANGE[1]:+g} "
                              "(+1 is about twice the mid-tone light; default: 0 = auto)")
    enhance.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    enhance.add_argument("--format", choices=OUTPUT_FORMATS, default="same",
                         help="output format; 'same' keeps the input's (camera RAW becomes 16-bit TIFF, BMP and GIF "
                              "become PNG) (default: same)")
    enhance.add_argument("--recursive", action="store_true", help="also look into subfolders")
    enhance.add_argument("--suffix", default=DEFAULT_SUFFIX, metavar="TEXT",
                         help=f"added to each output file name stem (default: '{DEFAULT_SUFFIX}'; "
                              "write --suffix=-x for a value that starts with '-')")
    enhance.add_argument("--quality", type=_quality, default=95, help="JPEG/WebP/HEIC quality 1..100 (default: 95)")
    existing = enhance.add_mutually_exclusive_group()
    existing.add_argument("--skip-existing", action="store_true", help="skip inputs whose output exists")
    existing.add_argument("--overwrite", action="store_true", help="replace existing outputs")
    enhance.add_argument("--strip-metadata", action="store_true", help="do not copy EXIF and ICC profile")
    enhance.add_argument("--compiled", choices=COMPILED_CHOICES, default="auto",
                         help="full mode on the CPU: 'auto' first builds a faster compiled engine (minutes, once; "
                              "cached) when the batch is big enough to repay it and the CPU has native bf16; 'on' "
                              "builds it whenever it can; 'off' never builds nor uses one (default: auto)")
    enhance.add_argument("-q", "--quiet", action="store_true", help="no progress bar")
    enhance.set_defaults(handler=_run_enhance)

    compile_ = commands.add_parser(
        "compile", help="build the faster compiled engine for full-mode CPU tiles (minutes, once)",
        description="Build the ahead-of-time compiled package (PyTorch AOTInductor; needs a C++ compiler) that "
                    "full mode uses for CPU tiles, for these weights, this CPU, this PyTorch and this thread "
                    "count, and keep it in the user cache ($LOWLIGHT_CACHE_DIR overrides it). It runs bf16 "
                    "tiles where the CPU has native bf16.")
    compile_.add_argument("--weights", metavar="FILE", help="weights .safetensors (default: bundled lite model)")
    compile_.add_argument("--tile", type=_bounded(int, 64, 4096), metavar="N",
                          help="tile side (default: the engine's CPU tile, which is what enhance uses)")
    compile_.set_defaults(handler=_run_compile)

    evaluate = commands.add_parser(
        "eval", help="PSNR/SSIM of the model and classical baselines on paired data",
        description="Mean PSNR/SSIM (full images, data range 1.0) of the input, autocontrast, gamma 0.4 and "
                    "the model against the references. DIR holds low/ and high/ with matching names.")
    evaluate.add_argument("--data", required=True, metavar="DIR", help="folder with low/ and high/")
    evaluate.add_argument("--weights", metavar="FILE", help="weights .safetensors (default: bundled lite model)")
    evaluate.add_argument("--mode", choices=["full", "fast"], default="full")
    evaluate.add_argument("--exposure", type=_exposure, default=0.0, metavar="EV",
                          help=f"stops from the automatic exposure, {EV_RANGE[0]:+g}..{EV_RANGE[1]:+g} (default: 0)")
    evaluate.add_argument("--best-ev", action="store_true",
                          help="also score the model at the best exposure for each image (secant search on the "
                               "mean brightness within -2..+2 stops): what a perfect automatic exposure would reach")
    evaluate.add_argument("--device", choices=["auto", "cpu", "cuda"], default="auto")
    evaluate.add_argument("--json", metavar="FILE", help="write mean and per-image numbers as JSON")
    evaluate.add_argument("--report", metavar="PNG",
                          help=f"write a side-by-side image (input | autocontrast | model | reference) of the "
                               f"first {REPORT_ROWS} images")
    evaluate.set_defaults(handler=_run_eval)

    info = commands.add_parser("info", help="show a weights file's metadata")
    info.add_argument("file", metavar="FILE")
    info.add_argument("--json", action="store_true", help="print JSON")
    info.set_defaults(handler=_run_info)

    convert = commands.add_parser(
        "convert", help="turn a plain PyTorch state dict (.pt/.pth) into a .safetensors weights file",
        description="Read SOURCE (a .pt/.pth holding only tensors: it is opened with torch.load(weights_only=True), "
                    "so no code in it runs), check it is a MIRNet, and write TARGET.safetensors with the "
                    "architecture in its metadata. TARGET is never overwritten.")
    convert.add_argument("source", metavar="SOURCE")
    convert.add_argument("target", metavar="TARGET")
    convert.set_defaults(handler=_run_convert)

    bench = commands.add_parser("bench", help="parameters and GFLOP of the model presets")
    bench.add_argument("--presets", nargs="+", default=list(PRESETS), metavar="NAME",
                       help=f"presets to measure (default: {' '.join(PRESETS)})")
    bench.add_argument("--size", type=int, default=256, help="square input side in pixels (default: 256)")
    bench.add_argument("--time", action="store_true",
                       help="also time fp32 forward passes on the CPU (after a warm-up; best of --repeat)")
    bench.add_argument("--repeat", type=int, default=3, help="timed passes per preset (default: 3)")
    bench.set_defaults(handler=_run_bench)

    for name, command in (extra or {}).items():
        commands.add_parser(name, help=command.help, add_help=False).set_defaults(handler=None)
    return parser


def main(argv: Sequence[str] | None = None, commands: Mapping[str, Command] | None = None) -> int:
    """Run the ``lowlight`` command with core's subcommands and ``commands``; returns the exit code."""
    commands = dict(commands or {})
    args_list = list(sys.argv[1:] if argv is None else argv)
    verbose = any(a in ("-v", "--verbose") for a in args_list[:1])
    logging.basicConfig(level=logging.INFO if verbose else logging.WARNING, format="%(levelname)s: %(message)s")
    in_main_thread = threading.current_thread() is threading.main_thread()
    previous = signal.signal(signal.SIGTERM, _on_sigterm) if in_main_thread else None
    try:
        return _dispatch(args_list, commands)
    except KeyboardInterrupt as exc:
        what, code = _interrupt_exit(exc)
        name = _command_name(args_list)
        _err(f"{what}; {commands[name].interrupted if name in commands else Command.interrupted}")
        return code
    finally:
        if in_main_thread:
            signal.signal(signal.SIGTERM, previous if previous is not None else signal.SIG_DFL)


def _command_name(args_list: list[str]) -> str | None:
    return next((a for a in args_list if not a.startswith("-")), None)


def _dispatch(args_list: list[str], commands: Mapping[str, Command]) -> int:
    name = _command_name(args_list)
    if name in commands:
        return int(commands[name].run(args_list[args_list.index(name) + 1:]))

    parser = build_parser(commands)
    try:
        args = parser.parse_args(args_list)
    except SystemExit as exc:  # argparse: 0 for --help, 2 for usage errors
        return int(exc.code or 0)
    try:
        return int(args.handler(args))
    except UsageError as exc:
        _err(f"error: {exc}")
        return EXIT_USAGE
    except WeightsError as exc:
        _err(f"error: {exc}")
        return EXIT_USAGE
    except CoreError as exc:
        _err(f"error: {exc}")
        return EXIT_FAILED


if __name__ == "__main__":
    sys.exit(main())
