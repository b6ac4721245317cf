"""Worker and JobRunner: the generator protocol, the fixed signals, cancellation, references kept."""

from __future__ import annotations

import threading
import time

import numpy as np
import pytest
from app_helpers import make_photo, run_job

from core.engine import EngineConfig, Enhancer
from core.errors import CancelledError
from core.io import read_image
from desktop_app.jobs import StageProgress, enhance_job
from desktop_app.workers import JobRunner, Preview, Worker


class Picture(Preview):
    def __init__(self, name: str) -> None:
        self.name = name


def _record(worker: Worker) -> list[tuple[str, object]]:
    """Every signal of ``worker``, in order, with its argument."""
    seen: list[tuple[str, object]] = []
    signals = worker.signals
    signals.started.connect(lambda: seen.append(("started", None)))
    signals.progress.connect(lambda value: seen.append(("progress", value)))
    signals.preview.connect(lambda value: seen.append(("preview", getattr(value, "name", type(value).__name__))))
    signals.returned.connect(lambda value: seen.append(("returned", value)))
    signals.errored.connect(lambda exc: seen.append(("errored", type(exc).__name__)))
    signals.aborted.connect(lambda: seen.append(("aborted", None)))
    signals.finished.connect(lambda: seen.append(("finished", None)))
    return seen


def test_generator_yields_progress_previews_and_returns(qtbot) -> None:
    def job():
        yield 0.5
        yield  # a cancellation point without a report
        yield Picture("quick")
        yield 1.0
        return "done"

    runner = JobRunner()
    worker = Worker(job)
    seen = _record(worker)
    with qtbot.waitSignal(worker.signals.finished):
        runner.submit(worker)
        assert runner.is_busy()
    assert seen == [("started", None), ("progress", 0.5), ("preview", "quick"), ("progress", 1.0),
                    ("returned", "done"), ("finished", None)]
    qtbot.waitUntil(lambda: not runner.is_busy())


def test_signals_arrive_on_the_gui_thread(qtbot) -> None:
    gui = threading.get_ident()
    threads: list[int] = []

    def job():
        yield threading.get_ident()
        return None

    runner = JobRunner()
    worker = Worker(job)
    worker.signals.progress.connect(lambda pool_thread: threads.extend([pool_thread, threading.get_ident()]))
    with qtbot.waitSignal(worker.signals.finished):
        runner.submit(worker)
    assert threads[0] != gui and threads[1] == gui


def test_plain_function_report_and_errors(qtbot) -> None:
    def job(x: int, *, report) -> int:
        report("half")
        if x < 0:
            raise ValueError("negative")
        return x * 2

    runner = JobRunner()
    ok = Worker(job, 21)
    seen = _record(ok)
    with qtbot.waitSignal(ok.signals.finished):
        runner.submit(ok)
    assert seen == [("started", None), ("progress", "half"), ("returned", 42), ("finished", None)]
    bad = Worker(job, -1)
    with qtbot.waitSignal(bad.signals.errored) as blocker:
        runner.submit(bad)
    assert isinstance(blocker.args[0], ValueError)
    assert "negative" in blocker.args[0].traceback_text


def test_cancel_closes_the_generator_at_its_next_yield(qtbot) -> None:
    started, closed = threading.Event(), threading.Event()

    def job():
        try:
            started.set()
            while True:
                time.sleep(0.005)
                yield
        finally:
            closed.set()

    runner = JobRunner()
    running, queued = Worker(job), Worker(job)
    first, second = _record(running), _record(queued)
    runner.submit(running)
    runner.submit(queued)  # one thread: waits behind the first
    assert started.wait(5)
    assert runner.shutdown(5000)  # shutdown cancels both and delivers their signals
    assert closed.is_set()
    assert first == [("started", None), ("aborted", None), ("finished", None)]
    assert second == [("aborted", None), ("finished", None)]  # never started
    assert not runner.is_busy()


def test_cancelled_error_is_aborted_and_a_job_with_cancel_stops_by_itself(qtbot) -> None:
    def raises():
        yield
        raise CancelledError()

    runner = JobRunner()
    worker = Worker(raises)
    seen = _record(worker)
    with qtbot.waitSignal(worker.signals.finished):
        runner.submit(worker)
    assert ("aborted", None) in seen and not any(name == "errored" for name, _ in seen)

    def partial(*, cancel: threading.Event):
        done = 0
        while not cancel.is_set():
            done += 1
            yield done
            time.sleep(0.005)
        return f"stopped after {done}"

    worker = Worker(partial)
    returned: list[str] = []
    worker.signals.returned.connect(returned.append)
    with qtbot.waitSignal(worker.signals.progress):
        runner.submit(worker)
    with qtbot.waitSignal(worker.signals.finished):
        worker.cancel()
    assert returned and returned[0].startswith("stopped after")


@pytest.mark.parametrize("cancellable", [True, False])
def test_not_cancellable_jobs_run_to_the_end(qtbot, cancellable: bool) -> None:
    gate = threading.Event()

    def slow() -> str:
        gate.wait(5)
        return "written"

    runner = JobRunner()
    blocker_job = Worker(slow)
    save = Worker(lambda: "saved", cancellable=cancellable)
    results: list[object] = []
    save.signals.returned.connect(results.append)
    runner.submit(blocker_job)
    runner.submit(save)
    runner.cancel_all()
    gate.set()
    assert runner.pool.waitForDone(5000)
    qtbot.waitUntil(lambda: not runner.is_busy())
    assert results == ([] if cancellable else ["saved"])


def test_thousands_of_reports_arrive_in_order(qtbot) -> None:
    def job():
        yield from range(20000)
        return 1

    runner = JobRunner()
    worker = Worker(job)
    seen: list[int] = []
    worker.signals.progress.connect(seen.append)
    with qtbot.waitSignal(worker.signals.finished, timeout=30000):
        runner.submit(worker)
    assert seen == list(range(20000))


def test_the_real_engine_enhances_and_stops_when_the_job_is_closed(tiny_weights, one_torch_thread,
                                                                   tmp_path) -> None:
    """enhance_job over Enhancer.render_steps: the same result as Enhancer.render; closing the job
    (what a cancel does) stops the engine between tiles and leaves it usable."""
    engine = Enhancer(tiny_weights, device="cpu", config=EngineConfig(tile=64, compiled="off"))
    photo = make_photo(tmp_path / "p.png", size=(150, 130))
    events, result = run_job(enhance_job(engine, photo, "full", "tiny", quick=False))
    expected = engine.render(read_image(photo, integers=True).pixels, mode="full")
    np.testing.assert_array_equal(result.enhanced, expected)
    assert [e.fraction for e in events if isinstance(e, StageProgress)][-1] == 1.0

    calls = []
    infer = engine._infer
    engine._infer = lambda *args: calls.append(1) or infer(*args)  # type: ignore[method-assign]
    job = enhance_job(engine, photo, "full", "tiny", quick=False)
    for _ in job:  # up to the second step inside the engine, then cancel as the worker does
        if len(calls) == 2:
            break
    job.close()
    tiles = len(calls)
    assert tiles == 2
    _, again = run_job(enhance_job(engine, photo, "full", "tiny", quick=False))  # still usable
    assert len(calls) - tiles > tiles  # a whole photo takes more tiles than the cancelled run did
    np.testing.assert_array_equal(again.enhanced, expected)
