"""File-system checks shared by everything that opens user-named files.

Only regular files are ever opened: opening a named pipe (FIFO) blocks until some other
process writes to it, and a device or socket is no photo or weights file either. A symbolic
link is followed; a dangling link or a link loop is reported as what it is.
"""

from __future__ import annotations

import errno
import os
import stat
from pathlib import Path

_KINDS = (
    (stat.S_ISFIFO, "a named pipe (FIFO)"),
    (stat.S_ISSOCK, "a socket"),
    (stat.S_ISCHR, "a character device"),
    (stat.S_ISBLK, "a block device"),
)


def file_problem(path: str | Path) -> str | None:
    """Why ``path`` cannot be opened as a regular file, or None when it can (never opens it).

    The reasons: not found, broken symbolic link, symbolic link loop, folder, named pipe,
    socket, device, or a system error (e.g. permission denied on a parent folder).
    """
    path = Path(path)
    try:
        info = os.stat(path)
    except FileNotFoundError:
        if os.path.islink(path):
            return f"broken symbolic link (it points to '{os.readlink(path)}', which does not exist)"
        return "file not found"
    except OSError as exc:
        if exc.errno == errno.ELOOP:
            return "symbolic link loop (the link points back to itself)"
        if exc.errno == errno.ENOTDIR:
            return "file not found (a part of the path is a file, not a folder)"
        return f"cannot be read ({exc.strerror or exc})"
    if stat.S_ISREG(info.st_mode):
        return None
    if stat.S_ISDIR(info.st_mode):
        return "is a folder, not a file"
    kind = next((name for test, name in _KINDS if test(info.st_mode)), "not a regular file")
    return f"{kind}, not a regular file; only regular files are read"


def resolved(path: str | Path) -> Path:
    """``path`` made absolute with symbolic links resolved as far as they go.

    Unlike ``Path.resolve()`` (Python < 3.13) it never raises on a symbolic link loop.
    """
    return Path(os.path.realpath(path))
