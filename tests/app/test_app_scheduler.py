"""EnhanceScheduler without a window: order, holds, stale results, cancel, preview failures."""

from __future__ import annotations

from pathlib import Path

from app_helpers import StubEngine, make_photo

from desktop_app.models.photo_queue import PhotoQueueModel, PhotoState
from desktop_app.scheduler import EnhanceScheduler
from desktop_app.settings import AppSettings
from desktop_app.workers import JobRunner


def _scheduler(current: list[int], engine: object | None = None) -> EnhanceScheduler:
    queue = PhotoQueueModel()
    scheduler = EnhanceScheduler(queue, AppSettings(), JobRunner(), JobRunner(), lambda: current[0])
    scheduler.set_engine(engine if engine is not None else StubEngine(), "stub")
    return scheduler


def _idle(scheduler: EnhanceScheduler) -> bool:
    counts = scheduler.queue.counts()
    return (counts[PhotoState.QUEUED] == counts[PhotoState.WORKING] == 0 and not scheduler.runner.is_busy()
            and not scheduler.io_runner.is_busy())


def _close(scheduler: EnhanceScheduler) -> None:
    scheduler.close()
    assert scheduler.runner.shutdown(5000) and scheduler.io_runner.shutdown(5000)


def test_the_selected_photo_goes_first_then_the_queue_in_order(qtbot, tmp_path: Path) -> None:
    current = [2]
    scheduler = _scheduler(current)
    started: list[str] = []
    scheduler.started.connect(lambda path: started.append(path.name))
    scheduler.hold("model")  # nothing starts while held
    rows = scheduler.queue.add_paths([make_photo(tmp_path / f"{n}.jpg", seed=i) for i, n in enumerate("abc")])
    scheduler.add_rows(rows)
    assert started == [] and scheduler.active_worker is None
    scheduler.release("model")
    qtbot.waitUntil(lambda: _idle(scheduler), timeout=15000)
    assert started == ["c.jpg", "a.jpg", "b.jpg"]
    assert all(item.state is PhotoState.DONE for item in scheduler.queue.items())
    assert all(item.thumbnail is not None for item in scheduler.queue.items())
    assert all(item.result.has_full_resolution for item in scheduler.queue.items())  # within the budget
    _close(scheduler)


def test_settings_change_cancels_and_redoes_stale_results(qtbot, tmp_path: Path) -> None:
    engine = StubEngine()
    scheduler = _scheduler([0], engine)
    scheduler.add_rows(scheduler.queue.add_paths([make_photo(tmp_path / "a.jpg")]))
    qtbot.waitUntil(lambda: _idle(scheduler), timeout=15000)
    assert scheduler.queue.item(0).result.exposure == 0.0
    scheduler.settings.exposure = 1.0
    with qtbot.waitSignal(scheduler.started):
        scheduler.settings_changed()
    qtbot.waitUntil(lambda: _idle(scheduler), timeout=15000)
    assert scheduler.queue.item(0).result.exposure == 1.0 and engine.exposures == [0.0, 1.0]
    scheduler.hold("model")  # as the window loads another model: its results make this one stale
    scheduler.set_engine(StubEngine(), "another model")
    assert scheduler.queue.item(0).state is PhotoState.QUEUED
    scheduler.release("model")
    qtbot.waitUntil(lambda: scheduler.queue.item(0).result.model_key == "another model" and _idle(scheduler),
                    timeout=15000)
    _close(scheduler)


def test_user_cancel_marks_the_photo_and_goes_on(qtbot, tmp_path: Path) -> None:
    engine = StubEngine(tiles=500, delay=0.01)
    scheduler = _scheduler([0], engine)
    messages: list[str] = []
    scheduler.info.connect(messages.append)
    scheduler.add_rows(scheduler.queue.add_paths([make_photo(tmp_path / "a.jpg")]))
    assert engine.started.wait(5)
    with qtbot.waitSignal(scheduler.finished, timeout=5000):
        scheduler.cancel(by_user=True)
    assert scheduler.queue.item(0).state is PhotoState.CANCELLED
    assert any(m.startswith("Cancelled a.jpg; no other photo is waiting") for m in messages)
    _close(scheduler)


def test_a_cancel_that_is_not_the_users_puts_the_photo_back(qtbot, tmp_path: Path) -> None:
    engine = StubEngine(tiles=500, delay=0.01)
    scheduler = _scheduler([0], engine)
    scheduler.add_rows(scheduler.queue.add_paths([make_photo(tmp_path / "a.jpg")]))
    assert engine.started.wait(5)
    scheduler.hold("batch")  # e.g. a batch takes the pool: the photo waits, queued
    with qtbot.waitSignal(scheduler.finished, timeout=5000):
        scheduler.cancel()
    assert scheduler.queue.item(0).state is PhotoState.QUEUED
    _close(scheduler)


def test_unreadable_photo_fails_from_its_preview(qtbot, tmp_path: Path) -> None:
    scheduler = _scheduler([0])
    scheduler.hold("model")
    bad = tmp_path / "broken.jpg"
    bad.write_bytes(b"not a jpeg")
    changed: list[int] = []
    scheduler.picture_changed.connect(lambda row, keep: changed.append(row))
    scheduler.add_rows(scheduler.queue.add_paths([bad]))
    qtbot.waitUntil(lambda: scheduler.queue.item(0).state is PhotoState.FAILED, timeout=10000)
    assert scheduler.queue.item(0).error and changed == [0]
    _close(scheduler)


def test_it_pauses_while_a_model_loads_and_goes_on_with_it(qtbot, tmp_path: Path) -> None:
    from desktop_app.model_loader import ModelLoader

    queue = PhotoQueueModel()
    settings = AppSettings()
    runner = JobRunner()
    scheduler = EnhanceScheduler(queue, settings, runner, JobRunner(), lambda: 0)
    engine = StubEngine()
    models = ModelLoader(settings, runner, lambda weights: engine)
    scheduler.follow(models)
    scheduler.add_rows(queue.add_paths([make_photo(tmp_path / "a.jpg")]))
    assert scheduler.active_worker is None  # no model yet
    models.load(None)
    assert scheduler.engine is None and scheduler.active_worker is None  # held while loading
    qtbot.waitUntil(lambda: _idle(scheduler), timeout=15000)
    assert scheduler.engine is engine and scheduler.model_key == "bundled"
    assert queue.item(0).result.model_key == "bundled" and engine.calls == 1
    _close(scheduler)
