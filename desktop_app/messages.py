"""People-readable texts the app shows in its status bar (no Qt)."""

from __future__ import annotations

from collections.abc import Mapping

from .models.photo_queue import PhotoState


def error_text(exc: BaseException) -> str:
    """Short people-readable reason of a failure (``reason`` of core errors, else the message)."""
    reason = getattr(exc, "reason", None)
    if reason:
        return str(reason)
    if isinstance(exc, MemoryError):
        return "not enough memory for this photo"
    return str(exc) or type(exc).__name__


def queue_summary(counts: Mapping[PhotoState, int]) -> str:
    """``"4 photos · 2 done · 1 to do · 1 failed"``; "" for an empty queue."""
    total = sum(counts.values())
    if not total:
        return ""
    parts = [f"{total} photo{'s' if total != 1 else ''}"]
    if counts[PhotoState.DONE]:
        parts.append(f"{counts[PhotoState.DONE]} done")
    if counts[PhotoState.QUEUED] + counts[PhotoState.WORKING]:
        parts.append(f"{counts[PhotoState.QUEUED] + counts[PhotoState.WORKING]} to do")
    if counts[PhotoState.FAILED]:
        parts.append(f"{counts[PhotoState.FAILED]} failed")
    if counts[PhotoState.CANCELLED]:
        parts.append(f"{counts[PhotoState.CANCELLED]} cancelled")
    return " · ".join(parts)
