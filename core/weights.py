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
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import torch
from safetensors import SafetensorError
from safetensors.torch import load_file, save_file

from .atomic import write_atomically
from .config import PRESETS, MIRNetConfig
from .errors import WeightsError
from .model import MIRNet

log = logging.getLogger(__name__)

FORMAT_NAME = "lowlight-mirnet"
FORMAT_VERSION = "1"


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


def infer_config(state: dict[str, torch.Tensor]) -> MIRNetConfig:
    """Recover the architecture from tensor shapes of a state dict (for files without metadata)."""
    try:
        channels = state["head.weight"].shape[0]
        # A 6-channel head means exposure normalisation (its key is only in metadata; 0.11 is ours).
        exposure_key = 0.11 if state["head.weight"].shape[1] == 6 else None
        num_rrg = 1 + max(int(k.split(".")[1]) for k in state if k.startswith("groups."))
        mrb_ids = {int(k.split(".")[3]) for k in state if k.startswith("groups.0.body.") and ".attend_first." in k}
        num_mrb = len(mrb_ids)
        first = min(mrb_ids)
        prefix = f"groups.0.body.{first}."
        streams = 1 + max(int(k[len(prefix):].split(".")[1]) for k in state if k.startswith(prefix + "attend_first."))
        widths = [state[f"{prefix}attend_first.{k}.body.0.weight"].shape[0] for k in range(streams)]
        factor = widths[1] / widths[0] if streams > 1 else 1.5
        hidden = state[f"{prefix}attend_first.0.channel_attention.squeeze.weight"].shape[0]
        reduction = next((r for r in (8, 4, 16, 2, 1) if max(channels // r, 4) == hidden), 8)
        candidates = [MIRNetConfig(channels=channels, num_rrg=num_rrg, num_mrb=num_mrb, num_streams=streams,
                                   channel_factor=f, reduction=reduction, exposure_key=exposure_key)
                      for f in (factor, round(factor, 2), round(factor * 4) / 4)]
        for cfg in candidates:
            if [cfg.stream_channels(k) for k in range(streams)] == widths:
                return cfg
        return candidates[0]
    except (KeyError, ValueError, IndexError) as exc:
        raise ValueError(f"tensor names do not match a MIRNet ({exc})") from exc


def _read_safetensors(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    from safetensors import safe_open

    try:
        with safe_open(str(path), framework="pt") as handle:
            meta = dict(handle.metadata() or {})
        tensors = load_file(str(path))
    except (SafetensorError, OSError, ValueError, RuntimeError) as exc:
        raise WeightsError(path, f"not a valid .safetensors file (corrupt or truncated?): {exc}") from exc
    return tensors, meta


def _read_pickle(path: Path) -> tuple[dict[str, torch.Tensor], dict[str, str]]:
    try:
        obj = torch.load(str(path), map_location="cpu", weights_only=True)
    except Exception as exc:  # torch raises UnpicklingError, RuntimeError, EOFError...
        raise WeightsError(
            path, f"refused: only plain state dicts readable with torch.load(weights_only=True) are accepted ({exc})"
        ) from exc
    if isinstance(obj, dict) and "state_dict" in obj and isinstance(obj["state_dict"], dict):
        obj = obj["state_dict"]
    if not isinstance(obj, dict) or not all(isinstance(v, torch.Tensor) for v in obj.values()):
        raise WeightsError(path, "the file does not hold a plain state dict of tensors")
    return {k.removeprefix("module."): v for k, v in obj.items()}, {}


def read_weights_info(path: str | Path) -> WeightsInfo:
    """Metadata of a weights file without building the model."""
    return _load(Path(path), build=False)[1]


def load_weights(path: str | Path, device: str | torch.device = "cpu") -> tuple[MIRNet, WeightsInfo]:
    """Build the MIRNet a weights file describes and load its tensors (strictly)."""
    model, info = _load(Path(path), build=True)
    assert model is not None
    return model.to(device).eval(), info


def _load(path: Path, *, build: bool) -> tuple[MIRNet | None, WeightsInfo]:
    if not path.exists():
        raise WeightsError(path, "file not found")
    if path.is_dir():
        raise WeightsError(path, "is a folder, not a weights file")
    if path.stat().st_size == 0:
        raise WeightsError(path, "file is empty")
    if path.suffix.lower() == ".safetensors":
        tensors, meta = _read_safetensors(path)
    elif path.suffix.lower() in {".pt", ".pth", ".bin", ".ckpt"}:
        tensors, meta = _read_pickle(path)
    else:
        raise WeightsError(path, "unknown weights format; expected .safetensors (or a .pt/.pth state dict)")

    if meta.get("format", FORMAT_NAME) != FORMAT_NAME:
        raise WeightsError(path, f"metadata says format '{meta.get('format')}', not {FORMAT_NAME}")
    try:
        config = MIRNetConfig.from_json(meta["architecture"]) if "architecture" in meta else infer_config(tensors)
    except (ValueError, TypeError, json.JSONDecodeError) as exc:
        raise WeightsError(path, f"architecture cannot be determined: {exc}") from exc

    def _num(key: str, kind: type) -> Any:
        try:
            return kind(meta[key]) if key in meta else None
        except ValueError:
            return None

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
    )
    # Build even when only the metadata is wanted, so a broken file is reported as broken.
    model = MIRNet(config)
    expected = model.state_dict()
    missing = sorted(set(expected) - set(tensors))
    unexpected = sorted(set(tensors) - set(expected))
    wrong = sorted(k for k in set(expected) & set(tensors) if expected[k].shape != tensors[k].shape)
    if missing or unexpected or wrong:
        details = []
        if missing:
            details.append(f"{len(missing)} missing tensors (e.g. {missing[0]})")
        if unexpected:
            details.append(f"{len(unexpected)} unexpected tensors (e.g. {unexpected[0]})")
        if wrong:
            details.append(f"{len(wrong)} tensors of the wrong shape (e.g. {wrong[0]})")
        raise WeightsError(path, "does not match the MIRNet architecture it describes: " + "; ".join(details))
    if not all(torch.isfinite(t).all() for t in tensors.values() if t.is_floating_point()):
        raise WeightsError(path, "contains NaN or infinite values")
    model.load_state_dict({k: v.float() for k, v in tensors.items()}, strict=True)
    return (model if build else None), info
