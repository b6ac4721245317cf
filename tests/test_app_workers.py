"""Worker and JobRunner: signals, cancellation, references kept until finished."""

from __future__ import annotations

import threading
import time

import pytest
from conftest_app import *  # noqa: F403

from desktop_app.workers import JobRunner, Worker


def test_generator_job_reports_progress_and_returns(qtbot) -> None:
    def job():
        yield from range(3)
        return "done"

    runner = JobRunner()
    worker = Worker(job)
    seen: list[object] = []
    returned: list[object] = []
    worker.signals.progress.connect(seen.append)
    worker.signals.returned.connect(returned.append)
    with qtbot.waitSignal(worker.signals.finished):
        runner.submit(worker)
        assert worker in runner.active
    assert seen == [0, 1, 2]
    assert returned == ["done"]
    qtbot.waitUntil(lambda: not runner.is_busy())


def test_report_kwarg_and_errors(qtbot) -> None:
    def job(x: int, *, report) -> int:
        report("half")
        if x < 0:
            raise ValueError("negative")
        return x * 2

    runner = JobRunner()
    ok = Worker(job, 21)
    with qtbot.waitSignal(ok.signals.returned) as blocker:
        runner.submit(ok)
    assert blocker.args == [42]
    bad = Worker(job, -1)
    with qtbot.waitSignal(bad.signals.errored) as blocker:
        runner.submit(bad)
    assert isinstance(blocker.args[0], ValueError)
    assert "negative" in blocker.args[0].traceback_text


def test_cancel_gives_aborted_and_shutdown_waits(qtbot) -> None:
    from core.errors import CancelledError

    started = threading.Event()

    def job(*, cancel: threading.Event) -> None:
        started.set()
        while not cancel.is_set():
            time.sleep(0.005)
        raise CancelledError()

    runner = JobRunner()
    first, queued = Worker(job), Worker(job)
    aborted: list[str] = []
    first.signals.aborted.connect(lambda: aborted.append("first"))
    queued.signals.aborted.connect(lambda: aborted.append("queued"))
    runner.submit(first)
    runner.submit(queued)  # one thread: waits behind the first
    assert started.wait(5)
    assert runner.shutdown(5000)
    qtbot.waitUntil(lambda: aborted == ["first", "queued"])
    qtbot.waitUntil(lambda: not runner.is_busy())


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


def test_thousands_of_reports_and_qt_calls_do_not_crash(qtbot) -> None:
    """Regression: PySide6 6.12 on Python 3.11 leaked None/True references until abort."""
    from desktop_app import qt_compat

    def job(*, report) -> int:
        for i in range(20000):
            report(i)
        return 1

    runner = JobRunner()
    worker = Worker(job)
    seen: list[int] = []
    worker.signals.progress.connect(seen.append)
    with qtbot.waitSignal(worker.signals.finished, timeout=30000):
        runner.submit(worker)
    assert len(seen) == 20000
    for _ in range(20000):
        worker.signals.setObjectName("x")  # a void Qt call
    assert qt_compat.singleton_leaks(4) is not None
