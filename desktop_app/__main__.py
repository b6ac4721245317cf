"""Entry point: ``lowlight-studio [FILES...]`` or ``python -m desktop_app [FILES...]``."""

from __future__ import annotations

import sys


def main() -> int:
    from .app import run

    return run()


if __name__ == "__main__":
    sys.exit(main())
