"""Work-arounds for bugs of the Qt binding in use.

PySide6 6.12.0 (abi3 wheel) on CPython 3.11, where ``None``/``True``/``False`` are not
immortal yet: every call of a ``void`` Qt method drops a reference to ``None`` that it
never took, and every ``SignalInstance.emit()`` one to ``True``. After a few thousand calls
the interpreter aborts ("Fatal Python error: none_dealloc" / "bool_dealloc"). Python 3.12+
is immune (immortal singletons) and so are bindings without the bug.

When a probe at start-up sees the leak, we give these three singletons 2**40 extra
references (what 3.12 does by design: they are never freed anyway), which outlasts any
session. Nothing is changed where the probe finds no leak.
"""

from __future__ import annotations

import ctypes
import logging
import sys

from PySide6.QtCore import QObject, Signal

log = logging.getLogger(__name__)
_BANK = 1 << 40
_installed = False


class _Probe(QObject):
    ping = Signal()


def singleton_leaks(trials: int = 16) -> dict[str, int]:
    """References of ``None``/``True`` lost by ``trials`` void calls and emits (0 when healthy)."""
    if sys.version_info >= (3, 12):  # immortal singletons: a lost reference cannot hurt
        return {"None": 0, "True": 0}
    probe = _Probe()
    none_before = sys.getrefcount(None)
    for _ in range(trials):
        probe.setObjectName("probe")
    none_lost = max(0, none_before - sys.getrefcount(None))
    true_before = sys.getrefcount(True)
    for _ in range(trials):
        probe.ping.emit()
    true_lost = max(0, true_before - sys.getrefcount(True))
    return {"None": none_lost, "True": true_lost}


def _add_references(obj: object, count: int) -> None:
    # ob_refcnt is the first field of every PyObject in CPython < 3.12 (non-debug builds)
    ctypes.c_ssize_t.from_address(id(obj)).value += count


def install_refcount_fix() -> bool:
    """Protect ``None``/``True``/``False`` if the binding leaks their references; True if applied."""
    global _installed
    if _installed:
        return True
    leaks = singleton_leaks()
    if not any(n >= 8 for n in leaks.values()):
        return False
    for singleton in (None, True, False):
        _add_references(singleton, _BANK)
    _installed = True
    import PySide6

    log.warning("PySide6 %s on Python %s leaks references of None/True (%s); protected them. "
                "Prefer another PySide6 version or Python >= 3.12.", PySide6.__version__,
                sys.version.split()[0], leaks)
    return True
