"""core.weights: headers are checked against the described architecture before anything is built."""

from __future__ import annotations

import json
import os
import pickle
import threading
import time
from pathlib import Path

import pytest
import torch
from safetensors import safe_open
from safetensors.torch import load_file, save_file

from core.cli import main
from core.config import PRESETS, MIRNetConfig
from core.errors import WeightsError
from core.model import MIRNet, count_parameters, estimate_gflops
from core.weights import (
    DEFAULT_CONTEXT_WINDOW,
    LIMITS,
    ModelDescriptor,
    convert_to_safetensors,
    describe_architecture,
    infer_config,
    load_weights,
    read_weights_info,
    save_weights,
)

TINY = MIRNetConfig(channels=8, num_rrg=1, num_mrb=1)


def _rewrite(source: Path, target: Path, *, arch: dict | None = None, tensors: dict | None = None,
             drop_meta: bool = False) -> Path:
    """A copy of ``source`` with its architecture metadata and/or tensors edited."""
    with safe_open(str(source), framework="pt") as handle:
        meta = dict(handle.metadata())
    if arch is not None:
        described = json.loads(meta["architecture"])
        described.update(arch)
        meta["architecture"] = json.dumps(described)
    save_file(tensors if tensors is not None else load_file(str(source)), str(target),
              metadata=None if drop_meta else meta)
    return target


@pytest.mark.parametrize("config", [
    *PRESETS.values(),
    MIRNetConfig(channels=6, num_rrg=2, num_mrb=1, num_streams=2),
    MIRNetConfig(channels=8, num_rrg=1, num_mrb=2, num_streams=4, channel_factor=1.75, reduction=4,
                 exposure_key=0.11, auto_exposure_bins=16),
    MIRNetConfig(channels=4, num_rrg=1, num_mrb=1, num_streams=1),
])
def test_described_shapes_are_those_of_the_real_model(config, one_torch_thread):
    model = MIRNet(config)
    spec = describe_architecture(config)
    assert spec.shapes == {k: tuple(v.shape) for k, v in model.state_dict().items()}
    assert spec.parameters == count_parameters(model)
    if spec.parameters > 1_000_000:
        return  # a forward pass of the big presets takes seconds; their cost is the same sum
    # windowed pooling at inference costs a little more than the global pooling estimate_gflops sees
    per_pixel = estimate_gflops(model, 32, 32) * 1e3 / (32 * 32)
    assert per_pixel <= spec.mflop_per_pixel <= 1.1 * per_pixel


def test_a_huge_described_architecture_is_refused_without_building(tiny_weights, tmp_path, monkeypatch, capsys):
    huge = _rewrite(tiny_weights, tmp_path / "huge.safetensors", arch={"channels": 4096, "num_rrg": 64, "num_mrb": 16})
    import core.weights

    def no_building(*args, **kwargs):
        raise AssertionError("a model was built")

    monkeypatch.setattr(core.weights, "MIRNet", no_building)
    started = time.perf_counter()
    for read in (read_weights_info, load_weights):
        with pytest.raises(WeightsError, match=r"huge\.safetensors.*parameters.*more than 100\.0 M is refused"):
            read(huge)
    assert time.perf_counter() - started < 1.0
    assert main(["info", str(huge)]) == 2
    err = capsys.readouterr().err
    assert "refused" in err and "Traceback" not in err


@pytest.mark.parametrize("arch, words", [
    ({"channels": 4, "num_rrg": 200, "num_mrb": 4}, "residual blocks"),
    ({"channels": 1000, "num_rrg": 1, "num_mrb": 1, "num_streams": 1}, "MFLOP per pixel"),
    ({"channel_factor": 1e300, "num_streams": 4}, "impossible stream widths"),
    ({"reduction": 0}, "reduction"),
    ({"channels": "8"}, "cannot be determined|whole number"),
    ({"num_rrg": 2.0}, "whole number"),
    ({"in_channels": 4}, "RGB"),
    ({"shoulder_hue": "yes"}, "cannot be determined|finite number"),
    ({"shoulder_hue": 2.0}, "shoulder_hue"),
])
def test_other_impossible_architectures_are_refused(tiny_weights, tmp_path, arch, words):
    path = _rewrite(tiny_weights, tmp_path / "odd.safetensors", arch=arch)
    with pytest.raises(WeightsError, match=words):
        read_weights_info(path)


def test_a_header_that_does_not_match_its_architecture(tiny_weights, tmp_path):
    tensors = load_file(str(tiny_weights))
    tensors["tail.weight"] = torch.zeros(3, 8, 5, 5)
    path = _rewrite(tiny_weights, tmp_path / "mismatch.safetensors", tensors=tensors)
    with pytest.raises(WeightsError, match=r"wrong shape \(e\.g\. tail\.weight: \[3, 8, 5, 5\] instead of \[3, 8, 3, 3\]"):
        read_weights_info(path)
    tensors = load_file(str(tiny_weights))
    tensors["head.bias"] = tensors["head.bias"].to(torch.int32)
    path = _rewrite(tiny_weights, tmp_path / "ints.safetensors", tensors=tensors)
    with pytest.raises(WeightsError, match="not floating point"):
        read_weights_info(path)


def test_info_counts_parameters_from_the_header(tiny_weights):
    assert read_weights_info(tiny_weights).parameters == count_parameters(MIRNet(TINY))


def test_files_from_before_the_exposure_fields_still_load(tiny_weights, tmp_path):
    with safe_open(str(tiny_weights), framework="pt") as handle:
        described = json.loads(handle.metadata()["architecture"])
    for key in ("highlight_knee", "shoulder_hue", "auto_exposure_bins"):
        described.pop(key, None)
    old = tmp_path / "old.safetensors"
    with safe_open(str(tiny_weights), framework="pt") as handle:
        meta = dict(handle.metadata(), architecture=json.dumps(described))
    save_file(load_file(str(tiny_weights)), str(old), metadata=meta)
    model, info = load_weights(old)
    assert info.config.highlight_knee is None and info.config.auto_exposure_bins is None
    assert info.config.shoulder_hue == 0.0
    # and the new head loads, from metadata or inferred from the tensors alone
    config = MIRNetConfig(channels=8, num_rrg=1, num_mrb=1, exposure_key=0.11, highlight_knee=0.85,
                          auto_exposure_bins=16)
    path = save_weights(tmp_path / "head.safetensors", MIRNet(config))
    assert load_weights(path)[1].config == config
    bare = _rewrite(path, tmp_path / "bare.safetensors", drop_meta=True)
    assert load_weights(bare)[1].config.auto_exposure_bins == 16
    assert infer_config(MIRNet(config).state_dict()).auto_exposure_bins == 16


class _RunsCode:
    def __reduce__(self):
        return (os.system, ("true",))


def test_pickle_refusal_is_in_our_words(tmp_path):
    evil = tmp_path / "evil.pt"
    evil.write_bytes(pickle.dumps({"head.weight": _RunsCode()}))
    with pytest.raises(WeightsError) as caught:
        load_weights(evil)
    message = str(caught.value)
    assert "evil.pt" in message and ".safetensors" in message and "lowlight convert" in message
    assert "weights_only" not in message


def test_convert_a_plain_state_dict(tmp_path, capsys):
    torch.manual_seed(1)
    model = MIRNet(TINY).eval()
    plain = tmp_path / "plain.pth"
    torch.save(model.state_dict(), plain)
    target = tmp_path / "converted.safetensors"
    assert main(["convert", str(plain), str(target)]) == 0
    loaded, info = load_weights(target)
    x = torch.rand(1, 3, 16, 16)
    with torch.inference_mode():
        assert torch.equal(loaded(x), model(x))
    assert main(["convert", str(plain), str(target)]) == 2  # never overwrites
    assert "exists already" in capsys.readouterr().err
    with pytest.raises(WeightsError, match="must end in"):
        convert_to_safetensors(plain, tmp_path / "x.pt")


def test_pickles_larger_than_any_accepted_network_are_not_opened(tmp_path, monkeypatch):
    big = tmp_path / "big.pt"
    with big.open("wb") as handle:  # sparse: no disk space used
        handle.truncate(LIMITS.max_pickle_bytes + 1)
    monkeypatch.setattr(torch, "load", lambda *a, **k: pytest.fail("opened"))
    with pytest.raises(WeightsError, match="larger than any network"):
        read_weights_info(big)


@pytest.mark.skipif(not hasattr(os, "mkfifo"), reason="needs named pipes")
def test_a_fifo_is_refused_at_once(tmp_path):
    fifo = tmp_path / "model.safetensors"
    os.mkfifo(fifo)
    outcome: list[BaseException] = []
    thread = threading.Thread(target=lambda: outcome.append(pytest.raises(WeightsError, read_weights_info, fifo).value),
                              daemon=True)
    thread.start()
    thread.join(5)
    if thread.is_alive():  # unblock it before failing
        with open(fifo, "wb"):
            pass
        pytest.fail("reading a FIFO blocked")
    assert "named pipe" in str(outcome[0])
    link = tmp_path / "loop.safetensors"
    link.symlink_to(link)
    with pytest.raises(WeightsError, match="symbolic link loop"):
        load_weights(link)


@pytest.mark.parametrize("config", [TINY, MIRNetConfig(channels=8, num_rrg=1, num_mrb=1, num_streams=2,
                                                       exposure_key=0.18)])
def test_the_descriptor_is_read_back_from_the_file(tmp_path: Path, config: MIRNetConfig) -> None:
    """The contract written with the weights (trainer) is what every reader gets (engine, eval, wizard)."""
    written = ModelDescriptor(architecture=config, context_window=96, train_crop=64, exposure_trained=True)
    path = save_weights(tmp_path / "w.safetensors", MIRNet(config), extra=written.metadata())
    for info in (read_weights_info(path), load_weights(path)[1]):
        assert info.descriptor == written
    read = read_weights_info(path).descriptor
    assert read.size_multiple == 2 ** (config.num_streams - 1)
    assert read.exposure_normalised == (config.exposure_key is not None)
    assert read.precision == "fp32" and read.supports_bf16


def test_weights_without_a_recorded_contract_get_the_apps_defaults(tmp_path: Path) -> None:
    plain = read_weights_info(save_weights(tmp_path / "plain.safetensors", MIRNet(TINY))).descriptor
    assert plain == ModelDescriptor(architecture=TINY, context_window=DEFAULT_CONTEXT_WINDOW)
    odd = save_weights(tmp_path / "odd.safetensors", MIRNet(TINY), extra={"context_window": "wide"})
    assert read_weights_info(odd).descriptor.context_window == DEFAULT_CONTEXT_WINDOW
