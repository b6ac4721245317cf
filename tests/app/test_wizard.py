"""The retraining wizard end to end (offscreen Qt, tiny preset, synthetic LOL-layout data)."""

from __future__ import annotations

import json
import os
import shutil
from pathlib import Path

import pytest

os.environ.setdefault("QT_QPA_PLATFORM", "offscreen")

from synthetic_pairs import make_lol_dataset  # noqa: E402

from trainer import protocol  # noqa: E402

# The training child process needs ~10 s on a quiet 2-core machine; allow for a loaded one.
PROCESS_WAIT_MS = 240_000
pytestmark = pytest.mark.timeout(900)


@pytest.fixture
def env(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """A private user data folder; torch on one thread (much faster on a busy 2-core machine)."""
    import torch

    monkeypatch.setenv("LOWLIGHT_STUDIO_DATA_DIR", str(tmp_path / "data"))
    monkeypatch.setenv("OMP_NUM_THREADS", "1")  # the training child process
    before = torch.get_num_threads()
    torch.set_num_threads(1)  # the probe and the evaluation, in this process
    yield tmp_path / "data"
    torch.set_num_threads(before)


@pytest.fixture
def dataset(tmp_path: Path) -> Path:
    return make_lol_dataset(tmp_path / "lol")


def make_wizard(qtbot, **context):  # type: ignore[no-untyped-def]
    from desktop_app.wizard.state import WizardContext
    from desktop_app.wizard.wizard import RetrainWizard

    wizard = RetrainWizard(WizardContext(**context))
    wizard.confirm_stop_on_close = lambda: True  # type: ignore[method-assign]
    qtbot.addWidget(wizard)
    wizard.show()
    return wizard


def choose_data(qtbot, wizard, folder: Path) -> None:  # type: ignore[no-untyped-def]
    wizard.data_page.set_folder(folder)
    qtbot.waitUntil(lambda: not wizard.data_page.is_busy(), timeout=60_000)
    assert wizard.data_page.isComplete(), wizard.data_page.status_label.text()
    wizard.next()
    assert wizard.currentId() == wizard.SETTINGS


def tiny_settings(wizard, epochs: int, name: str = "test-run") -> None:  # type: ignore[no-untyped-def]
    page = wizard.settings_page
    page.preset_combo.setCurrentIndex(page.preset_combo.findData("tiny"))
    page.epochs_spin.setValue(epochs)
    page.crop_spin.setValue(32)
    page.batch_spin.setValue(2)
    page.device_combo.setCurrentIndex(page.device_combo.findData("cpu"))
    page.name_edit.setText(name)


def next_enabled(wizard) -> bool:  # type: ignore[no-untyped-def]
    from PySide6.QtWidgets import QWizard

    button = wizard.button(QWizard.WizardButton.NextButton)
    commit = wizard.button(QWizard.WizardButton.CommitButton)
    return (button.isVisible() and button.isEnabled()) or (commit.isVisible() and commit.isEnabled())


def test_wizard_trains_evaluates_and_installs(qtbot, env: Path, dataset: Path, tiny_weights: Path) -> None:
    from core.user_folders import installed_models
    from core.weights import load_weights

    wizard = make_wizard(qtbot, current_weights=tiny_weights)
    assert not next_enabled(wizard)
    choose_data(qtbot, wizard, dataset)
    assert "6 training pairs, 2 validation pairs" in wizard.data_page.status_label.text()
    assert wizard.data_page.samples_layout.count() == 2 * 4  # 4 sample pairs, each with a caption

    settings = wizard.settings_page
    tiny_settings(wizard, epochs=2)
    assert settings.isComplete() and next_enabled(wizard)
    qtbot.waitUntil(lambda: settings.probe_result is not None, timeout=120_000)
    probe = settings.probe_result
    assert probe.preset == "tiny" and probe.steps_per_epoch == 3 and probe.epoch_s > 0
    assert "per epoch" in settings.estimate_label.text()

    wizard.next()  # "Start training"
    training = wizard.training_page
    assert wizard.currentId() == wizard.TRAINING and training.is_running()
    assert not next_enabled(wizard)
    qtbot.waitUntil(training.isComplete, timeout=PROCESS_WAIT_MS)
    assert training.state == "done" and training.epochs_done == 2
    assert [x for x, _ in training.val_psnr.points] == [1, 2]
    assert training.step_loss.points
    assert training.preview_label.pixmap() is not None and not training.preview_label.pixmap().isNull()
    run_dir = env / "runs" / "test-run"
    assert (run_dir / "train.log").is_file() and (run_dir / "wizard-config.json").is_file()

    wizard.next()
    finish = wizard.finish_page
    assert wizard.currentId() == wizard.FINISH
    qtbot.waitUntil(lambda: not finish.evaluating, timeout=120_000)
    assert set(finish.rows) == {"input", "autocontrast", "current", "new"}
    assert all(row.psnr is not None and row.error is None for row in finish.rows.values())
    assert finish.table.item(3, 0).text() == f"{finish.rows['new'].psnr:.2f}"

    with qtbot.waitSignal(wizard.weightsInstalled, timeout=5000) as blocker:
        finish.install_button.click()
    installed = blocker.args[0]
    assert installed == env / "models" / "test-run.safetensors"
    _, info = load_weights(installed)
    assert info.preset == "tiny" and info.epochs is not None
    assert installed_models() == [installed]
    assert not finish.install_button.isEnabled()
    wizard.accept()


def test_invalid_folder_keeps_next_disabled_with_reason(qtbot, env: Path, tmp_path: Path, dataset: Path) -> None:
    from PIL import Image

    bad = tmp_path / "bad"
    (bad / "low").mkdir(parents=True)
    (bad / "high").mkdir()
    Image.new("RGB", (48, 40)).save(bad / "low" / "a.png")
    Image.new("RGB", (40, 40)).save(bad / "high" / "a.png")
    Image.new("RGB", (48, 40)).save(bad / "low" / "b.png")
    wizard = make_wizard(qtbot)
    page = wizard.data_page
    for folder, reason in ((bad, "without a high partner"), (bad, "sizes differ"),
                           (tmp_path / "nothing", "does not exist"), (tmp_path, "holds no paired images")):
        page.set_folder(folder)
        qtbot.waitUntil(lambda: not page.is_busy(), timeout=60_000)
        assert not page.isComplete() and not next_enabled(wizard)
        assert reason in page.status_label.text()
    page.path_edit.setText(str(dataset))  # typing: validated after a pause
    qtbot.waitUntil(page.isComplete, timeout=60_000)
    assert next_enabled(wizard)


def test_settings_page_refuses_existing_name_and_big_batch(qtbot, env: Path, dataset: Path) -> None:
    (env / "runs" / "taken").mkdir(parents=True)
    wizard = make_wizard(qtbot)
    choose_data(qtbot, wizard, dataset)
    page = wizard.settings_page
    tiny_settings(wizard, epochs=1, name="taken")
    assert not page.isComplete() and "exists already" in page.problem_label.text()
    page.name_edit.setText("free")
    page.batch_spin.setValue(7)
    assert not page.isComplete() and "larger than the 6 training pairs" in page.problem()
    page.batch_spin.setValue(2)
    assert page.isComplete()
    assert not page.resume_radio.isEnabled()  # nothing to resume yet
    wizard.reject()


def test_settings_page_offers_to_replace_an_existing_run(qtbot, env: Path, dataset: Path) -> None:
    run = env / "runs" / "old"
    (run / "weights").mkdir(parents=True)
    (run / "weights" / "best.safetensors").write_bytes(b"old weights")
    (run / "config.json").write_text("{}")
    (run / "notes.txt").write_text("mine")
    wizard = make_wizard(qtbot)
    choose_data(qtbot, wizard, dataset)
    page = wizard.settings_page
    tiny_settings(wizard, epochs=1, name="old")
    assert page.replace_check.isVisibleTo(page) and not page.isComplete()
    assert "tick 'Replace that run'" in page.problem_label.text()
    page.replace_check.setChecked(True)
    assert page.isComplete() and page.replaces_run()
    assert page.validatePage()
    assert sorted(p.name for p in run.iterdir()) == ["notes.txt"]
    page.name_edit.setText("new-name")
    assert not page.replace_check.isVisibleTo(page) and not page.replace_check.isChecked()
    wizard.reject()


def test_settings_page_offers_fine_tuning_of_the_current_model(qtbot, env: Path, dataset: Path,
                                                                tmp_path: Path) -> None:
    from core.config import get_preset
    from core.model import MIRNet
    from core.weights import save_weights

    current = save_weights(tmp_path / "current.safetensors", MIRNet(get_preset("tiny")), epochs=3)
    wizard = make_wizard(qtbot, current_weights=current)
    choose_data(qtbot, wizard, dataset)
    page = wizard.settings_page
    tiny_settings(wizard, epochs=1, name="tuned")
    assert page.fine_tune_check.isEnabled() and page.fine_tune_check.isChecked()
    assert page.plan().config.init_weights == str(current)
    page.fine_tune_check.setChecked(False)
    assert page.plan().config.init_weights is None
    page.fine_tune_check.setChecked(True)
    page.preset_combo.setCurrentIndex(page.preset_combo.findData("lite"))
    assert not page.fine_tune_check.isEnabled() and "'tiny'" in page.fine_tune_check.text()
    assert page.new_config().init_weights is None
    wizard.reject()


def test_cancel_then_resume_continues_from_checkpoint(qtbot, env: Path, dataset: Path) -> None:
    wizard = make_wizard(qtbot)
    choose_data(qtbot, wizard, dataset)
    tiny_settings(wizard, epochs=40, name="long")
    wizard.next()
    training = wizard.training_page
    run_dir = env / "runs" / "long"
    qtbot.waitUntil(lambda: training.epochs_done >= 1, timeout=PROCESS_WAIT_MS)
    training.cancel_button.click()
    assert training.state == "stopping"
    qtbot.waitUntil(lambda: not training.is_running(), timeout=PROCESS_WAIT_MS)
    assert training.state == "stopped" and "resumed" in training.status_label.text()
    stopped_at = training.epochs_done
    assert 1 <= stopped_at < 40 and (run_dir / "resume_state.pt").is_file()
    assert training.isComplete()  # the best weights so far can be compared

    # Resume on the same page: the next epoch reported is the one after the checkpoint
    epochs_seen: list[int] = []
    training.process.event.connect(lambda e: isinstance(e, protocol.Epoch) and epochs_seen.append(e.epoch))
    assert training.pause_button.text() == "Resume"
    training.pause_button.click()
    assert training.pause_button.text() == "Pause" and training.is_running()
    qtbot.waitUntil(lambda: bool(epochs_seen), timeout=PROCESS_WAIT_MS)
    assert epochs_seen[0] == stopped_at + 1
    training.pause_button.click()
    assert training.state == "pausing"
    qtbot.waitUntil(lambda: not training.is_running(), timeout=PROCESS_WAIT_MS)
    assert training.state == "paused"
    paused_at = training.epochs_done
    history = json.loads((run_dir / "metrics.json").read_text())["history"]
    assert [h["epoch"] for h in history] == list(range(1, paused_at + 1))
    wizard.reject()

    # A new wizard offers the unfinished run and resumes it to the end
    wizard = make_wizard(qtbot)
    assert wizard.data_page.path_edit.text() == str(dataset)  # pre-filled from the last run
    choose_data(qtbot, wizard, dataset)
    page = wizard.settings_page
    assert page.resume_radio.isEnabled() and page.run_combo.count() == 1
    assert "long" in page.run_combo.currentText() and f"epoch {paused_at}/40" in page.run_combo.currentText()
    page.resume_radio.setChecked(True)
    assert not page.new_box.isEnabled()
    page.resume_epochs_spin.setValue(paused_at + 1)
    assert page.isComplete()
    wizard.next()
    training = wizard.training_page
    assert len(training.val_psnr.points) == paused_at  # the earlier curve is shown again
    qtbot.waitUntil(training.isComplete, timeout=PROCESS_WAIT_MS)
    assert training.state == "done"
    history = json.loads((run_dir / "metrics.json").read_text())["history"]
    assert [h["epoch"] for h in history] == list(range(1, paused_at + 2))
    wizard.accept()


def test_failure_shows_message_and_log_tail(qtbot, env: Path, dataset: Path) -> None:
    wizard = make_wizard(qtbot)
    choose_data(qtbot, wizard, dataset)
    tiny_settings(wizard, epochs=1, name="broken")
    shutil.rmtree(dataset / "our485")  # the data vanish between the check and the start
    wizard.next()
    training = wizard.training_page
    qtbot.waitUntil(lambda: not training.is_running(), timeout=PROCESS_WAIT_MS)
    assert training.state == "failed" and "Training failed" in training.status_label.text()
    assert training.log_view.isVisible() and "train.log" in training.log_view.toPlainText()
    assert not training.isComplete()
    wizard.reject()


def test_open_retrain_wizard_entry_point(qtbot, env: Path) -> None:
    from desktop_app import wizard as wizard_module

    wizard = wizard_module.open_retrain_wizard(None, {"models_dir": env / "models"})
    qtbot.addWidget(wizard)
    assert wizard.isVisible() and wizard.context.models_dir == env / "models"
    wizard.reject()


def test_the_finish_page_scores_each_model_at_the_window_its_weights_record(tmp_path: Path, dataset: Path,
                                                                            monkeypatch: pytest.MonkeyPatch) -> None:
    """As the app runs them: the current model, which records no window, at the app's default
    window (it was scored with global pooling), the new one at the window it was trained with."""
    from core.config import get_preset
    from core.model import MIRNet
    from core.weights import DEFAULT_CONTEXT_WINDOW, save_weights
    from desktop_app.wizard.evaluation import compare_on_validation
    from trainer import loop
    from trainer.config import DataConfig, TrainConfig

    cfg = TrainConfig(out_dir=str(tmp_path / "run"), data=DataConfig(train_dir=str(dataset), crop=32, batch_size=2),
                      preset="tiny", epochs=1, device="cpu")
    model = MIRNet(get_preset("tiny"))
    current = save_weights(tmp_path / "current.safetensors", model)
    new = save_weights(tmp_path / "new.safetensors", model, extra={"context_window": "48"})
    windows = []
    real_evaluate = loop.evaluate

    def recording_evaluate(model, items, device, precision, context_window, *args):  # type: ignore[no-untyped-def]
        windows.append(context_window)
        return real_evaluate(model, items, device, precision, context_window, *args)

    monkeypatch.setattr(loop, "evaluate", recording_evaluate)
    rows = compare_on_validation(cfg, new, current)
    assert windows == [DEFAULT_CONTEXT_WINDOW, 48]
    assert [r.key for r in rows] == ["input", "autocontrast", "current", "new"]
    assert all(r.error is None and r.psnr is not None and r.psnr > 0 for r in rows)
