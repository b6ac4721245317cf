"""An ahead-of-time compiled copy of the network for full-size tiles, cached on disk.

PyTorch's AOTInductor turns the model, traced with :func:`torch.export.export` at one tile
shape, into a shared library of fused kernels (``.pt2`` package). Building it takes minutes and
needs a C++ compiler; loading a built package takes a fraction of a second and needs neither,
so packages are kept in a cache folder, keyed by everything that shapes the kernels (weights,
architecture, context window, tile shape, precision, PyTorch version, CPU capability).

The engine uses a package only in full mode, for tiles of exactly its shape, and only when the
package already exists (or :meth:`CompiledModel.load_or_build` was asked to build it); eager
PyTorch stays the fallback for everything else (see :class:`core.engine.EngineConfig`).

When to build one is decided in one place, :func:`should_build` (thresholds in
:class:`BuildPolicy`): only for full mode, on a CPU with native bf16, with a C++ compiler, and
for a job big enough to repay the build. :func:`build_steps` builds in a child process
(``python -m core.compiled``), so the build can be cancelled at any moment (the child is
killed; the package is published atomically, so nothing partial is left) and keeps the
caller's interpreter free; :func:`core.batch.prepare_engine_steps` puts it before a batch.
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import os
import shutil
import signal
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable, Generator, Iterable
from dataclasses import dataclass
from pathlib import Path
from typing import Literal

import torch

from . import user_folders
from .atomic import write_atomically
from .errors import CancelledError, CoreError
from .model import MIRNet
from .progress import format_duration
from .steps import CancelFlag

log = logging.getLogger(__name__)


def cache_dir() -> Path:
    """Where compiled packages are kept: ``compiled/`` in :func:`core.user_folders.cache_dir`."""
    return user_folders.cache_dir() / "compiled"


def compiled_available() -> bool:
    """Whether this PyTorch can build AOTInductor packages here (CPU, a C++ compiler on PATH)."""
    inductor = getattr(torch, "_inductor", None)
    if inductor is None or not hasattr(torch._inductor, "aoti_compile_and_package"):
        return False
    return any(shutil.which(name) for name in ("g++", "c++", "clang++"))


def loading_available() -> bool:
    """Whether this PyTorch can load AOTInductor packages."""
    return hasattr(getattr(torch, "_inductor", None), "aoti_load_package")


def cpu_bf16_is_native() -> bool:
    """Whether oneDNN runs bf16 convolutions natively here (else they are far slower than fp32)."""
    try:
        return bool(torch.ops.mkldnn._is_mkldnn_bf16_supported())
    except (AttributeError, RuntimeError):
        return False


# ---------------------------------------------------------------------------------- when to build


@dataclass(frozen=True, kw_only=True)
class BuildPolicy:
    """When building a package pays back. The defaults are the README's ("Speed and memory"),
    measured on a 2-core AVX-512 machine with native bf16 but no AMX, bundled lite weights;
    :data:`AMX_POLICY` holds those of a CPU with AMX tiles."""

    #: Expected wall time of one build: 113-525 s were measured, depending on the machine's load.
    build_seconds: float = 300.0
    #: CPU seconds (one thread) the compiled bf16 tiles save per megapixel of a full-mode export:
    #: a 12 MP full export took 61.3 s eager and 47.8 s with the package, (61.3 - 47.8) / 12.
    saved_cpu_seconds_per_megapixel: float = 1.1
    #: Build only when the job itself saves at least this many times the build's expected time
    #: (later jobs then gain for nothing: the package stays in the cache).
    payback: float = 1.0

    def __post_init__(self) -> None:
        if self.build_seconds <= 0 or self.saved_cpu_seconds_per_megapixel <= 0 or self.payback <= 0:
            raise ValueError("build_seconds, saved_cpu_seconds_per_megapixel and payback must be positive")


@dataclass(frozen=True)
class BuildHost:
    """What of this machine decides whether a package can be built and pays back."""

    #: oneDNN reports native bf16 (``avx512_bf16`` / AMX). Without it compiled tiles stay fp32,
    #: which measured no faster than eager fp32.
    native_bf16: bool
    #: AOTInductor is there and a C++ compiler is on PATH.
    compiler: bool
    #: Threads torch runs on: the saving per megapixel (one thread's CPU time) is spread over them.
    threads: int = 1
    #: The CPU has AMX tiles (``amx_bf16``), where oneDNN's bf16 is far faster still.
    amx: bool = False

    @classmethod
    def detect(cls) -> BuildHost:
        native = cpu_bf16_is_native()
        return cls(native_bf16=native, compiler=compiled_available(),
                   threads=max(1, torch.get_num_threads()), amx=native and cpu_has_amx())


@dataclass(frozen=True)
class BuildDecision:
    """The answer of :func:`should_build`: whether to build, and why (a sentence for people)."""

    build: bool
    #: The build is possible at all (full mode, a compiler): ``--compiled on`` builds whenever it is.
    possible: bool
    reason: str
    build_seconds: float = 0.0
    #: Wall time the package is expected to save on this job.
    saving_seconds: float = 0.0


#: Measured on a 2-core Xeon with AMX (README, "Speed and memory"): builds took 50-80 s, and a
#: 12 MP full export took 75.6 s of CPU eager (two tiles at once) and 40.5 s with the package.
AMX_POLICY = BuildPolicy(build_seconds=90.0, saved_cpu_seconds_per_megapixel=(75.6 - 40.5) / 12)


def policy_for(host: BuildHost) -> BuildPolicy:
    """The measured figures that fit ``host``'s CPU."""
    return AMX_POLICY if host.amx else BuildPolicy()


def cpu_has_amx() -> bool:
    """Whether the CPU reports AMX bf16 tiles (Linux ``/proc/cpuinfo``; elsewhere False)."""
    try:
        with open("/proc/cpuinfo", encoding="ascii", errors="replace") as info:
            for line in info:
                if line.startswith("flags"):
                    return "amx_bf16" in line.split()
    except OSError:
        pass
    return False


def should_build(mode: str, photos: int, megapixels: float, host: BuildHost,
                 policy: BuildPolicy | None = None) -> BuildDecision:
    """Whether to build the compiled package before enhancing ``photos`` photos of ``megapixels``
    in all (only those whose tiles have the package's shape count) in ``mode``, with ``policy``
    (by default the figures measured on a CPU like ``host``'s, :func:`policy_for`)."""
    policy = policy or policy_for(host)
    if mode != "full":
        return BuildDecision(False, False, "fast mode runs its small working copy eagerly")
    if not host.compiler:
        return BuildDecision(False, False, "no C++ compiler (g++ or clang++) or AOTInductor here")
    minutes = format_duration(policy.build_seconds)
    saving = megapixels * policy.saved_cpu_seconds_per_megapixel / max(1, host.threads)
    if not host.native_bf16:
        return BuildDecision(False, True, "this CPU has no native bf16: compiled tiles would not be faster",
                             policy.build_seconds, 0.0)
    if saving < policy.payback * policy.build_seconds:
        return BuildDecision(False, True, f"{photos} photo(s), {megapixels:.0f} MP: too little to repay a build of "
                                          f"about {minutes}", policy.build_seconds, saving)
    return BuildDecision(True, True, f"{photos} photos, {megapixels:.0f} MP: a build of about {minutes} saves about "
                                     f"{format_duration(saving)} on this batch alone", policy.build_seconds, saving)


def tiled_megapixels(paths: Iterable[str | Path], tile: int) -> tuple[int, float]:
    """(photos, megapixels) of the files at least ``tile`` px on both sides: those whose full-mode
    tiles have the package's shape. Sizes come from the file headers (Pillow); a file whose
    size cannot be read that way (camera RAW, broken files) is not counted."""
    from PIL import Image

    photos, pixels = 0, 0
    for path in paths:
        try:
            with Image.open(path) as image:
                width, height = image.size
        except Exception:  # noqa: BLE001 - unknown size: not counted (the batch reports broken files)
            continue
        if min(width, height) >= tile:
            photos += 1
            pixels += width * height
    return photos, pixels / 1e6


# ---------------------------------------------------------------------------------- building


class BuildError(CoreError):
    """Building a compiled package failed (the reason is the builder's last message)."""


@dataclass(frozen=True)
class BuildRequest:
    """What :func:`build_steps` builds: the package of ``weights`` at ``shape`` as an engine with
    this context window, precision and thread count would look it up."""

    weights: Path
    shape: tuple[int, int]
    bf16: bool
    threads: int
    context_window: int | None
    #: Where the package will be (:meth:`CompiledModel.path_for` of the requesting engine).
    path: Path


@dataclass(frozen=True)
class BuildProgress:
    """The build is running: ``elapsed_s`` of about ``estimate_s`` (a build reports no finer steps)."""

    elapsed_s: float
    estimate_s: float
    reason: str = ""

    @property
    def fraction(self) -> float:
        return min(0.99, self.elapsed_s / self.estimate_s) if self.estimate_s > 0 else 0.0


def build_command(request: BuildRequest) -> list[str]:
    """The child process that builds ``request``: ``python -m core.compiled ...``."""
    window = "none" if request.context_window is None else str(request.context_window)
    return [sys.executable, "-m", "core.compiled", "--weights", str(request.weights),
            "--tile", str(request.shape[0]), "--threads", str(request.threads),
            "--context-window", window, "--precision", "bf16" if request.bf16 else "fp32"]


#: How long a cancelled builder gets to remove its temporary file before it is killed.
STOP_GRACE_S = 5.0


def build_steps(request: BuildRequest, cancel: CancelFlag | None = None, *, estimate_s: float = 300.0,
                reason: str = "", poll_s: float = 0.5) -> Generator[BuildProgress, None, Path]:
    """Build ``request`` in a child process, yielding a :class:`BuildProgress` every ``poll_s``
    (each a cancel point); returns the package's path.

    Cancelling (``cancel`` set, or this generator closed, e.g. by Ctrl-C) stops the child and
    everything it started (its own process group) and raises :class:`CancelledError`; the
    package is published atomically, so nothing partial is left. A failed build raises
    :class:`BuildError` with the builder's last line.
    """
    if cancel is not None and cancel.is_set():
        raise CancelledError()
    started = time.monotonic()
    with tempfile.TemporaryFile(mode="w+b") as errors:
        child = subprocess.Popen(build_command(request), stdin=subprocess.DEVNULL, stdout=subprocess.DEVNULL,
                                 stderr=errors, start_new_session=(os.name == "posix"))
        try:
            yield BuildProgress(0.0, estimate_s, reason)
            while True:
                if cancel is not None and cancel.is_set():
                    raise CancelledError()
                try:
                    code = child.wait(timeout=poll_s)
                    break
                except subprocess.TimeoutExpired:
                    pass
                yield BuildProgress(time.monotonic() - started, estimate_s, reason)
        finally:
            if child.poll() is None:
                _stop(child)
        if code != 0:
            errors.seek(0)
            lines = [line.strip() for line in errors.read().decode("utf-8", "replace").splitlines() if line.strip()]
            raise BuildError(lines[-1] if lines else f"the builder exited with code {code}")
    if not request.path.is_file():
        raise BuildError(f"the builder finished but wrote no package at {request.path}")
    return request.path


def _stop(child: subprocess.Popen) -> None:
    """Stop ``child`` and its process group: SIGTERM (it removes its temporary file), then SIGKILL."""
    def send(sig: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            if os.name == "posix":
                os.killpg(child.pid, sig)
            else:
                child.kill() if sig != signal.SIGTERM else child.terminate()

    send(signal.SIGTERM)
    try:
        child.wait(timeout=STOP_GRACE_S)
    except subprocess.TimeoutExpired:
        send(getattr(signal, "SIGKILL", signal.SIGTERM))
        child.wait()
    if os.name == "posix":  # whatever else is left of the group (compiler processes)
        send(getattr(signal, "SIGKILL", signal.SIGTERM))


class _Forward(torch.nn.Module):
    """``model(x, exposure_gain=gain)`` with both as positional inputs (what export traces)."""

    def __init__(self, model: MIRNet) -> None:
        super().__init__()
        self.model = model

    def forward(self, x: torch.Tensor, gain: torch.Tensor) -> torch.Tensor:
        return self.model(x, exposure_gain=gain)


def package_key(model: MIRNet, shape: tuple[int, int], bf16: bool) -> str:
    """A name for the package of ``model`` at tile ``shape``: changes whenever the kernels would."""
    digest = hashlib.sha256()
    for name, tensor in sorted(model.state_dict().items()):
        digest.update(name.encode())
        digest.update(tensor.detach().cpu().contiguous().numpy().tobytes())
    digest.update(model.config.to_json().encode())
    digest.update(repr((model.context_window, tuple(shape), bf16, torch.__version__,
                        torch.backends.cpu.get_cpu_capability(), torch.get_num_threads())).encode())
    return f"mirnet-{shape[0]}x{shape[1]}-{'bf16' if bf16 else 'fp32'}-{digest.hexdigest()[:20]}"


class CompiledModel:
    """A loaded package: ``compiled(x, gain)`` runs the network on one ``1 x 3 x H x W`` tile."""

    def __init__(self, runner: Callable[..., torch.Tensor], shape: tuple[int, int], bf16: bool, path: Path) -> None:
        self._runner = runner
        self.shape = tuple(shape)
        self.bf16 = bf16
        self.path = path

    def __call__(self, x: torch.Tensor, gain: torch.Tensor) -> torch.Tensor:
        with torch.inference_mode():
            return self._runner(x.contiguous(memory_format=torch.channels_last), gain.to(torch.float32))

    @classmethod
    def path_for(cls, model: MIRNet, shape: tuple[int, int], bf16: bool) -> Path:
        return cache_dir() / f"{package_key(model, shape, bf16)}.pt2"

    @classmethod
    def load(cls, model: MIRNet, shape: tuple[int, int], bf16: bool) -> CompiledModel | None:
        """The cached package of ``model`` at ``shape``, or None (not built, or unloadable)."""
        if model.config.exposure_key is None:
            return None
        path = cls.path_for(model, shape, bf16)
        # Only now touch torch._inductor: importing it takes seconds of Python holding the GIL
        # (in the app's worker, that froze the window for up to 0.2 s at a time).
        if not path.is_file() or not loading_available():
            return None
        try:
            runner = torch._inductor.aoti_load_package(str(path))
        except Exception as exc:  # noqa: BLE001 - a stale or broken package: eager instead
            log.warning("ignoring compiled package %s: %s", path, exc)
            return None
        return cls(runner, shape, bf16, path)

    @classmethod
    def build(cls, model: MIRNet, shape: tuple[int, int], bf16: bool) -> CompiledModel:
        """Export and compile ``model`` at ``shape`` (minutes), store the package, load it."""
        if not compiled_available():
            raise RuntimeError("AOTInductor needs PyTorch >= 2.6 and a C++ compiler (g++ or clang++)")
        if model.config.exposure_key is None:
            raise ValueError("only networks with exposure normalisation are compiled")
        path = cls.path_for(model, shape, bf16)
        path.parent.mkdir(parents=True, exist_ok=True)
        remove_stale_temporaries(path.parent)
        x = torch.zeros(1, 3, *shape).contiguous(memory_format=torch.channels_last)
        gain = torch.ones(1)
        autocast = torch.autocast("cpu", dtype=torch.bfloat16) if bf16 else contextlib.nullcontext()

        def compile_into(tmp: Path) -> None:
            with torch.inference_mode(), autocast:
                exported = torch.export.export(_Forward(model).eval(), (x, gain))
                torch._inductor.aoti_compile_and_package(exported, package_path=str(tmp))

        # a reader sees the whole package or none; AOTInductor wants the .pt2 suffix
        write_atomically(path, compile_into, suffix=".pt2")
        log.info("compiled %s", path)
        loaded = cls.load(model, shape, bf16)
        if loaded is None:
            raise RuntimeError(f"the compiled package {path} could not be loaded")
        return loaded

    @classmethod
    def load_or_build(cls, model: MIRNet, shape: tuple[int, int], bf16: bool) -> CompiledModel:
        return cls.load(model, shape, bf16) or cls.build(model, shape, bf16)


#: A builder's temporary package older than this is left from a killed build (SIGKILL, power
#: loss), not one in progress: builds take minutes.
STALE_TEMPORARY_S = 24 * 3600.0


def remove_stale_temporaries(folder: Path, older_than_s: float = STALE_TEMPORARY_S) -> list[Path]:
    """Delete temporary packages (``.<name>.pt2.<random>.pt2``, see :meth:`CompiledModel.build`)
    in ``folder`` last changed over ``older_than_s`` ago; the ones removed. A killed builder
    cannot remove its own, and each is the size of a package."""
    removed = []
    cutoff = time.time() - older_than_s
    for candidate in folder.glob(".*.pt2.*.pt2"):
        with contextlib.suppress(OSError):
            if candidate.is_file() and not candidate.is_symlink() and candidate.stat().st_mtime < cutoff:
                candidate.unlink()
                removed.append(candidate)
    if removed:
        log.info("removed %d temporary package(s) left by killed builds in %s", len(removed), folder)
    return removed


def builder_engine(weights: str | Path | None, context_window: str = "weights",
                   precision: Literal["auto", "fp32", "bf16"] = "auto"):  # noqa: ANN201 - an Enhancer
    """The engine the builder process compiles (its model keys the package): ``context_window``
    and ``precision`` as :func:`build_command` passes them."""
    from .engine import EngineConfig, Enhancer

    window: int | None | Literal["weights"] = (
        "weights" if context_window == "weights" else None if context_window == "none" else int(context_window))
    return Enhancer(weights, device="cpu", precision=precision,
                    config=EngineConfig(compiled="build", context_window=window))


def _on_sigterm(signum: int, frame: object) -> None:
    raise SystemExit(143)  # unwinds: the temporary package file is removed


def main(argv: list[str] | None = None) -> int:
    """``python -m core.compiled [--weights W] [--tile N]``: build the package full mode uses
    (also the child process of :func:`build_steps`, which passes all options)."""
    import argparse

    parser = argparse.ArgumentParser(description="Build the compiled package of a model for full-mode "
                                                 "CPU tiles (minutes, once; kept in the user cache).")
    parser.add_argument("--weights", help="weights file (default: the bundled model)")
    parser.add_argument("--tile", type=int, help="tile side (default: the engine's CPU tile)")
    parser.add_argument("--threads", type=int, help="torch threads the package is for (default: torch's)")
    parser.add_argument("--context-window", default="weights",
                        help="local pooling window: a number, 'none' or 'weights' (default: the weights')")
    parser.add_argument("--precision", choices=("auto", "fp32", "bf16"), default="auto",
                        help="auto: bf16 where the CPU has native bf16")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    signal.signal(signal.SIGTERM, _on_sigterm)
    if args.threads:
        torch.set_num_threads(args.threads)
    enhancer = builder_engine(args.weights, args.context_window, args.precision)
    tile = args.tile or enhancer.choose_tile()
    try:
        compiled = CompiledModel.load_or_build(enhancer.model, (tile, tile), enhancer.compiled_bf16)
    except Exception as exc:  # noqa: BLE001 - reported as one line (the parent shows the last one)
        log.debug("build failed", exc_info=True)
        first = str(exc).strip().splitlines()[0] if str(exc).strip() else type(exc).__name__
        print(f"no compiled package could be built here ({first}); full mode runs eagerly", file=sys.stderr)
        return 1
    print(f"{compiled.path} ({'bf16' if compiled.bf16 else 'fp32'}, {tile} x {tile} tiles, "
          f"{torch.get_num_threads()} threads)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
