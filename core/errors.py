"""Exception types raised by ``core``. Every one derives from :class:`CoreError`."""

from __future__ import annotations

from pathlib import Path


class CoreError(Exception):
    """Base class of every error that ``core`` raises on purpose."""


class ImageReadError(CoreError):
    """An image file could not be read (missing, empty, truncated, not an image, too large)."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"Cannot read image '{self.path}': {reason}")


class ImageWriteError(CoreError):
    """An image could not be written (folder not writable, bad format, would overwrite the input)."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"Cannot write image '{self.path}': {reason}")


class OutputExistsError(ImageWriteError):
    """The target name was taken (perhaps by another process) and overwriting was not allowed."""

    def __init__(self, path: str | Path, reason: str = "file already exists (choose another name or allow "
                                                       "overwriting)") -> None:
        super().__init__(path, reason)


class WeightsError(CoreError):
    """A weights file is missing, corrupt, truncated, unsafe or of another architecture."""

    def __init__(self, path: str | Path, reason: str) -> None:
        self.path = Path(path)
        self.reason = reason
        super().__init__(f"Cannot load weights '{self.path}': {reason}")


class CancelledError(CoreError):
    """The caller asked to stop; nothing was written."""

    def __init__(self, message: str = "Cancelled") -> None:
        super().__init__(message)


class InsufficientMemoryError(CoreError):
    """Even the smallest tile did not fit in the device's memory."""


class DeviceOutOfMemoryError(CoreError):
    """One piece of work did not fit in the device's memory; a smaller piece may still fit."""
