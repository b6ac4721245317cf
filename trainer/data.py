"""Paired low/normal-light data: discovery (LOL layout and plain low/high folders), validation,
in-memory loading and random training crops."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Sequence
from dataclasses import dataclass
from pathlib import Path

import cv2
import numpy as np
import torch
from PIL import Image, UnidentifiedImageError

from core.errors import CoreError, ImageReadError
from core.exposure import log_average_luminance
from core.io import read_image

log = logging.getLogger(__name__)

_ORIENTATION_TAG = 0x0112
_SWAPS_SIDES = (5, 6, 7, 8)  # EXIF orientations that turn the picture by 90 degrees

IMAGE_SUFFIXES = {".png", ".jpg", ".jpeg", ".bmp", ".tif", ".tiff", ".webp"}


class DatasetError(CoreError):
    """A dataset folder cannot be used; the message lists what is wrong."""


@dataclass(frozen=True)
class ImagePair:
    low: Path
    high: Path

    @property
    def name(self) -> str:
        return self.low.stem


@dataclass(frozen=True)
class DatasetLayout:
    """The training and (optional) validation folders found under a user's dataset folder."""

    train: Path
    val: Path | None
    kind: str  # "lol", "split" (train/ + val/), or "flat" (low/ + high/)


def _has_pairs_dirs(folder: Path) -> bool:
    return (folder / "low").is_dir() and (folder / "high").is_dir()


def resolve_layout(root: str | Path) -> DatasetLayout:
    """Find the pair folders under ``root``.

    Accepted: the LOL layout (``our485/{low,high}`` with optional ``eval15/{low,high}``),
    ``train/{low,high}`` with optional ``val/{low,high}``, or ``low/`` + ``high/`` directly.
    """
    root = Path(root)
    if not root.is_dir():
        raise DatasetError(f"Dataset folder '{root}' does not exist or is not a folder.")
    if _has_pairs_dirs(root / "our485"):
        val = root / "eval15"
        return DatasetLayout(root / "our485", val if _has_pairs_dirs(val) else None, "lol")
    if _has_pairs_dirs(root / "train"):
        val = root / "val"
        return DatasetLayout(root / "train", val if _has_pairs_dirs(val) else None, "split")
    if _has_pairs_dirs(root):
        return DatasetLayout(root, None, "flat")
    raise DatasetError(
        f"'{root}' holds no paired images: expected 'low/' and 'high/' folders with matching file names "
        "(or the LOL layout 'our485/low', 'our485/high', 'eval15/low', 'eval15/high')."
    )


def _images_by_stem(folder: Path) -> dict[str, Path]:
    files = sorted(p for p in folder.iterdir() if p.is_file() and p.suffix.lower() in IMAGE_SUFFIXES)
    return {p.stem: p for p in files}


def _summarise(problem: str, names: Sequence[str], shown: int = 5) -> str:
    head = ", ".join(names[:shown])
    more = f" and {len(names) - shown} more" if len(names) > shown else ""
    return f"{len(names)} {problem}: {head}{more}"


def discover_pairs(folder: str | Path) -> list[ImagePair]:
    """Match ``folder/low/X.*`` with ``folder/high/X.*`` and check every pair can be used.

    Raises :class:`DatasetError` listing missing partners, unreadable files and size mismatches
    (first few names and a count for each kind of problem).
    """
    folder = Path(folder)
    if not _has_pairs_dirs(folder):
        raise DatasetError(f"'{folder}' must contain 'low/' and 'high/' folders.")
    lows, highs = _images_by_stem(folder / "low"), _images_by_stem(folder / "high")
    problems: list[str] = []
    only_low = sorted(set(lows) - set(highs))
    only_high = sorted(set(highs) - set(lows))
    if only_low:
        problems.append(_summarise("low images without a high partner", only_low))
    if only_high:
        problems.append(_summarise("high images without a low partner", only_high))
    unreadable: list[str] = []
    mismatched: list[str] = []
    pairs = []
    for stem in sorted(set(lows) & set(highs)):
        sizes = []
        for path in (lows[stem], highs[stem]):
            try:
                with Image.open(path) as img:
                    width, height = img.size
                    if img.getexif().get(_ORIENTATION_TAG) in _SWAPS_SIDES:  # upright as load_rgb8 reads it
                        width, height = height, width
                    sizes.append((width, height))
            except (UnidentifiedImageError, OSError, ValueError) as exc:
                unreadable.append(f"{path.parent.name}/{path.name} ({type(exc).__name__})")
        if len(sizes) == 2:
            if sizes[0] != sizes[1]:
                mismatched.append(f"{stem} ({sizes[0][0]}x{sizes[0][1]} vs {sizes[1][0]}x{sizes[1][1]})")
            else:
                pairs.append(ImagePair(lows[stem], highs[stem]))
    if unreadable:
        problems.append(_summarise("unreadable files", unreadable))
    if mismatched:
        problems.append(_summarise("pairs whose sizes differ", mismatched))
    if not problems and not pairs:
        problems.append("no image pairs found")
    if problems:
        raise DatasetError(f"Dataset '{folder}' cannot be used:\n  - " + "\n  - ".join(problems))
    return pairs


def split_pairs(pairs: Sequence[ImagePair], fraction: float, seed: int) -> tuple[list[ImagePair], list[ImagePair]]:
    """Deterministic train/validation split of ``pairs`` (``fraction`` goes to validation)."""
    if not 0.0 < fraction < 1.0:
        raise DatasetError(f"--val-split must be between 0 and 1, got {fraction}")
    order = np.random.default_rng(seed).permutation(len(pairs))
    n_val = max(1, int(round(fraction * len(pairs))))
    if n_val >= len(pairs):
        raise DatasetError(f"--val-split {fraction} leaves no training pairs out of {len(pairs)}")
    val = [pairs[i] for i in sorted(order[:n_val])]
    train = [pairs[i] for i in sorted(order[n_val:])]
    return train, val


def select_pairs(train_dir: str | Path, *, val_dir: str | Path | None = None, val_split: float | None = None,
                 seed: int = 0, require_val: bool = True) -> tuple[list[ImagePair], list[ImagePair], DatasetLayout]:
    """Training and validation pairs of a run: ``val_dir`` if given, else a seeded ``val_split``
    of the training pairs, else the dataset's own eval15/ or val/ folder.

    Raises :class:`DatasetError` when no validation data can be found and ``require_val``.
    """
    layout = resolve_layout(train_dir)
    train_pairs = discover_pairs(layout.train)
    if val_dir:
        val_layout = resolve_layout(val_dir)
        val_pairs = discover_pairs(val_layout.val or val_layout.train)
    elif val_split:
        train_pairs, val_pairs = split_pairs(train_pairs, val_split, seed)
    elif layout.val is not None:
        val_pairs = discover_pairs(layout.val)
    elif require_val:
        raise DatasetError(
            f"No validation data: '{train_dir}' has no eval15/ or val/ folder; "
            "pass --val-data DIR or --val-split FRACTION."
        )
    else:
        val_pairs = []
    return train_pairs, val_pairs, layout


def load_rgb8(path: Path) -> np.ndarray:
    """Decode an image with the app's reader (:func:`core.io.read_image`: upright by its EXIF
    orientation, any supported format) as uint8 RGB (HxWx3); 16-bit inputs are scaled down.

    Only regular files are read (a FIFO or device is refused at once).
    """
    try:
        pixels = read_image(path, integers=True).pixels
    except ImageReadError as exc:
        raise DatasetError(f"Cannot read '{path}': {exc.reason}") from exc
    if pixels.dtype == np.uint16:
        return np.round(pixels.astype(np.float32) / 257.0).astype(np.uint8)
    # The reader may hand back a read-only view of the decoder's buffer; crops become tensors.
    return np.array(pixels, dtype=np.uint8, order="C", copy=not pixels.flags.writeable)


@dataclass
class PairImages:
    """Decoded pair, uint8 RGB, kept in memory (LOL: ~700 MB; SICE train: ~680 MB).

    ``low_log_average`` is the whole low image's log-average luminance: crops are normalised
    with the whole picture's exposure, as the engine does with tiles.
    """

    name: str
    low: np.ndarray
    high: np.ndarray
    low_log_average: float = 0.0
    high_log_average: float = 0.0

    @property
    def true_gain(self) -> float:
        """Linear gain that takes the low frame to the reference's exposure (ratio of log-averages)."""
        return self.high_log_average / max(self.low_log_average, 1e-6)


def load_pairs(pairs: Sequence[ImagePair], max_side: int | None = None) -> list[PairImages]:
    loaded = []
    for pair in pairs:
        low, high = load_rgb8(pair.low), load_rgb8(pair.high)
        if max_side is not None and max(low.shape[:2]) > max_side:
            low, high = _downscale(low, max_side), _downscale(high, max_side)
        loaded.append(PairImages(pair.name, low, high, _log_average(low), _log_average(high)))
    return loaded


def _log_average(image: np.ndarray) -> float:
    tensor = torch.from_numpy(image).permute(2, 0, 1)[None].float() / 255.0
    return float(log_average_luminance(tensor)[0])


def _downscale(image: np.ndarray, max_side: int) -> np.ndarray:
    h, w = image.shape[:2]
    scale = max_side / max(h, w)
    size = (max(1, round(w * scale)), max(1, round(h * scale)))
    return np.array(Image.fromarray(image).resize(size, Image.Resampling.LANCZOS))


def _augment_geometry(low: np.ndarray, high: np.ndarray, rng: np.random.Generator) -> tuple[np.ndarray, np.ndarray]:
    k = int(rng.integers(4))
    if k:
        low, high = np.rot90(low, k), np.rot90(high, k)
    if rng.random() < 0.5:
        low, high = low[:, ::-1], high[:, ::-1]
    return low, high


def _crop_pair(item: PairImages, crop: int, rng: np.random.Generator,
               scale_range: tuple[float, float] = (1.0, 1.0)) -> tuple[np.ndarray, np.ndarray]:
    low, high = item.low, item.high
    h, w = low.shape[:2]
    if h < crop or w < crop:
        pad = ((0, max(0, crop - h)), (0, max(0, crop - w)), (0, 0))
        low, high = np.pad(low, pad, mode="reflect"), np.pad(high, pad, mode="reflect")
        h, w = low.shape[:2]
    scale = float(rng.uniform(*scale_range)) if scale_range != (1.0, 1.0) else 1.0
    side = min(h, w, max(crop, int(round(crop / scale))))
    y = int(rng.integers(h - side + 1))
    x = int(rng.integers(w - side + 1))
    low, high = low[y : y + side, x : x + side], high[y : y + side, x : x + side]
    if side != crop:
        low = cv2.resize(low, (crop, crop), interpolation=cv2.INTER_AREA)
        high = cv2.resize(high, (crop, crop), interpolation=cv2.INTER_AREA)
    return low, high


def iterate_crop_batches(
    items: Sequence[PairImages],
    *,
    crop: int,
    batch_size: int,
    samples: int,
    seed: int,
    epoch: int,
    rank: int = 0,
    world_size: int = 1,
    flips: bool = True,
    scale_range: tuple[float, float] = (1.0, 1.0),
) -> Iterator[tuple[np.ndarray, np.ndarray, np.ndarray]]:
    """Yield ``(low, high, index)`` batches (uint8 B x crop x crop x 3, and the pair indices)
    for one epoch on one rank.

    Everything random derives from ``(seed, epoch, rank)``, so a resumed run draws exactly the
    crops it would have drawn, and ranks of a distributed run see disjoint samples.
    """
    order_rng = np.random.default_rng([seed, epoch])
    order = np.concatenate([order_rng.permutation(len(items)) for _ in range(-(-samples // len(items)))])[:samples]
    mine = order[rank::world_size]
    rng = np.random.default_rng([seed, epoch, rank, 1])
    steps = steps_per_epoch(samples, batch_size, world_size)  # equal on every rank (DDP needs that)
    for step in range(steps):
        lows, highs = [], []
        chosen = mine[step * batch_size : (step + 1) * batch_size]
        for idx in chosen:
            low, high = _crop_pair(items[int(idx)], crop, rng, scale_range)
            if flips:
                low, high = _augment_geometry(low, high, rng)
            lows.append(low)
            highs.append(high)
        yield np.stack(lows), np.stack(highs), np.asarray(chosen)


def steps_per_epoch(samples: int, batch_size: int, world_size: int = 1) -> int:
    """Optimiser steps per epoch on each rank; the last incomplete batch is dropped."""
    return (samples // world_size) // batch_size
