"""Low-light enhancement core: MIRNet, weights, engine, image I/O, metrics. Never imports Qt."""

from .config import PRESETS, MIRNetConfig, get_preset
from .errors import (
    CancelledError,
    CoreError,
    ImageReadError,
    ImageWriteError,
    InsufficientMemoryError,
    WeightsError,
)
from .model import MIRNet, count_parameters, estimate_gflops
from .weights import WeightsInfo, load_weights, read_weights_info, save_weights

__all__ = [
    "PRESETS",
    "MIRNetConfig",
    "get_preset",
    "CancelledError",
    "CoreError",
    "ImageReadError",
    "ImageWriteError",
    "InsufficientMemoryError",
    "WeightsError",
    "MIRNet",
    "count_parameters",
    "estimate_gflops",
    "WeightsInfo",
    "load_weights",
    "read_weights_info",
    "save_weights",
]
