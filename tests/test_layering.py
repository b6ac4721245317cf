"""Layering rules: every import points down the stack

    lowlight (the CLI)  /  desktop_app   ->   trainer   ->   core   ->   lowlight_resources

core and trainer never import Qt, so the CLI, the wizard's training process and tests drive the same
code without a GUI; core never imports trainer or desktop_app; nothing but the CLI imports the CLI.
"""

from __future__ import annotations

import ast
import subprocess
import sys
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[1]
QT = {"PySide6", "PyQt5", "PyQt6", "shiboken6"}
#: Folder in the checkout -> top-level modules its code must never import (at any depth of the code).
FORBIDDEN = {
    "resources": {"core", "trainer", "desktop_app", "lowlight"} | QT,  # installed as lowlight_resources
    "core": {"trainer", "desktop_app", "lowlight"} | QT,
    "trainer": {"desktop_app", "lowlight"} | QT,
    "desktop_app": {"lowlight"},
}


def imported_modules(source: str) -> list[tuple[int, str]]:
    """``(line, module)`` for every absolute import in ``source``: top-level, in functions, in ``try``
    blocks, and ``importlib.import_module("...")`` / ``__import__("...")`` with a literal name."""
    found: list[tuple[int, str]] = []
    for node in ast.walk(ast.parse(source)):
        if isinstance(node, ast.Import):
            found += [(node.lineno, alias.name) for alias in node.names]
        elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
            found.append((node.lineno, node.module))
        elif isinstance(node, ast.Call) and node.args and isinstance(node.args[0], ast.Constant):
            func = node.func
            name = func.attr if isinstance(func, ast.Attribute) else getattr(func, "id", "")
            if name in ("import_module", "__import__") and isinstance(node.args[0].value, str):
                found.append((node.lineno, node.args[0].value))
    return found


def upward_imports(folder: str) -> list[str]:
    problems = []
    for path in sorted((ROOT / folder).rglob("*.py")):
        for line, module in imported_modules(path.read_text(encoding="utf-8")):
            if module.split(".")[0] in FORBIDDEN[folder]:
                problems.append(f"{path.relative_to(ROOT)}:{line} imports {module}")
    return problems


@pytest.mark.parametrize("folder", sorted(FORBIDDEN))
def test_no_upward_import(folder: str) -> None:
    assert (ROOT / folder / "__init__.py").is_file()
    assert upward_imports(folder) == []


def test_the_check_sees_imports_anywhere() -> None:
    source = (
        "import os, trainer.loop\n"
        "from . import sibling\n"
        "def f():\n"
        "    try:\n"
        "        from desktop_app.engine import x\n"
        "    except ImportError:\n"
        "        pass\n"
        "class C:\n"
        "    def m(self):\n"
        "        import PySide6.QtCore\n"
        "        importlib.import_module('lowlight.__main__')\n"
        "        return __import__('trainer')\n"
    )
    assert sorted(imported_modules(source)) == [
        (1, "os"), (1, "trainer.loop"), (5, "desktop_app.engine"), (10, "PySide6.QtCore"),
        (11, "lowlight.__main__"), (12, "trainer")]


def test_core_and_trainer_load_no_qt() -> None:
    code = (
        "import sys, pkgutil, importlib, core, trainer\n"
        "for pkg in (core, trainer):\n"
        "    for m in pkgutil.walk_packages(pkg.__path__, pkg.__name__ + '.'):\n"
        "        importlib.import_module(m.name)\n"
        "bad = sorted(m for m in sys.modules if m.split('.')[0] in ('PySide6', 'PyQt5', 'PyQt6', 'shiboken6'))\n"
        "print(','.join(bad))\n"
    )
    out = subprocess.run([sys.executable, "-c", code], cwd=ROOT, capture_output=True, text=True, timeout=120)
    assert out.returncode == 0, out.stderr
    assert out.stdout.strip() == "", f"Qt modules loaded by core/trainer: {out.stdout.strip()}"
