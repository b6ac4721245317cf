"""Property-based fuzzing of the weights loader (hypothesis, bounded budget for CI).

Small valid ``.safetensors`` files are truncated, bit-flipped, have bytes of their header
overwritten, or have a field of their JSON header (a shape, a type, offsets, the length, an
architecture value) replaced. Every case must end quickly either in a loaded model or in a
:class:`WeightsError` naming the file: never another exception, a hang, a huge allocation or a
file left behind. ``derandomize`` keeps CI runs reproducible.
"""

from __future__ import annotations

import json
import struct
import tempfile
from pathlib import Path

import pytest
import torch
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from core.config import MIRNetConfig
from core.errors import WeightsError
from core.model import MIRNet
from core.weights import load_weights, read_weights_info, save_weights

pytestmark = pytest.mark.timeout(300)

BUDGET = settings(max_examples=60, deadline=5000, derandomize=True, database=None,
                  suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large])
CONFIGS = {
    "plain": MIRNetConfig(channels=4, num_rrg=1, num_mrb=1, num_streams=1),
    "exposure": MIRNetConfig(channels=4, num_rrg=1, num_mrb=1, num_streams=2, exposure_key=0.11,
                             highlight_knee=0.85, auto_exposure_bins=8),
}


def _seed(config: MIRNetConfig) -> bytes:
    torch.manual_seed(0)
    with tempfile.TemporaryDirectory() as folder:
        return save_weights(Path(folder) / "seed.safetensors", MIRNet(config), epochs=3, val_psnr=20.5).read_bytes()


SEEDS = {name: _seed(config) for name, config in CONFIGS.items()}

_JSON_VALUES = st.recursive(
    st.none() | st.booleans() | st.integers(-2**70, 2**70) | st.floats(allow_nan=True) | st.text(max_size=8),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=6), inner, max_size=3),
    max_leaves=6)


def _split(data: bytes) -> tuple[dict, bytes]:
    (length,) = struct.unpack("<Q", data[:8])
    return json.loads(data[8:8 + length]), data[8 + length:]


def _join(header: dict, body: bytes) -> bytes:
    text = json.dumps(header).encode()
    return struct.pack("<Q", len(text)) + text + body


@st.composite
def mutations(draw: st.DrawFn, data: bytes) -> bytes:
    """A truncated, bit-flipped, byte-patched or field-edited copy of a safetensors file."""
    kind = draw(st.sampled_from(["truncate", "flip", "patch", "field", "architecture", "length"]))
    if kind == "truncate":
        return data[: draw(st.integers(0, len(data) - 1))]
    blob = bytearray(data)
    if kind == "flip":
        for bit in draw(st.lists(st.integers(0, len(data) * 8 - 1), min_size=1, max_size=12)):
            blob[bit // 8] ^= 1 << (bit % 8)
        return bytes(blob)
    header, body = _split(data)
    if kind == "patch":  # raw bytes over the length prefix or the JSON text
        start = draw(st.integers(0, 8 + len(json.dumps(header)) - 1))
        patch = draw(st.binary(min_size=1, max_size=16))
        blob[start:start + len(patch)] = patch
        return bytes(blob)
    if kind == "length":
        return struct.pack("<Q", draw(st.integers(0, 2**64 - 1))) + data[8:]
    if kind == "architecture":
        meta = header["__metadata__"]
        arch = json.loads(meta["architecture"])
        arch[draw(st.sampled_from([*arch, "extra"]))] = draw(
            _JSON_VALUES | st.integers(0, 5000) | st.sampled_from([0, 1, 3, 4, 64, 4096, 10**9]))
        meta["architecture"] = draw(st.sampled_from([json.dumps(arch), json.dumps(arch)[:-3], "[]", "7"]))
        return _join(header, body)
    name = draw(st.sampled_from(sorted(k for k in header if k != "__metadata__")))
    field = draw(st.sampled_from(["shape", "dtype", "data_offsets"]))
    if field == "shape":
        value = draw(st.lists(st.integers(0, 2**40), max_size=5) | _JSON_VALUES)
    elif field == "dtype":
        value = draw(st.sampled_from(["F32", "F16", "BF16", "F64", "I64", "U8", "BOOL", "F8_E4M3", "X"]) | _JSON_VALUES)
    else:
        value = draw(st.lists(st.integers(0, 2**64 - 1), min_size=2, max_size=2) | _JSON_VALUES)
    header[name][field] = value
    return _join(header, body)


def _check_one(blob: bytes) -> None:
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "fuzz.safetensors"
        path.write_bytes(blob)
        for read in (read_weights_info, load_weights):
            try:
                result = read(path)
            except WeightsError as exc:
                assert path.name in str(exc), str(exc)
            else:
                model = result[0] if isinstance(result, tuple) else None
                if model is not None:
                    with torch.inference_mode():
                        out = model(torch.rand(1, 3, 8, 8))
                    assert out.shape == (1, 3, 8, 8)
        assert sorted(p.name for p in Path(folder).iterdir()) == ["fuzz.safetensors"]


@pytest.mark.parametrize("name", sorted(SEEDS))
def test_seed_files_load(name):
    with tempfile.TemporaryDirectory() as folder:
        path = Path(folder) / "seed.safetensors"
        path.write_bytes(SEEDS[name])
        model, info = load_weights(path)
        assert info.config == CONFIGS[name] and info.epochs == 3


@pytest.mark.parametrize("name", sorted(SEEDS))
def test_mangled_weights_fail_cleanly_or_load(name, one_torch_thread):
    @BUDGET
    @given(blob=mutations(SEEDS[name]))
    def check(blob: bytes) -> None:
        _check_one(blob)

    check()
