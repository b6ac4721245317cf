"""Building menu and toolbar actions."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from PySide6.QtGui import QAction, QKeySequence
from PySide6.QtWidgets import QMenuBar, QWidget

from ..resources import icon


def make_action(parent: QWidget, text: str, slot: Callable[[], Any], shortcut: Any = None, icon_name: str = "",
                tip: str = "", checkable: bool = False) -> QAction:
    """An action of ``parent`` (so its shortcut works anywhere in the window) that calls ``slot``."""
    action = QAction(text, parent)
    if icon_name:
        action.setIcon(icon(icon_name))
    if shortcut is not None:
        action.setShortcut(QKeySequence(shortcut))
    if tip:
        action.setStatusTip(tip)
        action.setToolTip(tip)
    action.setCheckable(checkable)
    action.triggered.connect(slot)
    parent.addAction(action)
    return action


def fill_menus(bar: QMenuBar, menus: Sequence[tuple[str, Sequence[QAction | None]]]) -> None:
    """One menu per (title, actions); ``None`` is a separator."""
    for title, actions in menus:
        menu = bar.addMenu(title)
        for action in actions:
            if action is None:
                menu.addSeparator()
            else:
                menu.addAction(action)
