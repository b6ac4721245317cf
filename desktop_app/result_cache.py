"""Which enhanced photos keep their full-resolution arrays in memory (no Qt, no window).

The display pyramids of every result stay; only the big arrays (decoded original, strength-1
result, 100 % zoom buffers) are capped. A photo whose arrays were freed is enhanced again when
it is saved.
"""

from __future__ import annotations

import logging
from collections import OrderedDict
from pathlib import Path
from typing import Protocol

log = logging.getLogger(__name__)

#: Full-resolution results kept in memory (the rest re-enhance on save).
FULL_RES_BUDGET_BYTES = 1_500_000_000


class FullResolution(Protocol):
    """What the cache needs of a result (``jobs.EnhanceResult``)."""

    @property
    def nbytes(self) -> int: ...

    @property
    def has_full_resolution(self) -> bool: ...

    def drop_full_resolution(self) -> None: ...


class FullResolutionCache:
    """Least recently enhanced first out: past ``budget_bytes``, older results drop their big arrays."""

    def __init__(self, budget_bytes: int = FULL_RES_BUDGET_BYTES) -> None:
        self.budget_bytes = budget_bytes
        self._results: OrderedDict[Path, FullResolution] = OrderedDict()

    def remember(self, path: Path, result: FullResolution, *, keep: Path | None = None) -> list[Path]:
        """Hold ``result`` of ``path`` as the newest; free older ones past the budget, except
        ``keep`` (the photo on screen). Returns the paths whose arrays were freed."""
        self._results.pop(path, None)
        self._results[path] = result
        freed: list[Path] = []
        total = 0
        for p, held in reversed(list(self._results.items())):
            if not held.has_full_resolution:  # freed elsewhere
                del self._results[p]
                continue
            total += held.nbytes
            if total > self.budget_bytes and p != keep and p != path:
                held.drop_full_resolution()
                del self._results[p]
                freed.append(p)
                log.info("freed full-resolution result of %s", p.name)
        return freed

    def forget(self, path: Path) -> None:
        """``path`` left the queue: stop tracking it."""
        self._results.pop(path, None)
