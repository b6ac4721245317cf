"""Retraining wizard: "Tools → Retrain Model…" and ``python -m desktop_app.wizard``.

The main window calls :func:`open_retrain_wizard`; connect the returned wizard's ``weightsInstalled(Path)`` signal to
switch the app to the new model.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from PySide6.QtWidgets import QWidget

    from .wizard import RetrainWizard

__all__ = ["open_retrain_wizard"]


def open_retrain_wizard(parent: QWidget | None, context: dict[str, Any] | None = None) -> RetrainWizard:
    """Show the wizard (non-modal, deleted on close) and return it.

    ``context`` keys, all optional: ``models_dir`` (where "Use these weights" installs),
    ``current_weights`` (the app's model, compared on the last page), ``runs_dir``, ``dataset``.
    """
    from PySide6.QtCore import Qt

    from .state import WizardContext
    from .wizard import RetrainWizard

    wizard = RetrainWizard(WizardContext.from_mapping(context), parent)
    wizard.setAttribute(Qt.WidgetAttribute.WA_DeleteOnClose, True)
    wizard.setWindowModality(Qt.WindowModality.NonModal)
    wizard.show()
    wizard.raise_()
    return wizard


