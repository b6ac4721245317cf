"""Trainer: dataset discovery/validation, a tiny run, exact resume, cancel, DDP on CPU (gloo)."""

from __future__ import annotations

import dataclasses
import os
import socket
from dataclasses import replace
from pathlib import Path

import numpy as np
import pytest
import torch
from PIL import Image
from synthetic_pairs import write_pairs

from core.errors import CancelledError
from core.metrics import ssim
from core.weights import load_weights
from trainer.checkpoint import CheckpointError
from trainer.config import DataConfig, OptimConfig, TrainConfig
from trainer.data import (
    DatasetError,
    discover_pairs,
    iterate_crop_batches,
    load_pairs,
    load_rgb8,
    resolve_layout,
)
from trainer.loop import EpochEvent, StepEvent, ema_decay_at, train
from trainer.losses import restoration_loss, ssim_torch


def _config(data: Path, out: Path, epochs: int = 1, lr: float = 1e-3, **overrides) -> TrainConfig:
    return TrainConfig(
        out_dir=str(out),
        data=DataConfig(train_dir=str(data), crop=32, batch_size=4, samples_per_epoch=8),
        preset="tiny",
        epochs=epochs,
        device="cpu",
        seed=3,
        optim=OptimConfig(lr=lr),
        **overrides,
    )


def test_layouts_are_recognised(lol_dataset: Path, tmp_path: Path) -> None:
    layout = resolve_layout(lol_dataset)
    assert layout.kind == "lol" and layout.train.name == "our485" and layout.val.name == "eval15"
    assert resolve_layout(lol_dataset / "our485").kind == "flat"
    with pytest.raises(DatasetError, match="low/"):
        resolve_layout(tmp_path)


def test_broken_dataset_lists_every_problem(tmp_path: Path) -> None:
    rng = np.random.default_rng(1)
    root = tmp_path / "broken"
    write_pairs(root, 4, (32, 32), rng)
    (root / "high" / "000.png").unlink()                            # missing partner
    Image.fromarray(np.zeros((20, 20, 3), np.uint8)).save(root / "high" / "001.png")  # size mismatch
    (root / "low" / "002.png").write_bytes(b"this is not a png")   # unreadable
    with pytest.raises(DatasetError) as info:
        discover_pairs(root)
    message = str(info.value)
    assert "1 low images without a high partner: 000" in message
    assert "pairs whose sizes differ: 001 (32x32 vs 20x20)" in message
    assert "unreadable files: low/002.png" in message


def test_broken_dataset_starts_nothing(tmp_path: Path) -> None:
    root = tmp_path / "empty"
    (root / "low").mkdir(parents=True)
    (root / "high").mkdir()
    out = tmp_path / "run"
    with pytest.raises(DatasetError, match="no image pairs"):
        train(_config(root, out))
    assert not out.exists()


def test_training_data_is_read_upright_like_the_app_reads_it(tmp_path: Path) -> None:
    """A phone photo stored sideways with EXIF orientation 6 is trained on as it is seen."""
    rng = np.random.default_rng(1)
    upright = (rng.random((40, 24, 3)) * 255).astype(np.uint8)  # 24 wide, 40 tall
    stored = Image.fromarray(np.rot90(upright, k=1).copy())  # as the sensor wrote it: 40 wide, 24 tall
    exif = stored.getexif()
    exif[0x0112] = 6  # "rotate 90 degrees clockwise to display"
    for side in ("low", "high"):
        (tmp_path / side).mkdir()
    stored.save(tmp_path / "low" / "a.png", exif=exif.tobytes())
    Image.fromarray(upright).save(tmp_path / "high" / "a.png")  # the partner has no orientation tag
    assert np.array_equal(load_rgb8(tmp_path / "low" / "a.png"), upright)
    pairs = discover_pairs(tmp_path)  # the sizes match once the low picture is upright
    assert [p.low.name for p in pairs] == ["a.png"]


def test_crops_are_deterministic_and_disjoint_across_ranks(lol_dataset: Path) -> None:
    items = load_pairs(discover_pairs(lol_dataset / "our485"))
    kwargs = dict(crop=16, batch_size=2, samples=8, seed=5, epoch=2)
    a = [b[0] for b in iterate_crop_batches(items, **kwargs)]
    b = [b[0] for b in iterate_crop_batches(items, **kwargs)]
    assert all(np.array_equal(x, y) for x, y in zip(a, b))
    r0 = list(iterate_crop_batches(items, rank=0, world_size=2, **kwargs))
    r1 = list(iterate_crop_batches(items, rank=1, world_size=2, **kwargs))
    assert len(r0) == len(r1) == 2


def test_one_epoch_writes_loadable_weights_and_reports(lol_dataset: Path, tmp_path: Path) -> None:
    events: list[object] = []
    out = tmp_path / "run"
    result = train(_config(lol_dataset, out), callback=events.append)
    assert result.completed
    model, info = load_weights(out / "weights" / "best.safetensors")
    assert info.preset == "tiny" and info.epochs == 1
    assert info.val_psnr == pytest.approx(result.best_psnr, abs=1e-3)
    assert info.extra["context_window"] == "48"
    assert "our485" in (info.training_data or "") or "LOL" in (info.training_data or "")
    for name in ("metrics.json", "curves.png", "config.json", "resume_state.pt", "weights/last.safetensors"):
        assert (out / name).is_file(), name
    assert any(isinstance(e, StepEvent) for e in events)
    epoch_events = [e for e in events if isinstance(e, EpochEvent)]
    assert len(epoch_events) == 1 and epoch_events[0].preview.shape == (40, 48, 3)
    assert np.isfinite(epoch_events[0].metrics["val_psnr"])


def test_ema_follows_early_training_then_settles_at_its_decay() -> None:
    assert ema_decay_at(0.999, 0) == pytest.approx(0.1)
    # ~1300 steps (a CPU run of the lite preset): averaging window ~150 steps, not ~1000.
    assert 0.99 < ema_decay_at(0.999, 1300) < 0.995
    assert ema_decay_at(0.999, 100_000) == 0.999
    decays = [ema_decay_at(0.999, n) for n in range(0, 20_000, 97)]
    assert decays == sorted(decays)


def test_resume_continues_exactly(lol_dataset: Path, tmp_path: Path) -> None:
    straight = train(_config(lol_dataset, tmp_path / "straight", epochs=2))
    train(_config(lol_dataset, tmp_path / "split", epochs=1))
    resumed = train(_config(lol_dataset, tmp_path / "split", epochs=2), resume=True)
    assert [h["epoch"] for h in resumed.history] == [1, 2]
    a, _ = load_weights(straight.last_weights)
    b, _ = load_weights(resumed.last_weights)
    for (name, ta), tb in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.allclose(ta, tb, atol=1e-6), name
    assert resumed.history[-1]["val_psnr"] == pytest.approx(straight.history[-1]["val_psnr"], abs=1e-4)


def test_ssim_loss_matches_the_reported_metric() -> None:
    rng = np.random.default_rng(1)
    a = rng.random((2, 3, 40, 36)).astype(np.float32)
    b = np.clip(a + rng.normal(0, 0.1, a.shape), 0, 1).astype(np.float32)
    expected = np.mean([ssim(a[i].transpose(1, 2, 0), b[i].transpose(1, 2, 0)) for i in range(2)])
    got = float(ssim_torch(torch.from_numpy(a), torch.from_numpy(b)))
    assert got == pytest.approx(expected, abs=1e-4)
    pred = torch.from_numpy(b).requires_grad_()
    restoration_loss(pred, torch.from_numpy(a), 1e-3, ssim_weight=0.5).backward()
    assert pred.grad is not None and torch.isfinite(pred.grad).all() and pred.grad.abs().sum() > 0


def test_fine_tuning_starts_from_the_given_weights(lol_dataset: Path, tmp_path: Path) -> None:
    first = train(_config(lol_dataset, tmp_path / "first"))
    tuned = train(_config(lol_dataset, tmp_path / "tuned", lr=0.0, init_weights=str(first.last_weights)))
    a, _ = load_weights(first.last_weights)
    b, _ = load_weights(tuned.last_weights)
    for (name, ta), tb in zip(a.state_dict().items(), b.state_dict().values()):
        assert torch.equal(ta, tb), name
    assert tuned.history[0]["val_psnr"] == pytest.approx(first.history[0]["val_psnr"], abs=1e-4)


def test_fine_tuning_refuses_weights_of_another_preset(lol_dataset: Path, tmp_path: Path) -> None:
    first = train(_config(lol_dataset, tmp_path / "first"))
    other = _config(lol_dataset, tmp_path / "other", init_weights=str(first.last_weights))
    other = replace(other, preset="lite")
    with pytest.raises(ValueError, match="holds a 'tiny' model.*'lite' preset"):
        train(other)


def test_resume_refuses_a_changed_config(lol_dataset: Path, tmp_path: Path) -> None:
    train(_config(lol_dataset, tmp_path / "run"))
    changed = _config(lol_dataset, tmp_path / "run", epochs=2, lr=5e-4)
    with pytest.raises(CheckpointError, match="different configuration"):
        train(changed, resume=True)


def test_cancel_keeps_a_resumable_checkpoint(lol_dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    train(_config(lol_dataset, out, epochs=1))
    calls = {"n": 0}

    def stop_on_second_step() -> bool:
        calls["n"] += 1
        return calls["n"] > 1

    with pytest.raises(CancelledError):
        train(_config(lol_dataset, out, epochs=3), resume=True, should_stop=stop_on_second_step)
    resumed = train(_config(lol_dataset, out, epochs=2), resume=True)
    assert [h["epoch"] for h in resumed.history] == [1, 2]


def test_time_limit_stops_cleanly(lol_dataset: Path, tmp_path: Path) -> None:
    result = train(_config(lol_dataset, tmp_path / "run", epochs=5, time_limit_s=0.0))
    assert not result.completed and len(result.history) == 1


def _free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _ddp_worker(rank: int, world: int, port: int, data: str, out: str) -> None:
    os.environ.update(MASTER_ADDR="127.0.0.1", MASTER_PORT=str(port), WORLD_SIZE=str(world), RANK=str(rank),
                      LOCAL_RANK=str(rank))
    torch.set_num_threads(1)
    cfg = _config(Path(data), Path(out), epochs=1)
    result = train(cfg)
    torch.save({k: v.clone() for k, v in load_weights(Path(out) / "weights" / "last.safetensors")[0].state_dict().items()}
               if rank == 0 else {}, Path(out) / f"rank{rank}.pt")
    assert result.history


@pytest.mark.timeout(240)
def test_distributed_two_cpu_processes(lol_dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "ddp"
    torch.multiprocessing.spawn(_ddp_worker, args=(2, _free_port(), str(lol_dataset), str(out)), nprocs=2, join=True)
    assert (out / "weights" / "best.safetensors").is_file()
    assert (out / "rank0.pt").is_file() and (out / "rank1.pt").is_file()
    history = __import__("json").loads((out / "metrics.json").read_text())["history"]
    assert len(history) == 1 and np.isfinite(history[0]["val_psnr"])


def test_picture_recipe_run_ends_with_a_fitted_exposure_head(lol_dataset: Path, tmp_path: Path) -> None:
    from core.engine import Enhancer
    from trainer.config import PICTURE_COLOUR_WEIGHT, picture_augment

    cfg = dataclasses.replace(_config(lol_dataset, tmp_path / "run", augment=picture_augment()),
                              optim=OptimConfig(lr=1e-3, colour_weight=PICTURE_COLOUR_WEIGHT))
    result = train(cfg)
    assert result.completed
    model, info = load_weights(result.best_weights)
    assert model.exposure_head is not None and model.config.highlight_knee is not None
    assert info.extra["exposure_control"] == "trained" and "stops" in info.extra["auto_exposure"]
    # Calibrated on the trained network: the head aims where the network scores best.
    assert "network's best exposure" in info.extra["auto_exposure"]
    # The head's output is a real prediction, not the untouched initialisation.
    assert float(model.exposure_head.linear.weight.detach().abs().sum()) > 0
    enhancer = Enhancer(result.best_weights, device="cpu")
    assert enhancer.exposure_is_trained
    image = np.full((40, 48, 3), 0.05, np.float32)
    assert enhancer.enhance(image, exposure=1).mean() > enhancer.enhance(image, exposure=-1).mean()


def test_exposure_head_fit_beats_a_fixed_key_when_the_key_depends_on_content() -> None:
    from trainer.data import PairImages
    from trainer.exposure_fit import ExposureFitConfig, fit_exposure_head

    rng = np.random.default_rng(0)
    items = []
    for i in range(24):
        # Scenes with more dark area are meant to be darker ("night"): the reference key follows content.
        share = rng.uniform(0.1, 0.9)
        low = np.full((32, 32, 3), 40, np.uint8)
        low[: int(32 * share)] = 4
        key = 0.05 + 0.2 * (1 - share)
        items.append(PairImages(f"s{i}_0", low, low, low_log_average=0.01, high_log_average=key))
    fit = fit_exposure_head(items, ExposureFitConfig(bins=16, folds=4))
    assert fit.cv_rms_stops < 0.5 * fit.fixed_key_rms_stops


def test_resume_with_fewer_epochs_ends_the_cosine_schedule_there(lol_dataset: Path, tmp_path: Path) -> None:
    base = _config(lol_dataset, tmp_path / "run", epochs=6)
    cosine = dataclasses.replace(base, optim=OptimConfig(lr=1e-3, schedule="cosine", min_lr=1e-6),
                                 time_limit_s=0.0)
    first = train(cosine)  # the time limit stops it after one epoch
    assert not first.completed and len(first.history) == 1
    done = train(dataclasses.replace(cosine, epochs=3, time_limit_s=None), resume=True)
    assert done.completed and len(done.history) == 3
    rates = [h["lr"] for h in done.history]
    # Annealed over 3 epochs instead of 6: the last epoch runs at a quarter of the rate, not ~0.8x.
    assert rates[2] == pytest.approx(1e-6 + (1e-3 - 1e-6) * (1 + np.cos(np.pi * 2 / 3)) / 2, rel=0.05)


def test_train_state_save_load_round_trip_keeps_the_resume_file_keys(lol_dataset: Path, tmp_path: Path) -> None:
    from core.config import get_preset
    from trainer.loop import TrainState

    cfg = _config(lol_dataset, tmp_path / "run")
    device = torch.device("cpu")
    state = TrainState.create(cfg, get_preset(cfg.preset), device)
    state.epoch, state.best_psnr, state.best_ssim = 2, 21.5, 0.7
    state.history.append({"epoch": 1, "val_psnr": 20.0})
    path = state.save(tmp_path / "run")
    saved = torch.load(path, map_location="cpu", weights_only=True)
    assert sorted(saved) == ["best_psnr", "best_ssim", "ema", "epoch", "fingerprint", "history", "model",
                             "optimiser", "scheduler", "torch_rng"]  # what runs of earlier versions hold
    other = TrainState.create(dataclasses.replace(cfg, epochs=5), get_preset(cfg.preset), device)
    other.load(tmp_path / "run", dataclasses.replace(cfg, epochs=5))  # --epochs may change on resume
    assert (other.epoch, other.best_psnr, other.best_ssim, other.history) == (2, 21.5, 0.7, state.history)
    for a, b in zip(state.model.state_dict().values(), other.model.state_dict().values()):
        assert torch.equal(a, b)
    with pytest.raises(CheckpointError, match="different configuration"):
        TrainState.create(dataclasses.replace(cfg, seed=9), get_preset(cfg.preset), device).load(tmp_path / "run", cfg)


def test_new_options_at_their_defaults_keep_old_runs_resumable(tmp_path: Path) -> None:
    base = _config(tmp_path, tmp_path / "run")
    assert replace(base, optim=OptimConfig(lr=1e-3, ignore_clipped_targets=False)).fingerprint() == base.fingerprint()
    assert replace(base, highlight_knee=None).fingerprint() == base.fingerprint()
    assert replace(base, optim=OptimConfig(lr=1e-3, ignore_clipped_targets=True)).fingerprint() != base.fingerprint()
    assert replace(base, highlight_knee=0.7).fingerprint() != base.fingerprint()
    assert replace(base, shoulder_hue=None).fingerprint() == base.fingerprint()
    assert replace(base, shoulder_hue=1.0).fingerprint() != base.fingerprint()


@pytest.mark.parametrize("knee", [0.0, 1.0, -0.2, 1.5])
def test_a_highlight_knee_outside_zero_to_one_is_refused(tmp_path: Path, knee: float) -> None:
    with pytest.raises(ValueError, match="between 0 and 1"):
        _config(tmp_path, tmp_path / "run", highlight_knee=knee)


def test_shoulder_and_clipped_targets_reach_the_run_and_the_weights(lol_dataset: Path, tmp_path: Path) -> None:
    from trainer.config import picture_augment

    cfg = dataclasses.replace(_config(lol_dataset, tmp_path / "run", augment=picture_augment(), highlight_knee=0.6,
                                      shoulder_hue=0.5),
                              optim=OptimConfig(lr=1e-3, ignore_clipped_targets=True))
    result = train(cfg)
    assert result.completed and np.isfinite(result.history[0]["loss"])
    model, _ = load_weights(result.last_weights)
    assert model.config.highlight_knee == pytest.approx(0.6) and model.config.shoulder_hue == 0.5
    saved = __import__("json").loads((tmp_path / "run" / "config.json").read_text())
    assert saved["architecture"]["highlight_knee"] == pytest.approx(0.6) and saved["architecture"]["shoulder_hue"] == 0.5
    assert saved["config"]["optim"]["ignore_clipped_targets"] is True
    assert TrainConfig.from_dict(saved["config"]).fingerprint() == cfg.fingerprint()
    # A fine-tune that names no shoulder keeps its start weights' (as the wizard's fine-tune of the bundled ones).
    tuned = train(_config(lol_dataset, tmp_path / "tuned", init_weights=str(result.last_weights)))
    tuned_config = load_weights(tuned.last_weights)[0].config
    assert tuned_config.highlight_knee == pytest.approx(0.6) and tuned_config.shoulder_hue == 0.5
    assert _config(lol_dataset, tmp_path / "x").model_config().highlight_knee == 0.85
    # Resuming that fine-tune needs no start weights: the knee comes from the run's own record.
    Path(result.last_weights).unlink()
    resumed = train(_config(lol_dataset, tmp_path / "tuned", epochs=2, init_weights=str(result.last_weights)),
                    resume=True)
    assert [h["epoch"] for h in resumed.history] == [1, 2]
    resumed_config = load_weights(resumed.last_weights)[0].config
    assert resumed_config.highlight_knee == pytest.approx(0.6) and resumed_config.shoulder_hue == 0.5


def test_train_command_line_reaches_the_knee_and_the_clipped_target_option(tmp_path: Path) -> None:
    import argparse

    from trainer.cli import add_train_arguments, config_from_args

    parser = argparse.ArgumentParser()
    add_train_arguments(parser)
    plain = config_from_args(parser.parse_args(["--data", "d", "--out", "o"]))
    assert plain.highlight_knee is None and not plain.optim.ignore_clipped_targets
    assert plain.model_config().highlight_knee == 0.85
    cfg = config_from_args(parser.parse_args(["--data", "d", "--out", "o", "--highlight-knee", "0.7",
                                              "--ignore-clipped-targets"]))
    assert cfg.highlight_knee == 0.7 and cfg.optim.ignore_clipped_targets
    assert cfg.model_config().highlight_knee == 0.7 and cfg.model_config().channels == plain.model_config().channels
    assert plain.shoulder_hue is None and plain.model_config().shoulder_hue == 0.0
    hue = config_from_args(parser.parse_args(["--data", "d", "--out", "o", "--shoulder-hue", "0.3"]))
    assert hue.shoulder_hue == 0.3 and hue.model_config().shoulder_hue == 0.3
    with pytest.raises(ValueError, match="from 0 to 1"):
        config_from_args(parser.parse_args(["--data", "d", "--out", "o", "--shoulder-hue", "1.5"]))
