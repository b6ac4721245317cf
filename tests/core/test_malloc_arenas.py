"""core/malloc_arenas: the engine caps glibc's malloc arenas so threaded tiles do not fragment memory."""

from __future__ import annotations

import platform
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from core.engine import EngineConfig

ROOT = Path(__file__).resolve().parents[2]
GLIBC = platform.system() == "Linux" and platform.libc_ver()[0] == "glibc"

# Eight threads allocate at once; glibc's malloc_info then lists one <heap> per arena in use.
_CHILD = textwrap.dedent("""
    import ctypes, sys, tempfile, threading
    import numpy as np
    sys.path.insert(0, {root!r})
    if sys.argv[1] == "engine":
        from core.engine import Enhancer
        from core.config import MIRNetConfig
        from core.model import MIRNet
        Enhancer(model=MIRNet(MIRNetConfig(channels=8, num_rrg=1, num_mrb=1)), device="cpu")
    barrier = threading.Barrier(8)
    def work():
        barrier.wait()
        keep = [np.ones(50_000) for _ in range(200)]
        barrier.wait()
    threads = [threading.Thread(target=work) for _ in range(8)]
    for t in threads: t.start()
    for t in threads: t.join()
    libc = ctypes.CDLL(None)
    libc.fopen.restype = ctypes.c_void_p
    libc.fopen.argtypes = (ctypes.c_char_p, ctypes.c_char_p)
    libc.malloc_info.argtypes = (ctypes.c_int, ctypes.c_void_p)
    libc.fclose.argtypes = (ctypes.c_void_p,)
    path = tempfile.mktemp()
    fp = libc.fopen(path.encode(), b"w")
    libc.malloc_info(0, fp)
    libc.fclose(fp)
    print(open(path).read().count("<heap nr="))
""")


def _arenas(mode: str) -> int:
    out = subprocess.run([sys.executable, "-c", _CHILD.format(root=str(ROOT)), mode], capture_output=True,
                         text=True, timeout=120, check=True)
    return int(out.stdout.strip().splitlines()[-1])


@pytest.mark.skipif(not GLIBC, reason="glibc only")
def test_a_cpu_engine_caps_the_arenas_that_threads_allocate_from():
    assert _arenas("plain") > 2  # glibc's default: an arena per contending thread
    assert _arenas("engine") <= EngineConfig().malloc_arenas


def test_the_setting_is_checked():
    with pytest.raises(ValueError, match="malloc_arenas"):
        EngineConfig(malloc_arenas=0)
    assert EngineConfig(malloc_arenas=None).malloc_arenas is None
