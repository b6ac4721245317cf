"""Low-light enhancement core: MIRNet, weights, engine, image I/O, metrics. Never imports Qt."""

from .batch import (
    BatchOptions,
    BatchProgress,
    BatchReport,
    collect_inputs,
    plan_output,
    run_batch,
    run_batch_steps,
)
from .config import PRESETS, MIRNetConfig, get_preset
from .engine import EngineConfig, Enhancer, ProgressEvent, blend_strength, default_weights_path
from .errors import (
    CancelledError,
    CoreError,
    DeviceOutOfMemoryError,
    ImageReadError,
    ImageWriteError,
    InsufficientMemoryError,
    WeightsError,
)
from .io import ImageData, read_image, unique_path, write_image
from .metrics import psnr, ssim
from .model import MIRNet, count_parameters, estimate_gflops
from .weights import ModelDescriptor, WeightsInfo, load_weights, read_weights_info, save_weights

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
    "ModelDescriptor",
    "WeightsInfo",
    "load_weights",
    "read_weights_info",
    "save_weights",
    "ImageData",
    "read_image",
    "write_image",
    "unique_path",
    "psnr",
    "ssim",
    "BatchOptions",
    "BatchProgress",
    "BatchReport",
    "collect_inputs",
    "plan_output",
    "run_batch",
    "run_batch_steps",
    "DeviceOutOfMemoryError",
    "EngineConfig",
    "Enhancer",
    "ProgressEvent",
    "blend_strength",
    "default_weights_path",
]
