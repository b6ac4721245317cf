"""Atomic file writes: a temporary file beside the target, fsynced, then renamed into place.

:func:`write_atomically` is the one publish helper for every file the project writes (images,
weights, checkpoints, metrics, plots, installed models, the training worker's files, compiled
packages), and :func:`free_name` the one rule for a free name.

Temporary files are named ``.<target name>.<8 random characters>.tmp``, or ``.part`` for
images (:mod:`core.io`); compiled packages keep the ``.pt2`` AOTInductor insists on. While it is written, the writer holds an advisory lock on
it (``flock``, where the system has it), so :func:`remove_stale_temp_files` can tell the
leftovers of a killed run, which nobody holds, from the temporary file of a run in progress.
"""

from __future__ import annotations

import contextlib
import errno
import json
import logging
import os
import re
import stat
import tempfile
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any, Literal

try:
    import fcntl
except ImportError:  # Windows: no advisory locks; stale files are recognised by age alone
    fcntl = None  # type: ignore[assignment]

log = logging.getLogger(__name__)

#: Suffixes of our temporary files: ``.tmp`` here, ``.part`` for images (core/io.py).
TEMP_SUFFIXES = (".tmp", ".part")
#: ``.<name>.<mkstemp's 8 characters>.<suffix>``: exactly what ``mkstemp(prefix=".<name>.", suffix=...)`` makes.
TEMP_NAME = re.compile(r"^\..+\.[a-z0-9_]{8}\.(?:tmp|part)$")
#: An unlocked temporary file younger than this may belong to a writer that has not locked it yet.
STALE_MIN_AGE_S = 10.0
#: Without advisory locks, a temporary file is taken as stale only after this long.
STALE_UNLOCKED_AGE_S = 3600.0


def umask_mode() -> int:
    """The mode a plainly created file gets (``0o666`` minus the umask).

    ``mkstemp`` creates private (0600) files; renamed into place they would stay private.
    """
    mask = os.umask(0)
    os.umask(mask)
    return 0o666 & ~mask


def hold_temp_lock(fd: int) -> None:
    """Mark the temporary file open as ``fd`` as being written (released when ``fd`` is closed)."""
    if fcntl is not None:
        with contextlib.suppress(OSError):  # file systems without locks: age decides instead
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)


#: What :func:`write_atomically` does when the target name exists: ``replace`` it, refuse
#: (``no_clobber``: :class:`FileExistsError`, also when another process takes the name meanwhile),
#: or take the next free name (``free_name``, see :func:`free_name`).
PublishMode = Literal["replace", "no_clobber", "free_name"]


def free_name(path: str | Path, taken: Callable[[Path], bool] | None = None) -> Path:
    """The one free-name rule: ``path`` if free, else ``name (1).ext``, ``name (2).ext``, ...

    A name is free when no file exists there and ``taken(candidate)`` (names a caller has
    reserved, e.g. a batch's other outputs) is false.
    """
    path = Path(path)
    candidate, n = path, 1
    while candidate.exists() or (taken is not None and taken(candidate)):
        candidate = path.with_name(f"{path.stem} ({n}){path.suffix}")
        n += 1
    return candidate


def write_atomically(path: str | Path, write: Callable[[Path], None], *, mode: PublishMode = "replace",
                     suffix: str = ".tmp", attempts: int = 1000) -> Path:
    """Call ``write(tmp)`` on a temporary file in ``path``'s folder, then publish it as ``path``.

    The one way this project writes a file: readers see no file, the old file or the complete new
    one, never a partial one; on any failure (or an interruption: Ctrl-C, SIGTERM) the temporary
    file is removed and ``path`` is left as it was. Creates the folder if needed. ``mode`` says
    what happens when ``path`` exists (:data:`PublishMode`); ``suffix`` is the temporary file's
    (one of :data:`TEMP_SUFFIXES` so that :func:`remove_stale_temp_files` knows it, or one a
    writer insists on). Returns the published path (another name in ``free_name`` mode).
    """
    path = Path(path)
    folder = path.parent if str(path.parent) else Path(".")
    folder.mkdir(parents=True, exist_ok=True)
    fd, name = tempfile.mkstemp(prefix=f".{path.name}.", suffix=suffix, dir=folder)
    tmp = Path(name)
    try:
        hold_temp_lock(fd)  # until closed: remove_stale_temp_files leaves it alone
        write(tmp)
        with tmp.open("rb+") as handle:
            os.fsync(handle.fileno())
        # mkstemp makes the file private (0600); a published file gets the usual umask-based mode.
        os.chmod(tmp, umask_mode())
        if mode == "replace":
            os.replace(tmp, path)
            return path
        for _ in range(attempts):
            target = free_name(path) if mode == "free_name" else path
            try:
                _link_without_clobbering(tmp, target)
                return target
            except FileExistsError:
                if mode == "no_clobber":
                    raise
        raise FileExistsError(f"No free name for '{path.name}' in '{folder}' after {attempts} attempts.")
    finally:
        os.close(fd)
        tmp.unlink(missing_ok=True)  # gone after a rename; the extra name after a hard link


def write_bytes_atomically(path: str | Path, data: bytes, **options: Any) -> Path:
    """:func:`write_atomically` of ``data``."""
    return write_atomically(path, lambda tmp: tmp.write_bytes(data), **options)


def write_json_atomically(path: str | Path, obj: Any, **options: Any) -> Path:
    """:func:`write_atomically` of ``obj`` as indented, key-sorted JSON."""
    return write_bytes_atomically(path, (json.dumps(obj, indent=2, sort_keys=True) + "\n").encode(), **options)


def _link_without_clobbering(tmp: Path, path: Path) -> None:
    """Give ``tmp`` the name ``path`` unless ``path`` exists (:class:`FileExistsError`).

    A hard link is atomic and fails if the name appeared meanwhile; where a file system has
    no hard links, the check and the rename are two steps.
    """
    try:
        os.link(tmp, path)
    except FileExistsError:
        raise
    except OSError:  # file system without hard links
        if path.exists():
            raise FileExistsError(errno.EEXIST, "File exists", str(path)) from None
        os.replace(tmp, path)


def remove_stale_temp_files(folder: str | Path) -> list[Path]:
    """Remove our temporary files (see :data:`TEMP_NAME`) that a killed run left in ``folder``.

    Only regular files of exactly our naming pattern are touched, never one that a running
    writer holds (or, where locks are unknown, one younger than an hour); subfolders are not
    searched. Returns the removed paths; problems are logged, never raised.
    """
    removed: list[Path] = []
    try:
        entries = list(os.scandir(folder))
    except OSError:
        return removed
    now = time.time()
    for entry in entries:
        if not TEMP_NAME.match(entry.name):
            continue
        try:
            info = entry.stat(follow_symlinks=False)
            if not stat.S_ISREG(info.st_mode) or now - info.st_mtime < STALE_MIN_AGE_S:
                continue
            if _unheld(Path(entry.path), now - info.st_mtime):
                removed.append(Path(entry.path))
        except OSError as exc:
            log.debug("cannot check %s: %s", entry.path, exc)
    if removed:
        log.info("removed %d temporary file(s) left by an interrupted run in %s", len(removed), folder)
    return removed


def _unheld(path: Path, age_s: float) -> bool:
    """Delete ``path`` if no writer holds it; True when it was deleted."""
    if fcntl is None:
        if age_s < STALE_UNLOCKED_AGE_S:
            return False
        path.unlink()
        return True
    fd = os.open(path, os.O_RDONLY | getattr(os, "O_NONBLOCK", 0) | getattr(os, "O_NOFOLLOW", 0))
    try:
        if not stat.S_ISREG(os.fstat(fd).st_mode):
            return False
        try:
            fcntl.flock(fd, fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return False  # a live writer
        except OSError:
            if age_s < STALE_UNLOCKED_AGE_S:  # no locks on this file system
                return False
        path.unlink()
        return True
    finally:
        os.close(fd)
