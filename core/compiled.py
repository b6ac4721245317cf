"""An ahead-of-time compiled copy of the network for full-size tiles, cached on disk.

PyTorch's AOTInductor turns the model, traced with :func:`torch.export.export` at one tile
shape, into a shared library of fused kernels (``.pt2`` package). Building it takes minutes and
needs a C++ compiler; loading a built package takes a fraction of a second and needs neither,
so packages are kept in a cache folder, keyed by everything that shapes the kernels (weights,
architecture, context window, tile shape, precision, PyTorch version, CPU capability).

The engine uses a package only in full mode, for tiles of exactly its shape, and only when the
package already exists (or :meth:`CompiledModel.load_or_build` was asked to build it); eager
PyTorch stays the fallback for everything else (see :class:`core.engine.EngineConfig`).
"""

from __future__ import annotations

import contextlib
import hashlib
import logging
import shutil
from collections.abc import Callable
from pathlib import Path

import torch

from . import user_folders
from .atomic import write_atomically
from .model import MIRNet

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
        if not loading_available() or model.config.exposure_key is None:
            return None
        path = cls.path_for(model, shape, bf16)
        if not path.is_file():
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


def main(argv: list[str] | None = None) -> int:
    """``python -m core.compiled [--weights W] [--tile N]``: build the package full mode uses."""
    import argparse

    from .engine import EngineConfig, Enhancer

    parser = argparse.ArgumentParser(description="Build the compiled package of a model for full-mode "
                                                 "CPU tiles (minutes, once; kept in the user cache).")
    parser.add_argument("--weights", help="weights file (default: the bundled model)")
    parser.add_argument("--tile", type=int, help="tile side (default: the engine's CPU tile)")
    args = parser.parse_args(argv)
    logging.basicConfig(level=logging.INFO, format="%(message)s")
    enhancer = Enhancer(args.weights, device="cpu", config=EngineConfig(compiled="build"))
    tile = args.tile or enhancer.choose_tile()
    compiled = enhancer.compiled_for((tile, tile))
    if compiled is None:
        print("no compiled package could be built here; full mode runs eagerly")
        return 1
    print(f"{compiled.path} ({'bf16' if compiled.bf16 else 'fp32'}, {tile} x {tile} tiles, "
          f"{torch.get_num_threads()} threads)")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
