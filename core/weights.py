"""Save and load MIRNet weights as ``.safetensors`` with the architecture in the metadata.

The architecture is always read from the file (``architecture`` metadata, or inferred from
the tensor shapes of a plain state dict), never typed in by a user. Pickled checkpoints are
only accepted as plain state dicts through ``torch.load(weights_only=True)``.

Nothing is built before the file has been checked: the tensor names, shapes and types in the
safetensors header are compared with the shapes the described architecture has (computed,
see :func:`describe_architecture`), and an architecture beyond :data:`LIMITS` is refused. A
hostile file that describes a gigantic network therefore costs nothing to reject, and
:func:`read_weights_info` never builds a model or reads a tensor.
"""

from __future__ import annotations

import datetime as _dt
import json
import logging
import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors.torch import load_file, save_file

from .atomic import write_atomically
from .auto_exposure import feature_count
from .config import PRESETS, MIRNetConfig
from .errors import WeightsError
from .files import file_problem
from .model import MIRNet

log = logging.getLogger(__name__)

FORMAT_NAME = "lowlight-mirnet"
FORMAT_VERSION = "1"
SAFETENSORS_SUFFIX = ".safetensors"
PICKLE_SUFFIXES = frozenset({".pt", ".pth", ".bin", ".ckpt"})
#: Tensor types a weights file may hold (safetensors' names); all become float32 when loaded.
FLOAT_DTYPES = frozenset({"F16", "BF16", "F32", "F64"})


@dataclass(frozen=True)
class WeightsLimits:
    """The largest network a weights file may describe; anything beyond could never run here.

    For scale: the paper-sized preset has 44.5 M parameters and costs about 15 MFLOP per input
    pixel, the bundled lite model 0.4 M and 0.2 MFLOP; it has 2 blocks, the paper preset 6.
    """

    max_parameters: int = 100_000_000
    #: Inference cost per input pixel (a 12 MP photo at the limit is 1.2 PFLOP: hours on a CPU).
    max_mflop_per_pixel: float = 100.0
    #: Residual blocks in all (``num_rrg * num_mrb``).
    max_blocks: int = 256

    @property
    def max_pickle_bytes(self) -> int:
        """A pickled state dict of ``max_parameters`` doubles, plus room for its index."""
        return 8 * self.max_parameters + (64 << 20)


LIMITS = WeightsLimits()


#: Local pooling window used when the weights record none: 1.5x the 128 px training crop.
DEFAULT_CONTEXT_WINDOW = 192
#: Metadata keys of the contract the trainer records (:meth:`ModelDescriptor.metadata`).
CONTEXT_WINDOW_KEY = "context_window"
TRAIN_CROP_KEY = "train_crop"
EXPOSURE_CONTROL_KEY = "exposure_control"


def _recorded_int(extra: Mapping[str, str], key: str, path: Path | None) -> int | None:
    recorded = extra.get(key)
    if recorded in (None, "", "none", "None"):
        return None
    try:
        return int(recorded)
    except ValueError:
        log.warning("ignoring unreadable %s %r in %s", key, recorded, path)
        return None


@dataclass(frozen=True)
class ModelDescriptor:
    """The weights' contract in one place (spandrel-style), read from the file: what every
    caller (engine, CLI, trainer validation, wizard) must honour to get the results the
    network was trained for. Input and output are RGB in [0, 1]."""

    architecture: MIRNetConfig
    #: Local pooling window (full-resolution pixels) the network was trained for; weights that
    #: record none get :data:`DEFAULT_CONTEXT_WINDOW`, the app's window for them.
    context_window: int
    #: Training crop side, when recorded.
    train_crop: int | None = None
    #: Whether the weights were trained for the exposure control (EV jitter, highlight shoulder);
    #: older weights still take an exposure: their input is then scaled in linear light.
    exposure_trained: bool = False
    #: bf16 autocast stays >= 45 dB PSNR from fp32 (tests/test_engine.py); the engine still
    #: runs eager fp32 by default (faster) and bf16 only in the compiled path.
    supports_bf16: bool = True
    #: float16 was never measured: not advised.
    supports_fp16: bool = False

    @property
    def exposure_normalised(self) -> bool:
        """Whether the network normalises each photo's exposure itself (``exposure_key``)."""
        return self.architecture.exposure_key is not None

    @property
    def size_multiple(self) -> int:
        """Input sides are padded internally to a multiple of this."""
        return self.architecture.size_multiple

    @property
    def precision(self) -> str:
        """The advised eager precision."""
        return "fp32"

    @classmethod
    def from_metadata(cls, config: MIRNetConfig, extra: Mapping[str, str], path: Path | None = None) -> ModelDescriptor:
        """The contract of weights of architecture ``config`` whose metadata is ``extra``."""
        window = _recorded_int(extra, CONTEXT_WINDOW_KEY, path)
        return cls(architecture=config,
                   context_window=window if window is not None else DEFAULT_CONTEXT_WINDOW,
                   train_crop=_recorded_int(extra, TRAIN_CROP_KEY, path),
                   exposure_trained=extra.get(EXPOSURE_CONTROL_KEY) == "trained")

    def metadata(self) -> dict[str, str]:
        """The metadata strings :meth:`from_metadata` reads back (for :func:`save_weights`' ``extra``)."""
        meta = {CONTEXT_WINDOW_KEY: str(self.context_window)}
        if self.train_crop is not None:
            meta[TRAIN_CROP_KEY] = str(self.train_crop)
        if self.exposure_trained:
            meta[EXPOSURE_CONTROL_KEY] = "trained"
        return meta


@dataclass(frozen=True)
class WeightsInfo:
    """What a weights file says about itself."""

    path: Path
    config: MIRNetConfig
    preset: str | None = None
    training_data: str | None = None
    epochs: int | None = None
    val_psnr: float | None = None
    val_ssim: float | None = None
    date: str | None = None
    extra: dict[str, str] = field(default_factory=dict)
    #: Number of weights in the file (counted from its header); None when not known.
    parameters: int | None = None

    @property
    def descriptor(self) -> ModelDescriptor:
        """The weights' contract (context window, exposure, size multiple, precision advice)."""
        return ModelDescriptor.from_metadata(self.config, self.extra, self.path)

    def summary(self) -> str:
        """One line for people: preset, size and validation figures."""
        parts = [self.preset or "custom"]
        if self.val_psnr is not None:
            parts.append(f"val {self.val_psnr:.2f} dB")
        if self.val_ssim is not None:
            parts.append(f"SSIM {self.val_ssim:.3f}")
        if self.epochs is not None:
            parts.append(f"{self.epochs} epochs")
        return ", ".join(parts)

    def as_dict(self) -> dict[str, Any]:
        return {
            "path": str(self.path),
            "preset": self.preset,
            "architecture": json.loads(self.config.to_json()),
            "parameters": self.parameters,
            "training_data": self.training_data,
            "epochs": self.epochs,
            "val_psnr": self.val_psnr,
            "val_ssim": self.val_ssim,
            "date": self.date,
            **self.extra,
        }


def preset_of(config: MIRNetConfig) -> str | None:
    for name, preset in PRESETS.items():
        if preset.shape_only == config.shape_only:
            return name
    return None


def save_weights(
    path: str | Path,
    model: MIRNet,
    *,
    training_data: str | None = None,
    epochs: int | None = None,
    val_psnr: float | None = None,
    val_ssim: float | None = None,
    extra: dict[str, Any] | None = None,
) -> Path:
    """Write ``model``'s weights and metadata atomically (temp file, then rename)."""
    path = Path(path)
    meta: dict[str, str] = {
        "format": FORMAT_NAME,
        "format_version": FORMAT_VERSION,
        "architecture": model.config.to_json(),
        "preset": preset_of(model.config) or "custom",
        "date": _dt.datetime.now(_dt.timezone.utc).isoformat(timespec="seconds"),
    }
    if training_data is not None:
        meta["training_data"] = training_data
    if epochs is not None:
        meta["epochs"] = str(int(epochs))
    if val_psnr is not None:
        meta["val_psnr"] = f"{float(val_psnr):.4f}"
    if val_ssim is not None:
        meta["val_ssim"] = f"{float(val_ssim):.5f}"
    for key, value in (extra or {}).items():
        meta[key] = value if isinstance(value, str) else json.dumps(value)
    tensors = {k: v.detach().to("cpu", torch.float32).contiguous() for k, v in model.state_dict().items()}
    return write_atomically(path, lambda tmp: save_file(tensors, tmp, metadata=meta))


# ------------------------------------------------------------------------------ architecture


@dataclass(frozen=True)
class ArchitectureSpec:
    """What a :class:`MIRNetConfig` amounts to, computed without building anything."""

    shapes: dict[str, tuple[int, ...]]  # the state dict's tensor names and shapes
    parameters: int
    mflop_per_pixel: float  # convolutions at inference (windowed pooling), per input pixel


class _Counter:
    """Collects tensor shapes and convolution cost (FLOP per input pixel) of one module tree."""

    def __init__(self) -> None:
        self.shapes: dict[str, tuple[int, ...]] = {}
        self.flop = 0.0

    def conv(self, name: str, c_in: int, c_out: int, k: int, scale: float, bias: bool = True) -> None:
        self.shapes[f"{name}.weight"] = (c_out, c_in, k, k)
        if bias:
            self.shapes[f"{name}.bias"] = (c_out,)
        self.flop += 2.0 * c_in * k * k * c_out * scale  # ``scale``: its pixels per input pixel

    def prelu(self, name: str) -> None:
        self.shapes[f"{name}.weight"] = (1,)


def _hidden(channels: int, reduction: int) -> int:
    return max(channels // reduction, 4)  # as ChannelAttention and SelectiveKernelFusion


def _dau(n: _Counter, p: str, c: int, r: int, scale: float) -> None:
    n.conv(f"{p}.body.0", c, c, 3, scale)
    n.prelu(f"{p}.body.1")
    n.conv(f"{p}.body.2", c, c, 3, scale)
    h = _hidden(c, r)
    n.conv(f"{p}.channel_attention.squeeze", c, h, 1, scale)
    n.prelu(f"{p}.channel_attention.act")
    n.conv(f"{p}.channel_attention.excite", h, c, 1, scale)
    n.conv(f"{p}.spatial_attention.conv", 2, 1, 5, scale)
    n.conv(f"{p}.fuse", 2 * c, c, 1, scale)


def _skff(n: _Counter, p: str, c: int, inputs: int, r: int, scale: float) -> None:
    h = _hidden(c, r)
    n.conv(f"{p}.squeeze.0", c, h, 1, scale)
    n.prelu(f"{p}.squeeze.1")
    for i in range(inputs):
        n.conv(f"{p}.select.{i}", h, c, 1, scale)


def _resample(n: _Counter, p: str, ch: list[int], src: int, dst: int) -> None:
    if dst > src:
        for step, k in enumerate(range(src, dst)):
            q, scale = f"{p}.{step}", 4.0**-k
            n.conv(f"{q}.main.0", ch[k], ch[k], 1, scale)
            n.prelu(f"{q}.main.1")
            n.conv(f"{q}.main.2", ch[k], ch[k], 3, scale)
            n.prelu(f"{q}.main.3")
            n.conv(f"{q}.main.5", ch[k], ch[k + 1], 1, scale / 4, bias=False)
            n.conv(f"{q}.skip.1", ch[k], ch[k + 1], 1, scale / 4, bias=False)
    else:
        for step, k in enumerate(range(src, dst, -1)):
            q, scale = f"{p}.{step}", 4.0**-k
            n.conv(f"{q}.main_pre.0", ch[k], ch[k], 1, scale)
            n.prelu(f"{q}.main_pre.1")
            n.conv(f"{q}.main_pre.2", ch[k], ch[k], 3, scale)
            n.prelu(f"{q}.main_pre.3")
            n.conv(f"{q}.main_post", ch[k], ch[k - 1], 1, scale, bias=False)
            n.conv(f"{q}.skip", ch[k], ch[k - 1], 1, scale, bias=False)


def _block(config: MIRNetConfig) -> _Counter:
    """One multi-scale residual block, names relative to the block (``core.model``'s layout)."""
    n = _Counter()
    s, r = config.num_streams, config.reduction
    ch = [config.stream_channels(k) for k in range(s)]
    for k in range(1, s):
        _resample(n, f"enter.{k - 1}", ch, 0, k)
    for k in range(s):
        _dau(n, f"attend_first.{k}", ch[k], r, 4.0**-k)
    for j in range(s):
        for i in range(s):
            if i != j:
                _resample(n, f"exchange.{j}.{i}", ch, i, j)
    for j in range(s):
        _skff(n, f"exchange_fuse.{j}", ch[j], s, r, 4.0**-j)
    for k in range(s):
        _dau(n, f"attend_second.{k}", ch[k], r, 4.0**-k)
    for k in range(1, s):
        _resample(n, f"leave.{k - 1}", ch, k, 0)
    _skff(n, "output_fuse", ch[0], s, r, 1.0)
    n.conv("out_conv", ch[0], ch[0], 3, 1.0)
    return n


def _check_fields(config: MIRNetConfig) -> None:
    for name in ("channels", "num_rrg", "num_mrb", "num_streams", "reduction", "in_channels", "out_channels"):
        value = getattr(config, name)
        if isinstance(value, bool) or not isinstance(value, int):
            raise ValueError(f"{name} must be a whole number, not {value!r}")
    for name in ("channel_factor", "exposure_key", "highlight_knee", "shoulder_hue", "chroma_gain", "shadow_chroma"):
        value = getattr(config, name)
        if value is not None and (isinstance(value, bool) or not isinstance(value, int | float)
                                  or not math.isfinite(value)):
            raise ValueError(f"{name} must be a finite number, not {value!r}")
    bins = config.auto_exposure_bins
    if bins is not None and (isinstance(bins, bool) or not isinstance(bins, int)):
        raise ValueError(f"auto_exposure_bins must be a whole number, not {bins!r}")
    if config.reduction < 1:
        raise ValueError(f"reduction must be at least 1, not {config.reduction}")
    if config.in_channels != 3 or config.out_channels != 3:
        raise ValueError(f"the network must map RGB to RGB (3 channels), not {config.in_channels} to "
                         f"{config.out_channels}")


def _count(shapes: Mapping[str, Sequence[int]]) -> int:
    return sum(math.prod(shape) for shape in shapes.values())


def _format_count(n: float) -> str:
    for unit, size in (("G", 1e9), ("M", 1e6), ("k", 1e3)):
        if abs(n) >= size:
            return f"{n / size:.1f} {unit}"
    return f"{n:.0f}"


def describe_architecture(config: MIRNetConfig, limits: WeightsLimits = LIMITS) -> ArchitectureSpec:
    """Tensor shapes, parameter count and cost of ``config`` without building it.

    Raises ``ValueError`` (a sentence for people) for fields of the wrong type and for a
    network beyond ``limits``; the size is checked before any per-tensor list is made.
    """
    _check_fields(config)
    try:
        widths = [config.stream_channels(k) for k in range(config.num_streams)]
    except (OverflowError, ValueError):
        raise ValueError(f"channel_factor {config.channel_factor} gives impossible stream widths") from None
    c = config.channels
    head_in = config.in_channels * (2 if config.exposure_key is not None else 1)
    block = _block(config)
    outer = _Counter()
    outer.conv("head", head_in, c, 3, 1.0)
    outer.conv("tail", c, config.out_channels, 3, 1.0)
    if config.auto_exposure_bins:
        outer.shapes["exposure_head.linear.weight"] = (1, feature_count(config.auto_exposure_bins))
        outer.shapes["exposure_head.linear.bias"] = (1,)
    group = _Counter()
    group.conv("body.0", c, c, 3, 1.0)
    group.conv(f"body.{config.num_mrb + 1}", c, c, 3, 1.0)
    blocks = config.num_rrg * config.num_mrb
    parameters = _count(outer.shapes) + config.num_rrg * _count(group.shapes) + blocks * _count(block.shapes)
    mflop = (outer.flop + config.num_rrg * group.flop + blocks * block.flop) / 1e6
    size = (f"channels={c} (streams {'/'.join(map(str, widths))}), num_rrg={config.num_rrg}, "
            f"num_mrb={config.num_mrb}")
    if parameters > limits.max_parameters:
        raise ValueError(f"it describes a network of {_format_count(parameters)} parameters ({size}); more than "
                         f"{_format_count(limits.max_parameters)} is refused: a network that large could "
                         "never run here")
    if mflop > limits.max_mflop_per_pixel:
        raise ValueError(f"it describes a network that costs {mflop:,.0f} MFLOP per pixel ({size}); more than "
                         f"{limits.max_mflop_per_pixel:,.0f} is refused: a photo would take hours or days")
    if blocks > limits.max_blocks:
        raise ValueError(f"it describes a network of {blocks} residual blocks ({size}); more than "
                         f"{limits.max_blocks} is refused")
    shapes = {k: outer.shapes[k] for k in ("head.weight", "head.bias")}
    for g in range(config.num_rrg):
        for name, shape in group.shapes.items():
            shapes[f"groups.{g}.{name}"] = shape
        for b in range(1, config.num_mrb + 1):
            for name, shape in block.shapes.items():
                shapes[f"groups.{g}.body.{b}.{name}"] = shape
    shapes.update((k, v) for k, v in outer.shapes.items() if not k.startswith("head."))
    return ArchitectureSpec(shapes, parameters, mflop)


def infer_config(state: Mapping[str, Any]) -> MIRNetConfig:
    """Recover the architecture from the tensor shapes of a state dict (for files without metadata).

    ``state`` maps names to tensors or to shapes.
    """
    shapes = {k: tuple(v.shape) if hasattr(v, "shape") else tuple(v) for k, v in state.items()}
    try:
        channels = shapes["head.weight"][0]
        # A 6-channel head means exposure normalisation (its key is only in metadata; 0.11 is ours).
        exposure_key = 0.11 if shapes["head.weight"][1] == 6 else None
        head = shapes.get("exposure_head.linear.weight")
        bins = head[1] - feature_count(0) if head is not None and len(head) == 2 else None
        num_rrg = 1 + max(int(k.split(".")[1]) for k in shapes if k.startswith("groups."))
        mrb_ids = {int(k.split(".")[3]) for k in shapes if k.startswith("groups.0.body.") and ".attend_first." in k}
        num_mrb = len(mrb_ids)
        first = min(mrb_ids)
        prefix = f"groups.0.body.{first}."
        streams = 1 + max(int(k[len(prefix):].split(".")[1]) for k in shapes if k.startswith(prefix + "attend_first."))
        widths = [shapes[f"{prefix}attend_first.{k}.body.0.weight"][0] for k in range(streams)]
        factor = widths[1] / widths[0] if streams > 1 else 1.5
        hidden = shapes[f"{prefix}attend_first.0.channel_attention.squeeze.weight"][0]
        reduction = next((r for r in (8, 4, 16, 2, 1) if max(channels // r, 4) == hidden), 8)
        candidates = [MIRNetConfig(channels=channels, num_rrg=num_rrg, num_mrb=num_mrb, num_streams=streams,
                                   channel_factor=f, reduction=reduction, exposure_key=exposure_key,
                                   auto_exposure_bins=bins)
                      for f in (factor, round(factor, 2), round(factor * 4) / 4)]
        for cfg in candidates:
            if [cfg.stream_channels(k) for k in range(streams)] == widths:
                return cfg
        return candidates[0]
    except (KeyError, ValueError, IndexError, TypeError, ZeroDivisionError) as exc:
        raise ValueError(f"tensor names do not match a MIRNet ({exc})") from exc


# ------------------------------------------------------------------------------ reading


@dataclass
class _Contents:
    """A weights file's tensor shapes and types (and, once read, the tensors) plus its metadata."""

    shapes: dict[str, tuple[int, ...]]
    dtypes: dict[str, str]
    meta: dict[str, str]
    tensors: dict[str, torch.Tensor] | None = None


def _safetensors_error(path: Path, exc: BaseException) -> WeightsError:
    return WeightsError(path, f"not a valid .safetensors file (corrupt or truncated?): {exc}")


def _read_header(path: Path) -> _Contents:
    """Names, shapes, types and metadata from the safetensors header; no tensor is read."""
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            meta = dict(handle.metadata() or {})
            shapes, dtypes = {}, {}
            for name in handle.keys():
                view = handle.get_slice(name)
                shapes[name] = tuple(int(d) for d in view.get_shape())
                dtypes[name] = str(view.get_dtype())
    except (KeyboardInterrupt, SystemExit):
        raise
    except BaseException as exc:  # SafetensorError, OSError, and pyo3's PanicException (a BaseException)
        raise _safetensors_error(path, exc) from None
    return _Contents(shapes, dtypes, meta)


def _torch_dtype_name(dtype: torch.dtype) -> str:
    return {torch.float16: "F16", torch.bfloat16: "BF16", torch.float32: "F32", torch.float64: "F64"}.get(
        dtype, str(dtype).removeprefix("torch."))


def _read_pickle(path: Path, limits: WeightsLimits) -> _Contents:
    size = path.stat().st_size
    if size > limits.max_pickle_bytes:
        raise WeightsError(path, f"{_format_count(size)}B is larger than any network we accept "
                                 f"({_format_count(limits.max_parameters)} parameters); refused")
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception:  # noqa: BLE001 - UnpicklingError, RuntimeError, EOFError, zip errors...
        # torch's own message advises weights_only=False, which would run the file's code: never say that.
        raise WeightsError(
            path, "refused: this pickled checkpoint is not a plain set of tensors (or it is damaged). "
                  "Pickles can run code when they are opened, so only plain tensor state dicts are read. "
                  f"Use a .safetensors file instead: train one with '{_CLI} train' or the Retrain wizard, "
                  f"or turn a plain state dict into one with '{_CLI} convert FILE.pt OUT.safetensors'") from None
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not obj or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise WeightsError(path, "the file does not hold a plain state dict of tensors")
    tensors = {str(k).removeprefix("module."): v for k, v in obj.items()}
    return _Contents({k: tuple(v.shape) for k, v in tensors.items()},
                     {k: _torch_dtype_name(v.dtype) for k, v in tensors.items()}, {}, tensors)


_CLI = "lowlight"


def read_weights_info(path: str | Path) -> WeightsInfo:
    """Metadata of a weights file, checked against its header; builds nothing, reads no tensor.

    (A pickled state dict has no header: its tensors are read, but nothing is built.)
    """
    return _load(Path(path), build=False)[1]


def load_weights(path: str | Path, device: str | torch.device = "cpu") -> tuple[MIRNet, WeightsInfo]:
    """Build the MIRNet a weights file describes and load its tensors (strictly)."""
    model, info = _load(Path(path), build=True)
    assert model is not None
    return model.to(device).eval(), info


def convert_to_safetensors(source: str | Path, target: str | Path) -> Path:
    """Write the weights of ``source`` (a plain state dict pickle, or any readable weights file)
    as ``target`` in our ``.safetensors`` format, with the architecture in the metadata.

    Never replaces an existing ``target``. Raises :class:`WeightsError`.
    """
    source, target = Path(source), Path(target)
    if target.suffix.lower() != SAFETENSORS_SUFFIX:
        raise WeightsError(target, f"the converted file's name must end in {SAFETENSORS_SUFFIX}")
    if target.exists():
        raise WeightsError(target, "exists already; choose another name")
    model, info = load_weights(source)
    extra = {k: v for k, v in info.extra.items() if k not in {"preset"}}
    return save_weights(target, model, training_data=info.training_data, epochs=info.epochs,
                        val_psnr=info.val_psnr, val_ssim=info.val_ssim, extra=extra)


def _mismatch(spec: ArchitectureSpec, contents: _Contents) -> str | None:
    expected, found = spec.shapes, contents.shapes
    missing = sorted(set(expected) - set(found))
    unexpected = sorted(set(found) - set(expected))
    wrong = sorted(k for k in set(expected) & set(found) if tuple(expected[k]) != tuple(found[k]))
    details = []
    if missing:
        details.append(f"{len(missing)} missing tensors (e.g. {missing[0]})")
    if unexpected:
        details.append(f"{len(unexpected)} unexpected tensors (e.g. {unexpected[0]})")
    if wrong:
        details.append(f"{len(wrong)} tensors of the wrong shape (e.g. {wrong[0]}: {list(found[wrong[0]])} "
                       f"instead of {list(expected[wrong[0]])})")
    return "; ".join(details) or None


def _load(path: Path, *, build: bool, limits: WeightsLimits = LIMITS) -> tuple[MIRNet | None, WeightsInfo]:
    problem = file_problem(path)
    if problem is not None:
        raise WeightsError(path, "is a folder, not a weights file" if problem.startswith("is a folder") else problem)
    if path.stat().st_size == 0:
        raise WeightsError(path, "file is empty")
    suffix = path.suffix.lower()
    if suffix == SAFETENSORS_SUFFIX:
        contents = _read_header(path)
    elif suffix in PICKLE_SUFFIXES:
        contents = _read_pickle(path, limits)
    else:
        raise WeightsError(path, "unknown weights format; expected .safetensors (or a .pt/.pth state dict)")

    meta = contents.meta
    if meta.get("format", FORMAT_NAME) != FORMAT_NAME:
        raise WeightsError(path, f"metadata says format '{meta.get('format')}', not {FORMAT_NAME}")
    try:
        config = (MIRNetConfig.from_json(meta["architecture"]) if "architecture" in meta
                  else infer_config(contents.shapes))
        if not isinstance(config, MIRNetConfig):
            raise ValueError("the architecture metadata is not a JSON object")
    except (ValueError, TypeError, AttributeError, RecursionError) as exc:  # JSONDecodeError is a ValueError
        raise WeightsError(path, f"architecture cannot be determined: {exc}") from None
    try:
        spec = describe_architecture(config, limits)
    except ValueError as exc:
        raise WeightsError(path, f"refused: {exc}") from None
    mismatch = _mismatch(spec, contents)
    if mismatch:
        raise WeightsError(path, f"does not match the MIRNet architecture it describes: {mismatch}")
    odd = sorted(k for k, t in contents.dtypes.items() if t not in FLOAT_DTYPES)
    if odd:
        raise WeightsError(path, f"{len(odd)} tensors are not floating point (e.g. {odd[0]}: "
                                 f"{contents.dtypes[odd[0]]})")

    def _num(key: str, kind: type) -> Any:
        try:
            value = kind(meta[key]) if key in meta else None
        except (ValueError, OverflowError):
            return None
        return value if value is None or kind is not float or math.isfinite(value) else None

    known = {"format", "format_version", "architecture", "preset", "training_data", "epochs", "val_psnr",
             "val_ssim", "date"}
    info = WeightsInfo(
        path=path,
        config=config,
        preset=meta.get("preset") or preset_of(config),
        training_data=meta.get("training_data"),
        epochs=_num("epochs", int),
        val_psnr=_num("val_psnr", float),
        val_ssim=_num("val_ssim", float),
        date=meta.get("date"),
        extra={k: v for k, v in meta.items() if k not in known},
        parameters=spec.parameters,
    )
    if not build:
        return None, info

    tensors = contents.tensors
    if tensors is None:
        try:
            tensors = load_file(str(path))
        except (KeyboardInterrupt, SystemExit):
            raise
        except BaseException as exc:  # see _read_header
            raise _safetensors_error(path, exc) from None
        if {k: tuple(v.shape) for k, v in tensors.items()} != contents.shapes:
            raise WeightsError(path, "the file changed while it was being read")
    if not all(torch.isfinite(t).all() for t in tensors.values() if t.is_floating_point()):
        raise WeightsError(path, "contains NaN or infinite values")
    model = MIRNet(config)
    try:
        model.load_state_dict({k: v.float() for k, v in tensors.items()}, strict=True)
    except RuntimeError as exc:  # cannot happen after the checks above; a clear message if it does
        raise WeightsError(path, f"does not match the MIRNet architecture it describes: {exc}") from None
    return model, info
