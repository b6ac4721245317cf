"""Retraining wizard (not implemented yet).

A later wizard plugs in here: expose ``open_retrain_wizard(parent, context) -> None`` and the
main window enables "Tools → Retrain model…" when :func:`is_available` returns True. The wizard
installs new models into :func:`desktop_app.engine.user_models_dir`, which the model picker
already lists.
"""

from __future__ import annotations


def is_available() -> bool:
    """Whether the retraining wizard is implemented (menu entry enabled)."""
    return False
