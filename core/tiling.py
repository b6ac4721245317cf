"""Overlapping tiles with feathered blending, for images too large to process at once.

Pure numpy; knows nothing about torch. A per-tile function ``fn`` maps an ``h x w x C`` tile
of the image (any dtype: the function converts) to an ``h x w x C'`` float32 result. Results
are accumulated as weighted sums, with a raised-cosine (half-sine) ramp across each overlap,
into a *band* of rows a tile row high: tiles are visited row by row, so once a new tile row
starts, every row above it is final, is normalised and handed on (``emit``) and leaves the
band. Memory beyond the image and the output is one band, whatever the image size.

When ``fn`` raises :class:`~core.errors.DeviceOutOfMemoryError` the tile side is halved
(down to a floor) and work continues from the current row of tiles; at the floor a
``fallback`` hook may offer a new tile size (e.g. after moving to another device), otherwise
:class:`~core.errors.InsufficientMemoryError` is raised.
"""

from __future__ import annotations

import logging
import math
from collections.abc import Callable, Generator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import dataclass
from functools import lru_cache

import numpy as np

from .errors import DeviceOutOfMemoryError, InsufficientMemoryError
from .steps import CancelFlag, run_to_end

log = logging.getLogger(__name__)

TileFn = Callable[[np.ndarray], np.ndarray]
#: Receives finished rows ``y0:y1`` (normalised float32, valid only during the call), top to bottom.
RowSink = Callable[[int, int, np.ndarray], None]

#: Smallest tile side the out-of-memory retry goes down to.
MIN_TILE = 64


@dataclass(frozen=True)
class Tile:
    """One tile: rows ``y0:y1`` and columns ``x0:x1`` of the image; ``row`` counts tile rows."""

    y0: int
    y1: int
    x0: int
    x1: int
    row: int

    @property
    def height(self) -> int:
        return self.y1 - self.y0

    @property
    def width(self) -> int:
        return self.x1 - self.x0

    @property
    def slices(self) -> tuple[slice, slice]:
        return slice(self.y0, self.y1), slice(self.x0, self.x1)


@dataclass(frozen=True)
class TileProgress:
    """Reported after each finished tile.

    ``covered`` counts image pixels covered by finished tiles (monotone, ends at ``total``),
    so progress never goes backwards even when an out-of-memory retry re-plans the rest.
    """

    covered: int
    total: int
    tiles_done: int
    tiles_planned: int
    tile_size: int


def plan_axis(length: int, tile: int, overlap: int) -> list[tuple[int, int]]:
    """Start/stop pairs of equal-length segments covering ``0..length`` with >= ``overlap`` overlap.

    The segment length is ``min(tile, length)``; segments are spread evenly, so the last one
    ends exactly at ``length`` and no segment is a thin sliver.
    """
    if length <= 0:
        raise ValueError("length must be positive")
    if tile <= overlap:
        raise ValueError(f"tile ({tile}) must be larger than overlap ({overlap})")
    size = min(tile, length)
    if size == length:
        return [(0, length)]
    step = size - overlap
    count = math.ceil((length - size) / step) + 1
    starts = [round(i * (length - size) / (count - 1)) for i in range(count)]
    return [(s, s + size) for s in starts]


def plan_tiles(height: int, width: int, tile: int, overlap: int, *, y_start: int = 0, row_start: int = 0) -> list[Tile]:
    """Tiles covering rows ``y_start..height`` and all columns, in row-major order.

    Neighbouring tiles overlap by at least ``overlap`` pixels; every tile has the same size,
    ``min(tile, side)`` per axis, so small images give one tile the size of the image.
    """
    rows = plan_axis(height - y_start, tile, overlap)
    cols = plan_axis(width, tile, overlap)
    return [
        Tile(y_start + y0, y_start + y1, x0, x1, row_start + r)
        for r, (y0, y1) in enumerate(rows)
        for x0, x1 in cols
    ]


@lru_cache(maxsize=64)
def _ramp(length: int, ramp: int, taper_start: bool, taper_end: bool) -> np.ndarray:
    w = np.ones(length, dtype=np.float32)
    ramp = min(ramp, length // 2) if taper_start and taper_end else min(ramp, length)
    if ramp > 0:
        # Half-sine squared (raised cosine); (i + 0.5) keeps every weight strictly positive.
        rise = np.sin(0.5 * np.pi * (np.arange(ramp, dtype=np.float64) + 0.5) / ramp) ** 2
        if taper_start:
            w[:ramp] = rise
        if taper_end:
            w[length - ramp :] = np.minimum(w[length - ramp :], rise[::-1])
    w.setflags(write=False)
    return w


def feather_window(tile: Tile, height: int, width: int, overlap: int) -> np.ndarray:
    """``tile.height x tile.width`` float32 weights: raised-cosine ramps of ``overlap`` pixels
    on every edge that lies inside the image, 1 elsewhere (edges on the image border stay 1)."""
    wy = _ramp(tile.height, overlap, tile.y0 > 0, tile.y1 < height)
    wx = _ramp(tile.width, overlap, tile.x0 > 0, tile.x1 < width)
    return np.outer(wy, wx)


class _Band:
    """Weighted sums and weights of rows ``y0 .. y0 + capacity`` of the result."""

    def __init__(self, capacity: int, width: int, channels: int) -> None:
        self.y0 = 0
        self.acc = np.zeros((capacity, width, channels), dtype=np.float32)
        self.weight = np.zeros((capacity, width), dtype=np.float32)

    def ensure(self, y1: int) -> None:
        """Grow so that rows up to ``y1`` fit (a fallback may offer a larger tile)."""
        need = y1 - self.y0
        if need > len(self.weight):
            acc = np.zeros((need, *self.acc.shape[1:]), dtype=np.float32)
            weight = np.zeros((need, self.weight.shape[1]), dtype=np.float32)
            acc[: len(self.acc)] = self.acc
            weight[: len(self.weight)] = self.weight
            self.acc, self.weight = acc, weight

    def add(self, tile: Tile, out: np.ndarray, w: np.ndarray) -> None:
        rows = slice(tile.y0 - self.y0, tile.y1 - self.y0)
        self.acc[rows, tile.x0 : tile.x1] += out * w[..., None]
        self.weight[rows, tile.x0 : tile.x1] += w

    def flush(self, y: int, emit: RowSink) -> None:
        """Normalise rows ``self.y0 .. y``, pass them to ``emit`` and drop them from the band."""
        k = y - self.y0
        if k <= 0:
            return
        done = self.acc[:k]
        np.divide(done, self.weight[:k, :, None], out=done)
        emit(self.y0, y, done)
        keep = len(self.weight) - k
        if keep > 0:
            self.acc[:keep] = self.acc[k:]
            self.weight[:keep] = self.weight[k:]
        self.acc[keep:] = 0.0
        self.weight[keep:] = 0.0
        self.y0 = y


def iter_tiled(
    image: np.ndarray,
    fn: TileFn,
    tile: int,
    overlap: int,
    *,
    min_tile: int = MIN_TILE,
    fallback: Callable[[], int | None] | None = None,
    emit: RowSink | None = None,
    workers: int = 1,
) -> Generator[TileProgress, None, np.ndarray | None]:
    """Apply ``fn`` tile by tile; yield after each tile.

    Each ``yield`` is a progress report and a cancellation point (close the generator or stop
    iterating to abandon the work). Finished rows go to ``emit(y0, y1, rows)`` in order, and
    the generator returns None; without ``emit`` they are gathered into one ``H x W x C'``
    float32 array, which is returned. On :class:`DeviceOutOfMemoryError` the tile side halves
    (not below ``max(min_tile, 2 * overlap)``) and the current tile row is planned again;
    finished tiles of that row stay valid, as the result is a normalised weighted average.

    ``workers > 1`` runs ``fn`` on that many tiles at once in threads (``fn`` must then be
    thread-safe), always the next ones in plan order; results are still blended in order, and
    closing the generator waits only for the tiles already running.
    """
    if image.ndim != 3:
        raise ValueError(f"expected an H x W x C image, got shape {image.shape}")
    height, width = image.shape[:2]
    floor = max(min_tile, 2 * overlap)
    tile = max(tile, floor)
    plan = plan_tiles(height, width, tile, overlap)
    total = height * width
    gathered: list[np.ndarray] = []

    def gather(y0: int, y1: int, rows: np.ndarray) -> None:
        if not gathered:
            gathered.append(np.empty((height, width, rows.shape[2]), dtype=np.float32))
        gathered[0][y0:y1] = rows

    sink = emit or gather
    band: _Band | None = None
    done = 0
    covered = 0
    full_rows_y = 0  # every pixel above this row is covered
    row_x = 0  # columns covered so far in the current tile row
    row_id = -1
    i = 0
    pool = ThreadPoolExecutor(workers, thread_name_prefix="tile") if workers > 1 else None
    running: dict[int, Future] = {}  # plan index -> its tile's result

    def result_of(i: int) -> np.ndarray:
        if pool is None:
            return fn(image[plan[i].slices])
        for j in range(i, min(len(plan), i + workers)):
            if j not in running:
                running[j] = pool.submit(fn, image[plan[j].slices])
        return running.pop(i).result()

    def drop_running() -> None:
        for future in running.values():
            future.cancel()
        wait(running.values())
        running.clear()

    try:
        while i < len(plan):
            t = plan[i]
            try:
                out = result_of(i)
            except DeviceOutOfMemoryError as exc:
                drop_running()  # planned with the old tile size
                new_tile = tile // 2
                if new_tile < floor:
                    new_tile = fallback() if fallback is not None else None
                    if new_tile is None:
                        raise InsufficientMemoryError(
                            f"a {tile} x {tile} tile does not fit in memory even at the smallest size ({exc})"
                        ) from exc
                    new_tile = max(new_tile, floor)
                log.warning("out of memory on a %d px tile; continuing with %d px tiles", tile, new_tile)
                tile = new_tile
                plan = plan[:i] + plan_tiles(height, width, tile, overlap, y_start=t.y0, row_start=t.row)
                continue
            if out.shape[:2] != (t.height, t.width) or out.ndim != 3:
                raise ValueError(f"tile function returned shape {out.shape} for a {t.height} x {t.width} tile")
            if band is None:
                band = _Band(t.height, width, out.shape[2])
            # Tile rows start ever lower (a re-plan starts at the failed row), so rows above are
            # final. Tiles still running read rows at or below this tile's first row only.
            band.flush(t.y0, sink)
            band.ensure(t.y1)
            band.add(t, out, feather_window(t, height, width, overlap))
            done += 1
            if t.row != row_id:
                row_id = t.row
                row_x = 0
            row_x = max(row_x, t.x1)
            if row_x >= width:
                full_rows_y = max(full_rows_y, t.y1)
            covered = max(covered, full_rows_y * width + max(0, t.y1 - full_rows_y) * row_x)
            i += 1
            yield TileProgress(covered, total, done, len(plan), tile)
    finally:
        if pool is not None:
            drop_running()
            pool.shutdown(wait=True)
    assert band is not None
    band.flush(height, sink)
    return None if emit is not None else gathered[0]


def process_tiled(
    image: np.ndarray,
    fn: TileFn,
    tile: int,
    overlap: int,
    *,
    min_tile: int = MIN_TILE,
    progress: Callable[[TileProgress], None] | None = None,
    cancel: CancelFlag | None = None,
) -> np.ndarray:
    """Run :func:`iter_tiled` to the end and return the whole result; ``cancel.is_set()`` is
    checked before every tile."""
    result = run_to_end(iter_tiled(image, fn, tile, overlap, min_tile=min_tile), progress, cancel)
    assert result is not None
    return result
