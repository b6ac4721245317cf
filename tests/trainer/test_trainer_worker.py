"""trainer.worker's JSON-lines protocol (as a subprocess), trainer.probe and trainer.user_models; no Qt."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from PIL import Image
from synthetic_pairs import make_lol_dataset

ROOT = Path(__file__).resolve().parents[2]


def tiny_config(data: Path, out: Path, epochs: int = 2, **data_kwargs) -> dict:
    from trainer.config import DataConfig, TrainConfig

    cfg = TrainConfig(out_dir=str(out), data=DataConfig(train_dir=str(data), crop=32, batch_size=2, **data_kwargs),
                      preset="tiny", epochs=epochs, device="cpu")
    return cfg.to_dict()


def worker_env() -> dict[str, str]:
    env = dict(os.environ)
    env["PYTHONPATH"] = os.pathsep.join([str(ROOT), env.get("PYTHONPATH", "")])
    env["PYTHONUNBUFFERED"] = "1"
    env.setdefault("OMP_NUM_THREADS", "1")
    return env


def start_worker(config_path: Path, *extra: str) -> subprocess.Popen:
    return subprocess.Popen([sys.executable, "-m", "trainer.worker", "--config", str(config_path), *extra],
                            stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, cwd=ROOT, env=worker_env())


def read_events(proc: subprocess.Popen, until: str | None = None) -> list[dict]:
    """Parse stdout lines (every one must be JSON) until the event ``until`` or the end."""
    events = []
    assert proc.stdout is not None
    for line in proc.stdout:
        events.append(json.loads(line))
        if until is not None and events[-1]["event"] == until:
            break
    return events


@pytest.fixture(scope="module")
def dataset(tmp_path_factory: pytest.TempPathFactory) -> Path:
    return make_lol_dataset(tmp_path_factory.mktemp("lol"))


def test_worker_runs_and_reports_json_lines(dataset: Path, tmp_path: Path) -> None:
    from core.weights import load_weights

    out = tmp_path / "run"
    config = tmp_path / "config.json"
    config.write_text(json.dumps(tiny_config(dataset, out, epochs=2)))
    proc = start_worker(config)
    events = read_events(proc)
    assert proc.wait(timeout=240) == 0, proc.stderr.read() if proc.stderr else ""
    kinds = [e["event"] for e in events]
    assert kinds[0] == "started" and kinds[-1] == "done"
    assert "step" in kinds
    epochs = [e for e in events if e["event"] == "epoch"]
    assert [e["epoch"] for e in epochs] == [1, 2]
    first = epochs[0]
    assert {"loss", "val_psnr", "val_ssim", "lr", "time_s", "input_psnr"} <= set(first["metrics"])
    preview = Path(first["preview"])
    assert preview.is_file() and preview.parent.parent == out
    with Image.open(preview) as img:  # input | output | target, 4 px gaps, at native size here
        assert img.size == (3 * 48 + 8, 40)
    done = events[-1]
    assert done["completed"] is True and done["epochs_done"] == 2
    load_weights(done["best_weights"])
    assert (out / "resume_state.pt").is_file() and not (out / "STOP").exists()


def test_worker_stop_file_then_resume_continues(dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    config = tmp_path / "config.json"
    config.write_text(json.dumps(tiny_config(dataset, out, epochs=40)))
    proc = start_worker(config)
    events = read_events(proc, until="epoch")
    assert events[-1]["epoch"] == 1
    (out / "STOP").touch()
    events += read_events(proc)
    assert proc.wait(timeout=240) == 1
    assert events[-1]["event"] == "cancelled"
    stopped_after = events[-1]["epochs_done"]
    assert 1 <= stopped_after < 40
    assert not (out / "STOP").exists()

    # resume from the run's own config.json, with fewer epochs left to go
    from trainer.user_models import read_run

    run_info = read_run(out)
    assert run_info is not None and run_info.epochs_done == stopped_after and run_info.resumable
    cfg = dict(run_info.config)
    cfg["epochs"] = stopped_after + 1
    config.write_text(json.dumps(cfg))
    proc = start_worker(config, "--resume")
    events = read_events(proc)
    assert proc.wait(timeout=240) == 0
    assert [e["epoch"] for e in events if e["event"] == "epoch"] == [stopped_after + 1]
    history = json.loads((out / "metrics.json").read_text())["history"]
    assert [h["epoch"] for h in history] == list(range(1, stopped_after + 2))


def test_worker_sigterm_cancels(dataset: Path, tmp_path: Path) -> None:
    if sys.platform == "win32":
        pytest.skip("no SIGTERM on Windows")
    out = tmp_path / "run"
    config = tmp_path / "config.json"
    config.write_text(json.dumps(tiny_config(dataset, out, epochs=40)))
    proc = start_worker(config)
    read_events(proc, until="epoch")
    proc.terminate()
    events = read_events(proc)
    assert proc.wait(timeout=240) == 1
    assert events[-1]["event"] == "cancelled"


def test_worker_reports_dataset_and_config_errors(tmp_path: Path) -> None:
    bad = tmp_path / "bad"
    (bad / "low").mkdir(parents=True)
    (bad / "high").mkdir()
    (bad / "low" / "a.png").write_bytes(b"not a png")
    config = tmp_path / "config.json"
    config.write_text(json.dumps(tiny_config(bad, tmp_path / "run", val_split=0.5)))
    proc = start_worker(config)
    events = read_events(proc)
    assert proc.wait(timeout=240) == 2
    assert events[-1]["event"] == "error" and "high partner" in events[-1]["message"]

    config.write_text("{not json")
    proc = start_worker(config)
    events = read_events(proc)
    assert proc.wait(timeout=240) == 2
    assert [e["event"] for e in events] == ["error"] and "configuration" in events[0]["message"]


def test_resume_refused_for_changed_config_is_an_error(dataset: Path, tmp_path: Path) -> None:
    out = tmp_path / "run"
    config = tmp_path / "config.json"
    config.write_text(json.dumps(tiny_config(dataset, out, epochs=1)))
    proc = start_worker(config)
    read_events(proc)
    assert proc.wait(timeout=240) == 0
    changed = tiny_config(dataset, out, epochs=2)
    changed["data"]["crop"] = 16
    config.write_text(json.dumps(changed))
    proc = start_worker(config, "--resume")
    events = read_events(proc)
    assert proc.wait(timeout=240) == 2
    assert events[-1]["event"] == "error" and "different configuration" in events[-1]["message"]


def test_probe_estimates_epoch_time(dataset: Path, tmp_path: Path, one_torch_thread) -> None:
    from trainer.config import TrainConfig
    from trainer.probe import preset_parameters, probe_epoch_time

    cfg = TrainConfig.from_dict(tiny_config(dataset, tmp_path / "run"))
    started = time.perf_counter()
    result = probe_epoch_time(cfg, steps=2, warmup=1)
    assert time.perf_counter() - started < 30
    assert result.steps_per_epoch == 3 and result.train_pairs == 6 and result.val_pairs == 2
    assert result.seconds_per_step > 0 and result.seconds_per_val_image > 0
    assert result.epoch_s == pytest.approx(3 * result.seconds_per_step + 2 * result.seconds_per_val_image)
    assert result.parameters == preset_parameters("tiny") > 0
    assert result.device == "cpu"


def test_probe_can_be_cancelled_and_reports_bad_data(dataset: Path, tmp_path: Path, one_torch_thread) -> None:
    from core.errors import CancelledError
    from trainer.config import TrainConfig
    from trainer.data import DatasetError
    from trainer.probe import probe_epoch_time

    cfg = TrainConfig.from_dict(tiny_config(dataset, tmp_path / "run"))
    with pytest.raises(CancelledError):
        probe_epoch_time(cfg, should_stop=lambda: True)
    with pytest.raises(DatasetError):
        probe_epoch_time(TrainConfig.from_dict(tiny_config(tmp_path / "missing", tmp_path / "run")))


def test_user_models_install_list_and_env_override(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from core import user_folders
    from trainer import user_models

    monkeypatch.setenv(user_folders.DATA_DIR_ENV, str(tmp_path / "data"))
    assert user_folders.user_models_dir() == tmp_path / "data" / "models"
    assert user_folders.runs_dir() == tmp_path / "data" / "runs"
    assert user_folders.installed_models() == []
    src = tmp_path / "best.safetensors"
    src.write_bytes(b"weights")
    first = user_models.install_weights(src, "my model/v1")
    second = user_models.install_weights(src, "my model/v1")
    assert first.name == "my-model-v1.safetensors" and second.name == "my-model-v1 (1).safetensors"
    assert first.read_bytes() == b"weights"
    assert user_folders.installed_models() == sorted([first, second])
    assert not [p for p in first.parent.iterdir() if p.name.startswith(".")]  # no temporary files left
    with pytest.raises(FileNotFoundError):
        user_models.install_weights(tmp_path / "missing.safetensors", "x")
    monkeypatch.delenv(user_folders.DATA_DIR_ENV)
    assert user_folders.data_dir().name == "lowlight-studio"


def test_find_runs_lists_resumable_runs(tmp_path: Path) -> None:
    from trainer.user_models import find_runs

    for name, done, total in (("a", 1, 3), ("b", 3, 3), ("c", 0, 3)):
        run = tmp_path / name
        run.mkdir()
        (run / "config.json").write_text(json.dumps({"config": {"epochs": total, "preset": "tiny", "data": {}}}))
        history = [{"epoch": i + 1, "val_psnr": 20.0 + i} for i in range(done)]
        (run / "metrics.json").write_text(json.dumps({"history": history, "best_psnr": 20.0 + done}))
        if done:
            (run / "resume_state.pt").write_bytes(b"x")
    (tmp_path / "junk").mkdir()
    runs = find_runs(tmp_path)
    assert sorted(r.name for r in runs) == ["a", "b"]
    unfinished = find_runs(tmp_path, unfinished_only=True)
    assert [r.name for r in unfinished] == ["a"]
    assert "epoch 1/3" in unfinished[0].summary() and unfinished[0].resumable and not unfinished[0].finished


def test_protocol_events_round_trip_as_json_lines() -> None:
    from trainer import protocol

    events = [
        protocol.Started(out_dir="/runs/a", resume=False, pid=42, epochs=3),
        protocol.Step(epoch=1, epochs=3, step=10, steps=20, loss=0.25, elapsed_s=1.5),
        protocol.Epoch(epoch=1, epochs=3, metrics={"val_psnr": 20.5}, best_psnr=20.5, eta_s=12.0, preview=None),
        protocol.Done(completed=True, best_weights="/w/best.safetensors", last_weights=None, best_psnr=21.0,
                      best_ssim=0.7, baseline={"input_psnr": 9.0}, epochs_done=3),
        protocol.Cancelled(message="stopped", epochs_done=1),
        protocol.Failed(message="bad data", kind="DatasetError"),
    ]
    for event in events:
        line = protocol.encode(event)
        assert "\n" not in line and json.loads(line)["event"] == event.name
        assert protocol.decode(line) == event
    nan = protocol.decode(protocol.encode(protocol.Step(epoch=1, epochs=1, step=1, steps=1, loss=float("nan"),
                                                        elapsed_s=0.0)))
    assert nan.loss is None
    for junk in ('{"event": "party"}', '[1, 2]', '{"event": "step", "epoch": 1}'):
        with pytest.raises(ValueError):
            protocol.decode(junk)
