"""lowlight-studio: the desktop application (PySide6) on top of :mod:`core`."""

__version__ = "0.1.0"
APP_NAME = "lowlight-studio"
APP_DISPLAY_NAME = "Lowlight Studio"
