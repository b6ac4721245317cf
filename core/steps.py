"""Driving step generators: long work is written as a generator that yields progress events
(each ``yield`` is also a cancellation point) and *returns* its result."""

from __future__ import annotations

from collections.abc import Callable, Generator
from typing import Protocol, TypeVar

from .errors import CancelledError

E = TypeVar("E")
F = TypeVar("F")
R = TypeVar("R")


class CancelFlag(Protocol):
    def is_set(self) -> bool: ...


def map_steps(steps: Generator[E, None, R], convert: Callable[[E], F],
              cancel: CancelFlag | None = None) -> Generator[F, None, R]:
    """Re-yield every event of ``steps`` as ``convert(event)`` and return its result.

    ``cancel`` is checked before each step: when set, ``steps`` is closed and
    :class:`CancelledError` raised. ``steps`` is also closed when this generator is.
    """
    try:
        while True:
            if cancel is not None and cancel.is_set():
                raise CancelledError()
            try:
                event = next(steps)
            except StopIteration as stop:
                return stop.value
            yield convert(event)
    finally:
        steps.close()


def run_to_end(steps: Generator[E, None, R], on_event: Callable[[E], None] | None = None,
               cancel: CancelFlag | None = None) -> R:
    """Run ``steps`` to completion, passing every event to ``on_event``; return its result.

    ``cancel`` is checked before each step, as in :func:`map_steps`.
    """
    checked = map_steps(steps, lambda event: event, cancel)
    try:
        while True:
            try:
                event = next(checked)
            except StopIteration as stop:
                return stop.value
            if on_event is not None:
                on_event(event)
    finally:
        checked.close()
