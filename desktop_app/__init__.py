"""lowlight-studio: the desktop application (PySide6) on top of :mod:`core`."""

from .qt_compat import install_refcount_fix

__version__ = "0.1.0"
APP_NAME = "lowlight-studio"
APP_DISPLAY_NAME = "Lowlight Studio"

install_refcount_fix()  # before any Qt call can leak (see qt_compat)
