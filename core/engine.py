"""Inference engine: enhance a photo with MIRNet, tiled at full resolution or fast via guided upsampling.

Images are RGB ``H x W x 3`` numpy arrays: float32 in [0, 1] (:meth:`Enhancer.enhance`), or
also uint8 / uint16 as decoded (:meth:`Enhancer.render`, which writes the result straight into
an output of that type). Tensors exist only in here.

Memory is flat in the photo's size: integer photos are converted, enhanced, blended with
Strength and quantised tile by tile (full mode) or band by band (fast mode); besides the
input and the output, only one band of tile rows is held in float32.

* ``full``: overlapping tiles sized from free memory, feathered blending (:mod:`core.tiling`);
  the model's context window is set so every tile sees the same local statistics as the whole
  image; out of memory halves the tile, then (GPU) falls back to the CPU.
* ``fast``: the network runs on a small copy (about ``fast_max_pixels``) and the result is
  carried to full resolution by a fast guided filter (:mod:`core.guided_filter`).

The CPU path uses ``torch.inference_mode`` and channels_last, fp32. Full-mode tiles run
through an ahead-of-time compiled package (:mod:`core.compiled`) when one is in the cache, in
bf16 where oneDNN reports native bf16 (measured 1.5x faster per tile at 64 dB from fp32); eager
bf16 autocast is not used by default: slower than fp32 even with native bf16, and 10x slower
without it (reference kernels; see benchmarks/bench_engine.py).
"""

from __future__ import annotations

import contextlib
import dataclasses
import logging
import threading
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import numpy as np
import torch
import torch.nn.functional as F

from .compiled import BuildRequest, CompiledModel, cpu_bf16_is_native
from .errors import CancelledError, DeviceOutOfMemoryError, WeightsError
from .exposure import apply_gain, check_exposure
from .guided_filter import BAND_ROWS, apply_coefficients_rows, area_downscale, guided_coefficients
from .malloc_arenas import limit_malloc_arenas
from .model import MIRNet
from .pixels import check_pixel_type, is_integer_pixels, store, to_float
from .steps import map_steps, run_to_end
from .tiling import RowSink, iter_tiled, plan_tiles
from .weights import WeightsInfo, load_weights

log = logging.getLogger(__name__)

Mode = Literal["fast", "full"]
Precision = Literal["auto", "fp32", "bf16"]

_OOM_ERRORS: tuple[type[BaseException], ...] = tuple(
    {getattr(torch, "OutOfMemoryError", torch.cuda.OutOfMemoryError), torch.cuda.OutOfMemoryError}
)


#: Up to this size the exposure statistic is computed on the whole photo in one go.
_DIRECT_GAIN_PIXELS = 4_000_000


def default_weights_path() -> Path:
    """The bundled default model, ``resources/weights/lite.safetensors`` (package ``lowlight_resources``)."""
    from lowlight_resources import BUNDLED_WEIGHTS, resource_path

    return resource_path(*BUNDLED_WEIGHTS)


@dataclass(frozen=True)
class EngineConfig:
    """How the engine runs the network; defaults chosen by measurement (benchmarks/bench_engine.py)."""

    #: Pixels shared by neighbouring tiles (blended with a raised-cosine ramp); at least 32.
    #: Measured tiled vs whole (1024 px photo, random lite, window 192): 256 px tiles 79 dB at
    #: 32 px overlap, 89 dB at 64; far above the 40 dB goal, so 32 (less recomputation).
    overlap: int = 32
    #: Local window (full-resolution pixels) replacing global pooling; ~1.5x the 128 px training
    #: crop. None keeps the paper's global pooling (tiles then disagree with the whole image).
    #: "weights": the weights' own (:attr:`core.weights.ModelDescriptor.context_window`).
    context_window: int | None | Literal["weights"] = "weights"
    #: Fixed tile side; None chooses it from free memory.
    tile: int | None = None
    #: Smallest tile the out-of-memory retry goes down to.
    min_tile: int = 64
    #: CPU: memory one tile's activations may take, and the largest tile side. Per-pixel cost
    #: grows once a tile's feature maps outgrow the cache (lite, 1 thread: 7.4 us/px at 256-384,
    #: 9.5 at 512-640, 13.4 at 768), so larger tiles do not pay for their smaller overlap share.
    cpu_tile_budget_mib: int = 640
    #: Trained lite, 2 threads, 3 MP photo, full mode: 256 px 27.3 s, 384 px 26.5 s, 512 px 34.5 s.
    cpu_max_tile: int = 384
    #: CPU, eager tiles: how many run at once, each on ``threads // workers`` torch threads.
    #: None: one per torch thread. Two cores, lite, 384 px tiles (AMD EPYC, AVX2): two tiles at
    #: once on one thread each 0.56 s per tile, one tile on two threads 0.97 s (the network's
    #: many small ops leave a second intra-op thread mostly idle).
    cpu_tile_workers: int | None = None
    #: CPU: glibc malloc arenas for the whole process (:mod:`core.malloc_arenas`: with one per
    #: thread, freed tile memory fragments and 50 MP took 1.5x the 12 MP peak RSS); None: glibc's.
    malloc_arenas: int | None = 2
    #: GPU: share of free memory for one tile, and the largest tile side.
    gpu_memory_fraction: float = 0.5
    gpu_max_tile: int = 2048
    #: Activation memory per tile pixel per model channel (measured ~82 B for lite, fp32).
    bytes_per_pixel_channel: float = 90.0
    #: Fast mode: pixels the network sees (the photo is area-downscaled to about this).
    fast_max_pixels: int = 200_000
    #: Fast mode guided filter: radius at the working resolution and regularisation.
    guided_radius: int = 2
    guided_eps: float = 1e-5
    precision: Precision = "auto"
    channels_last: bool = True
    #: CPU, full mode: tiles of exactly the shape of an ahead-of-time compiled package
    #: (:mod:`core.compiled`) run through it. "cached": only a package already in the cache;
    #: "build": build a missing one first (minutes, once per weights and tile shape); "off".
    compiled: Literal["off", "cached", "build"] = "cached"

    def __post_init__(self) -> None:
        if self.overlap < 32:
            raise ValueError("overlap must be at least 32 px")
        if self.tile is not None and self.tile < 2 * self.overlap:
            raise ValueError("tile must be at least twice the overlap")
        if self.cpu_tile_workers is not None and self.cpu_tile_workers < 1:
            raise ValueError("cpu_tile_workers must be at least 1")
        if self.malloc_arenas is not None and self.malloc_arenas < 1:
            raise ValueError("malloc_arenas must be at least 1")


@dataclass(frozen=True)
class ProgressEvent:
    """Progress of one enhancement: ``done`` of ``total`` units of the current ``stage``."""

    done: int
    total: int
    stage: str
    detail: str = field(default="", compare=False)

    @property
    def fraction(self) -> float:
        return 1.0 if self.total <= 0 else min(1.0, self.done / self.total)


def blend_strength(original: np.ndarray, enhanced: np.ndarray, strength: float) -> np.ndarray:
    """``original + strength * (enhanced - original)``, clipped to [0, 1]; a new float32 array."""
    s = float(np.clip(strength, 0.0, 1.0))
    if s >= 1.0:
        return np.clip(enhanced, 0.0, 1.0).astype(np.float32, copy=False)
    out = np.subtract(enhanced, original, dtype=np.float32)
    out *= np.float32(s)
    out += original
    return np.clip(out, 0.0, 1.0, out=out)


def blend_pixels(original: np.ndarray, enhanced: np.ndarray, strength: float) -> np.ndarray:
    """:func:`blend_strength` for pixels of any type (float32, uint8, uint16): a new array of
    ``enhanced``'s type, computed a band of rows at a time (no full-size float copy)."""
    if original.shape != enhanced.shape:
        raise ValueError(f"shapes differ: {original.shape} and {enhanced.shape}")
    out = np.empty(enhanced.shape, dtype=check_pixel_type(enhanced.dtype))
    for y0 in range(0, enhanced.shape[0], BAND_ROWS):
        rows = slice(y0, y0 + BAND_ROWS)
        store(_blend_in_place(to_float(original[rows]), to_float(enhanced[rows]).copy(), strength), out[rows])
    return out


def _blend_in_place(original: np.ndarray, enhanced: np.ndarray, strength: float) -> np.ndarray:
    """Clip ``enhanced`` then blend, in place: the same as ``blend_strength(original, clipped, s)``."""
    np.clip(enhanced, 0.0, 1.0, out=enhanced)
    s = float(np.clip(strength, 0.0, 1.0))
    if s < 1.0:
        enhanced -= original
        enhanced *= np.float32(s)
        enhanced += original
        np.clip(enhanced, 0.0, 1.0, out=enhanced)
    return enhanced


def resolve_device(device: str) -> torch.device:
    """``auto`` -> CUDA, then MPS, else CPU; an explicit device must exist."""
    if device == "auto":
        if torch.cuda.is_available():
            return torch.device("cuda")
        mps = getattr(torch.backends, "mps", None)
        if mps is not None and mps.is_available():
            return torch.device("mps")
        return torch.device("cpu")
    dev = torch.device(device)
    if dev.type == "cuda" and not torch.cuda.is_available():
        raise RuntimeError("a CUDA device was requested but PyTorch sees none (no NVIDIA GPU or a CPU-only build)")
    if dev.type == "mps" and not (getattr(torch.backends, "mps", None) and torch.backends.mps.is_available()):
        raise RuntimeError("an MPS device was requested but it is not available")
    return dev


def describe_device(device: torch.device) -> str:
    if device.type == "cuda":
        return torch.cuda.get_device_name(device)
    if device.type == "mps":
        return "Apple GPU (MPS)"
    return f"CPU ({torch.get_num_threads()} threads)"


def available_memory_bytes() -> int | None:
    """MemAvailable from /proc/meminfo (Linux), else None."""
    try:
        with open("/proc/meminfo", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("MemAvailable:"):
                    return int(line.split()[1]) * 1024
    except OSError:
        pass
    return None


class Enhancer:
    """MIRNet inference on photos: ``enhance`` (blocking) or ``enhance_steps`` (generator).

    Run one enhancement at a time per instance (a GPU out-of-memory fallback moves the model).
    """

    def __init__(
        self,
        weights: str | Path | None = None,
        *,
        device: str = "auto",
        model: MIRNet | None = None,
        precision: Precision = "auto",
        config: EngineConfig | None = None,
    ) -> None:
        self.config = config or EngineConfig(precision=precision)
        if config is not None and precision != "auto":
            self.config = dataclasses.replace(config, precision=precision)
        self.device = resolve_device(device)
        if self.device.type == "cpu" and self.config.malloc_arenas is not None:
            limit_malloc_arenas(self.config.malloc_arenas)  # before any tile worker thread exists
        if model is None:
            path = Path(weights) if weights is not None else default_weights_path()
            if weights is None and not path.exists():
                raise WeightsError(path, f"no bundled weights found at {path}; train or pass a weights file")
            model, self.info = load_weights(path, "cpu")
        else:
            self.info = WeightsInfo(path=Path("<in-memory model>"), config=model.config, preset=None)
        self.model = model.eval()
        self._compiled: dict[tuple[int, int], CompiledModel | None] = {}
        self.context_window = self._resolve_context_window()
        self.model.set_context_window(self.context_window)
        self._move(self.device)
        self.precision = self._choose_precision(self.config.precision)
        self.device_name = describe_device(self.device)
        log.info("engine on %s, precision %s, weights %s", self.device_name, self.precision, self.info.path)

    # -- setup ----------------------------------------------------------------------------------

    def _resolve_context_window(self) -> int | None:
        if self.config.context_window != "weights":
            return self.config.context_window
        return self.info.descriptor.context_window

    def _move(self, device: torch.device) -> None:
        fmt = torch.channels_last if self.config.channels_last else torch.contiguous_format
        self.model.to(device=device, memory_format=fmt)
        self._run_device = device

    def _choose_precision(self, wanted: Precision) -> Literal["fp32", "bf16"]:
        if wanted == "fp32":
            return "fp32"
        if wanted == "bf16":
            if self.device.type == "cpu" and not cpu_bf16_is_native():
                log.warning("bf16 requested, but this CPU has no native bf16 convolutions: expect it to be slow")
            return "bf16"
        # auto: fp32 when eager. Without native bf16, bf16 convolutions ran 10x slower; with it
        # (avx512_bf16), eager bf16 autocast was still 20% slower than fp32 per tile, and only the
        # compiled path gains from bf16 (see compiled_bf16 and benchmarks/bench_engine.py).
        return "fp32"

    def _autocast(self) -> contextlib.AbstractContextManager:
        if self.precision == "bf16":
            return torch.autocast(self._run_device.type, dtype=torch.bfloat16)
        return contextlib.nullcontext()

    # -- tile size ----------------------------------------------------------------------------

    def _bytes_per_tile_pixel(self) -> float:
        per = self.config.bytes_per_pixel_channel * self.model.config.channels
        return per / 2 if self.precision == "bf16" else per

    def choose_tile(self, device: torch.device | None = None) -> int:
        """Tile side for ``device`` from free memory, a multiple of 64 between min and max."""
        if self.config.tile is not None:
            return self.config.tile
        device = device or self._run_device
        per_px = self._bytes_per_tile_pixel()
        if device.type == "cuda":
            free, _total = torch.cuda.mem_get_info(device)
            budget, cap = free * self.config.gpu_memory_fraction, self.config.gpu_max_tile
        else:
            budget = self.config.cpu_tile_budget_mib * 2**20
            available = available_memory_bytes()
            if available is not None:  # a quarter of free memory for all tiles running at once
                budget = min(budget, available // (4 * self._cpu_workers()))
            cap = self.config.cpu_max_tile
        side = int((budget / per_px) ** 0.5) // 64 * 64
        return int(np.clip(side, max(self.config.min_tile, 2 * self.config.overlap), cap))

    # -- inference ----------------------------------------------------------------------------

    @property
    def exposure_is_trained(self) -> bool:
        """Whether the weights were trained for the exposure control (EV jitter, highlight shoulder).

        Older weights still take an exposure: their input is then simply scaled in linear light."""
        return self.info.descriptor.exposure_trained

    def _exposure_gain(self, image: np.ndarray, exposure: float = 0.0) -> torch.Tensor | None:
        """The model's per-image exposure gain, measured once on the whole photo, times ``2**exposure``
        (None for a model without exposure normalisation and ``exposure == 0``)."""
        if getattr(self.model.config, "exposure_key", None) is None:
            return None if exposure == 0 else torch.tensor([2.0**exposure])
        return self._auto_gain(image) * 2.0**exposure

    def _auto_gain(self, image: np.ndarray) -> torch.Tensor:
        height, width = image.shape[:2]
        if height * width <= _DIRECT_GAIN_PIXELS:
            x = torch.from_numpy(to_float(image)).permute(2, 0, 1).unsqueeze(0)
            return self.model.exposure_gain(x).cpu()
        # Large photo: the statistic is taken on a <= 64 px grid of linear-light means; build that
        # grid strip by strip (exactly what adaptive pooling does) instead of converting 50 MP at once.
        from .exposure import linear_to_srgb, srgb_to_linear

        side = 64
        scale = side / max(height, width)
        out_h, out_w = max(1, round(height * scale)), max(1, round(width * scale))
        rows = []
        for i in range(out_h):
            y0, y1 = (i * height) // out_h, -((-(i + 1) * height) // out_h)
            strip = torch.from_numpy(to_float(image[y0:y1])).permute(2, 0, 1).unsqueeze(0)
            linear = srgb_to_linear(strip.clamp(0.0, 1.0))
            rows.append(F.adaptive_avg_pool2d(linear, (1, out_w)))
        grid = linear_to_srgb(torch.cat(rows, dim=2))
        return self.model.exposure_gain(grid).cpu()

    @property
    def compiled_bf16(self) -> bool:
        """Whether compiled tiles run in bf16: asked for, or "auto" on a CPU with native bf16.

        Measured on one 384 px tile (AMD EPYC, avx512_bf16, one thread, CPU time): eager fp32
        0.67 s, eager bf16 autocast 0.81 s (slower), compiled fp32 0.67 s, compiled bf16 0.45 s
        at 64 dB PSNR from fp32; so eager stays fp32 and bf16 is used only compiled.
        """
        if self.precision == "bf16":
            return True
        return self.config.precision == "auto" and self.device.type == "cpu" and cpu_bf16_is_native()

    def compiled_for(self, shape: tuple[int, int]) -> CompiledModel | None:
        """The compiled package for CPU tiles of ``shape`` (see ``EngineConfig.compiled``), or None."""
        if (self.config.compiled == "off" or self._run_device.type != "cpu"
                or getattr(self.model.config, "exposure_key", None) is None):
            return None
        key = (int(shape[0]), int(shape[1]))
        if key not in self._compiled:
            bf16 = self.compiled_bf16
            try:
                if self.config.compiled == "build":
                    self._compiled[key] = CompiledModel.load_or_build(self.model, key, bf16)
                else:
                    self._compiled[key] = CompiledModel.load(self.model, key, bf16)
            except Exception as exc:  # noqa: BLE001 - no compiler, export failure...: eager instead
                log.warning("no compiled model for %dx%d tiles (%s); running eagerly", *key, exc)
                self._compiled[key] = None
        return self._compiled[key]

    def compiled_build_request(self) -> BuildRequest | None:
        """What a build of the package for this engine's full-mode CPU tiles would be (see
        :func:`core.compiled.build_steps`), or None where none can serve: compiled "off", not on
        the CPU, a network without exposure normalisation, or weights that are not a file."""
        if (self.config.compiled == "off" or self._run_device.type != "cpu"
                or getattr(self.model.config, "exposure_key", None) is None or not self.info.path.is_file()):
            return None
        tile = self.choose_tile()
        shape, bf16 = (tile, tile), self.compiled_bf16
        return BuildRequest(weights=self.info.path, shape=shape, bf16=bf16, threads=torch.get_num_threads(),
                            context_window=self.context_window, path=CompiledModel.path_for(self.model, shape, bf16))

    def reload_compiled(self, shape: tuple[int, int]) -> CompiledModel | None:
        """Look for the package of ``shape`` again (one was just built), and use it if it loads."""
        self._compiled.pop((int(shape[0]), int(shape[1])), None)
        return self.compiled_for(shape)

    def _infer(self, tile: np.ndarray, gain: torch.Tensor | None,
               compiled: CompiledModel | None = None) -> np.ndarray:
        """One tile through the network on the current device; OOM becomes DeviceOutOfMemoryError."""
        x = torch.from_numpy(np.ascontiguousarray(to_float(tile))).permute(2, 0, 1).unsqueeze(0)  # channels_last view
        if not self.config.channels_last:
            x = x.contiguous()
        if (compiled is not None and gain is not None and tuple(tile.shape[:2]) == compiled.shape
                and self._run_device.type == "cpu"):
            return compiled(x, gain)[0].permute(1, 2, 0).float().numpy()
        try:
            with torch.inference_mode(), self._autocast():
                x = x.to(self._run_device)
                if gain is not None and getattr(self.model.config, "exposure_key", None) is None:
                    # No exposure normalisation in this network: the EV scales its input.
                    x, gain = apply_gain(x.float(), gain.to(x.device)), None
                y = self.model(x, exposure_gain=gain) if gain is not None else self.model(x)
                return y[0].permute(1, 2, 0).float().cpu().numpy()
        except _OOM_ERRORS as exc:
            del x
            if self._run_device.type == "cuda":
                torch.cuda.empty_cache()
            raise DeviceOutOfMemoryError(f"{tile.shape[1]}x{tile.shape[0]} tile on {self._run_device}") from exc

    def _fallback_to_cpu(self) -> int | None:
        if self._run_device.type == "cpu":
            return None
        log.warning("%s is out of memory even with the smallest tiles; continuing on the CPU", self.device_name)
        self._move(torch.device("cpu"))
        if torch.cuda.is_available():
            torch.cuda.empty_cache()
        return self.choose_tile(torch.device("cpu"))

    def _tiled(
        self, image: np.ndarray, gain: torch.Tensor | None, cancel: threading.Event | None, stage: str,
        tile: int | None = None, emit: RowSink | None = None, compiled: CompiledModel | None = None,
    ) -> Generator[ProgressEvent, None, np.ndarray | None]:
        """Tiled inference; finished rows go to ``emit`` (then None is returned), else the result."""
        tile = tile or self.choose_tile()
        workers = self.tile_workers(image.shape[:2], tile, compiled)
        steps = iter_tiled(image, lambda t: self._infer(t, gain, compiled), tile, self.config.overlap,
                           min_tile=self.config.min_tile, fallback=self._fallback_to_cpu, emit=emit,
                           workers=workers)
        total = image.shape[0] * image.shape[1]
        threads = torch.get_num_threads()
        yield ProgressEvent(0, total, stage)
        try:
            if workers > 1:  # process-wide: restored below, also on cancel or error
                torch.set_num_threads(max(1, threads // workers))
            return (yield from map_steps(
                steps,
                lambda report: ProgressEvent(report.covered, total, stage, f"tile {report.tiles_done} of "
                                             f"{report.tiles_planned} ({report.tile_size} px)"),
                cancel,
            ))
        finally:
            if workers > 1:
                torch.set_num_threads(threads)
            if self._run_device != self.device:
                self._move(self.device)

    def _cpu_workers(self) -> int:
        """CPU tiles meant to run at once (``EngineConfig.cpu_tile_workers``, else one per torch thread)."""
        return self.config.cpu_tile_workers or torch.get_num_threads()

    def tile_workers(self, shape: tuple[int, int], tile: int, compiled: CompiledModel | None = None) -> int:
        """How many tiles of a ``shape`` photo run at once: several only for eager CPU tiles
        (a compiled package and a GPU each run one tile at a time), at most one per tile."""
        if self._run_device.type != "cpu" or compiled is not None:
            return 1
        wanted = self._cpu_workers()
        if wanted <= 1:
            return 1
        return max(1, min(wanted, len(plan_tiles(shape[0], shape[1], tile, self.config.overlap))))

    def _full(self, image: np.ndarray, cancel: threading.Event | None, exposure: float,
              emit: RowSink) -> Generator[ProgressEvent, None, None]:
        gain = self._exposure_gain(image, exposure)
        tile = self.choose_tile()
        compiled = self.compiled_for((min(tile, image.shape[0]), min(tile, image.shape[1])))
        yield from self._tiled(image, gain, cancel, "enhancing", tile, emit=emit, compiled=compiled)

    def _fast(self, image: np.ndarray, cancel: threading.Event | None, exposure: float,
              emit: RowSink, limit: int | None = None) -> Generator[ProgressEvent, None, None]:
        height, width = image.shape[:2]
        limit = limit or self.config.fast_max_pixels
        if height * width <= limit:
            yield from self._full(image, cancel, exposure, emit)
            return
        scale = (limit / (height * width)) ** 0.5
        small_size = (max(1, round(width * scale)), max(1, round(height * scale)))
        small = area_downscale(image, small_size)
        # The exposure statistic of the small copy: within 0.1% of the full photo's (measured on
        # a 12 MP photo: gain 17.60 vs 17.62) at a fraction of the cost (0.03 s vs 1.1 s).
        gain = self._exposure_gain(small, exposure)
        # One tile if it fits, so the small image is seen whole.
        tile = max(self.choose_tile(), (max(small.shape[:2]) + 63) // 64 * 64)
        enhanced_small = yield from self._tiled(small, gain, cancel, "enhancing", tile)
        assert enhanced_small is not None
        a, b = guided_coefficients(small, enhanced_small, self.config.guided_radius, self.config.guided_eps)
        yield ProgressEvent(0, height, "upsampling")
        for y0 in range(0, height, BAND_ROWS):
            if cancel is not None and cancel.is_set():
                raise CancelledError()
            y1 = min(height, y0 + BAND_ROWS)
            emit(y0, y1, apply_coefficients_rows(image[y0:y1], a, b, y0, height))
            yield ProgressEvent(y1, height, "upsampling")

    def render_steps(
        self,
        image: np.ndarray,
        mode: Mode = "full",
        strength: float = 1.0,
        cancel: threading.Event | None = None,
        exposure: float = 0.0,
        *,
        dtype: np.dtype | type | None = None,
        out: np.ndarray | None = None,
        fast_pixels: int | None = None,
    ) -> Generator[ProgressEvent, None, np.ndarray]:
        """Like :meth:`enhance_steps`, for float32 *or* uint8 / uint16 ``image``; returns a new
        ``H x W x 3`` array of ``dtype`` (default: the image's own type), or ``out`` filled in.

        Each finished piece is blended with Strength and quantised straight into the output, so
        an integer photo is never copied to float32 whole. The result is what :meth:`enhance`
        gives for ``image / max`` (rounded to the nearest level for an integer ``dtype``).
        ``out`` may be ``image`` itself, when the caller no longer needs the original pixels
        (one frame less in memory): rows are read before they are written, and never after.
        ``fast_pixels`` overrides ``EngineConfig.fast_max_pixels`` (a quicker, coarser preview).
        """
        exposure = check_exposure(exposure)
        pixels = _validate(image, integers=True)
        if out is not None:
            if out.shape != pixels.shape or (dtype is not None and np.dtype(dtype) != out.dtype):
                raise ValueError(f"out must be a {pixels.shape} array of the requested type, got {out.shape} {out.dtype}")
            dtype = out.dtype
        out_dtype = check_pixel_type(dtype if dtype is not None else pixels.dtype)
        if mode not in ("fast", "full"):
            raise ValueError(f"mode must be 'fast' or 'full', not {mode!r}")
        if cancel is not None and cancel.is_set():
            raise CancelledError()
        # The model may be shared (a passed-in model): (re)apply this engine's window each time.
        self.model.set_context_window(self.context_window)
        if out is None:
            out = np.empty(pixels.shape, dtype=out_dtype)

        def finish(y0: int, y1: int, rows: np.ndarray) -> None:
            store(_blend_in_place(to_float(pixels[y0:y1]), rows, strength), out[y0:y1])

        if mode == "fast":
            yield from self._fast(pixels, cancel, exposure, finish, fast_pixels)
        else:
            yield from self._full(pixels, cancel, exposure, finish)
        return out

    def render(
        self,
        image: np.ndarray,
        mode: Mode = "full",
        strength: float = 1.0,
        progress: Callable[[ProgressEvent], None] | None = None,
        cancel: threading.Event | None = None,
        exposure: float = 0.0,
        *,
        dtype: np.dtype | type | None = None,
        out: np.ndarray | None = None,
        fast_pixels: int | None = None,
    ) -> np.ndarray:
        """Run :meth:`render_steps` to the end; raises :class:`CancelledError` when cancelled."""
        steps = self.render_steps(image, mode, strength, cancel, exposure, dtype=dtype, out=out,
                                  fast_pixels=fast_pixels)
        return run_to_end(steps, progress)

    def enhance_steps(
        self,
        image: np.ndarray,
        mode: Mode = "full",
        strength: float = 1.0,
        cancel: threading.Event | None = None,
        exposure: float = 0.0,
    ) -> Generator[ProgressEvent, None, np.ndarray]:
        """Enhance ``image``, yielding a :class:`ProgressEvent` after each step (each a cancel point).

        Returns a new float32 ``H x W x 3`` array in [0, 1]; ``strength`` blends with the input;
        ``exposure`` (stops, -3..+3) moves the exposure from the automatic choice.
        """
        pixels = _validate(image)
        return (yield from self.render_steps(pixels, mode, strength, cancel, exposure, dtype=np.float32))

    def enhance(
        self,
        image: np.ndarray,
        mode: Mode = "full",
        strength: float = 1.0,
        progress: Callable[[ProgressEvent], None] | None = None,
        cancel: threading.Event | None = None,
        exposure: float = 0.0,
    ) -> np.ndarray:
        """Run :meth:`enhance_steps` to the end; raises :class:`CancelledError` when cancelled."""
        return run_to_end(self.enhance_steps(image, mode, strength, cancel, exposure), progress)


def _validate(image: np.ndarray, integers: bool = False) -> np.ndarray:
    """``image`` as float32 (a copy only if it is another float type); uint8 / uint16 pass
    unchanged when ``integers``."""
    if not isinstance(image, np.ndarray) or image.ndim != 3 or image.shape[2] != 3:
        raise ValueError(f"expected an H x W x 3 RGB array, got {getattr(image, 'shape', type(image))}")
    if image.shape[0] == 0 or image.shape[1] == 0:
        raise ValueError("empty image")
    if integers and is_integer_pixels(image):
        return image
    if image.dtype != np.float32:
        if not np.issubdtype(image.dtype, np.floating):
            wanted = "float32 pixels in [0, 1], uint8 or uint16" if integers else "float32 pixels in [0, 1]"
            raise ValueError(f"expected {wanted}, got {image.dtype}")
        image = image.astype(np.float32)
    return image
