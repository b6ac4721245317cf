"""Helpers of the desktop-app tests: a stub engine, a job driver, small photos, waiting for a window to idle.

Fixtures built on them are in conftest.py.
"""

from __future__ import annotations

import threading
import time
from collections.abc import Callable, Generator
from pathlib import Path
from types import SimpleNamespace
from typing import Any

import numpy as np
from PIL import Image

from core.engine import ProgressEvent
from core.steps import run_to_end


class StubEngine:
    """A stand-in for ``core.engine.Enhancer``: brightens, reports tiles, counts calls; cancelled
    at any of its steps (``enhance_steps``) or by ``cancel`` (``enhance``)."""

    def __init__(self, tiles: int = 4, delay: float = 0.0) -> None:
        self.tiles = tiles
        self.delay = delay
        self.calls = 0
        self.exposures: list[float] = []
        self.started = threading.Event()
        self.info = SimpleNamespace(summary=lambda: "stub preset, val 20.00 dB", preset="stub", val_psnr=20.0)
        self.device_name = "CPU (stub)"

    def enhance_steps(self, image: np.ndarray, mode: str = "fast", strength: float = 1.0,
                      cancel: threading.Event | None = None,
                      exposure: float = 0.0) -> Generator[ProgressEvent, None, np.ndarray]:
        """One progress event per (slow, with ``delay``) tile; the result: a brighter image."""
        self.calls += 1
        self.exposures.append(exposure)
        self.started.set()
        for i in range(self.tiles):
            if self.delay:
                time.sleep(self.delay)
            yield ProgressEvent(i + 1, self.tiles, "tiles")
        out = np.clip(image * 2.0 * 2.0**exposure + 0.1, 0.0, 1.0).astype(np.float32)
        return image + strength * (out - image)

    def enhance(self, image: np.ndarray, mode: str = "fast", strength: float = 1.0,
                progress: Callable | None = None, cancel: threading.Event | None = None,
                exposure: float = 0.0) -> np.ndarray:
        """:meth:`enhance_steps` to the end (core.batch's path); raises CancelledError on ``cancel``."""
        return run_to_end(self.enhance_steps(image, mode, strength, exposure=exposure), progress, cancel)


def run_job(steps: Generator[Any, None, Any]) -> tuple[list[Any], Any]:
    """Drive a generator job as a Worker does, on this thread: (its yielded events, its result)."""
    events: list[Any] = []
    result = run_to_end(steps, lambda event: events.append(event) if event is not None else None)
    return events, result


def make_photo(path: Path, size: tuple[int, int] = (48, 32), seed: int = 0) -> Path:
    """A small dark photo (JPEG or PNG by suffix)."""
    rng = np.random.default_rng(seed)
    w, h = size
    pixels = (rng.random((h, w, 3)) * 70).astype(np.uint8)
    path.parent.mkdir(parents=True, exist_ok=True)
    Image.fromarray(pixels).save(path)
    return path


def wait_idle(qtbot, window, timeout: int = 15000) -> None:  # type: ignore[no-untyped-def]
    """Wait until no photo is queued or being enhanced, and no job is left in the pools."""
    from desktop_app.models.photo_queue import PhotoState

    def idle() -> bool:
        counts = window.queue.counts()
        return (counts[PhotoState.QUEUED] == 0 and counts[PhotoState.WORKING] == 0
                and not window.runner.is_busy() and not window.io_runner.is_busy())

    qtbot.waitUntil(idle, timeout=timeout)
