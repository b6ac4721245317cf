"""A stand-in for the compiled-package builder (a real AOTInductor build takes minutes): the child
process that :func:`core.compiled.build_steps` starts is replaced by a tiny Python script that
succeeds (writes the package file), fails with a message, or runs until it is stopped. Loading a
"package" gives the eager network back, so results can be compared."""

from __future__ import annotations

import functools
import os
import sys
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Literal

import pytest

import core.compiled
from core.compiled import BuildHost, BuildPolicy, BuildRequest, CompiledModel

Behaviour = Literal["succeed", "fail", "hang"]

_SCRIPT = r"""
import os, sys, time
behaviour, package, marker = sys.argv[1:4]
with open(marker, "w") as handle:
    handle.write(str(os.getpid()))
if behaviour == "fail":
    print("some compiler noise", file=sys.stderr)
    print("boom: the C++ compiler crashed", file=sys.stderr)
    sys.exit(1)
if behaviour == "hang":
    time.sleep(120)
os.makedirs(os.path.dirname(package), exist_ok=True)
with open(package, "wb") as handle:
    handle.write(b"not really a package")
"""


@dataclass
class FakeBuilder:
    """Installed by :func:`install_fake_builder`; records the requests it was started for."""

    folder: Path
    behaviour: Behaviour = "succeed"
    requests: list[BuildRequest] = field(default_factory=list)
    loads: list[Path] = field(default_factory=list)
    tile_calls: list[tuple[int, ...]] = field(default_factory=list)

    @property
    def marker(self) -> Path:
        return self.folder / "builder-started"

    @property
    def started(self) -> bool:
        return self.marker.is_file()

    def child_pid(self) -> int:
        return int(self.marker.read_text())

    def command(self, request: BuildRequest) -> list[str]:
        self.requests.append(request)
        return [sys.executable, "-c", _SCRIPT, self.behaviour, str(request.path), str(self.marker)]


def process_gone(pid: int, timeout: float = 10.0) -> bool:
    """Whether process ``pid`` has ended (and been reaped) within ``timeout`` seconds."""
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        try:
            os.kill(pid, 0)
        except ProcessLookupError:
            return True
        time.sleep(0.05)
    return False


def install_fake_builder(monkeypatch: pytest.MonkeyPatch, folder: Path, behaviour: Behaviour = "succeed", *,
                         native_bf16: bool = True, compiler: bool = True,
                         build_seconds: float = 0.001) -> FakeBuilder:
    """Replace the builder's child process, the host's capabilities and the policy's build time,
    and let a "package" the fake wrote load as the eager network. The cache goes to ``folder``."""
    fake = FakeBuilder(folder, behaviour)
    monkeypatch.setenv("LOWLIGHT_CACHE_DIR", str(folder / "cache"))
    monkeypatch.setattr(core.compiled, "build_command", fake.command)
    monkeypatch.setattr(core.compiled, "BuildPolicy", functools.partial(BuildPolicy, build_seconds=build_seconds))
    monkeypatch.setattr(BuildHost, "detect", classmethod(
        lambda cls: cls(native_bf16=native_bf16, compiler=compiler, threads=1)))
    real_load: Callable = CompiledModel.load.__func__  # type: ignore[attr-defined]

    def fake_load(cls, model, shape, bf16):  # noqa: ANN001
        path = cls.path_for(model, shape, bf16)
        if not path.is_file() or path.read_bytes() != b"not really a package":
            return real_load(cls, model, shape, bf16)
        fake.loads.append(path)

        def run(x, gain):  # noqa: ANN001
            import torch

            fake.tile_calls.append(tuple(x.shape))
            with torch.inference_mode():
                return model(x, exposure_gain=gain)

        return cls(run, shape, bf16, path)

    monkeypatch.setattr(CompiledModel, "load", classmethod(fake_load))
    return fake


def compilable_weights(folder: Path) -> Path:
    """A tiny random MIRNet with exposure normalisation (only such networks are compiled)."""
    import torch

    from core.config import MIRNetConfig
    from core.model import MIRNet
    from core.weights import save_weights

    torch.manual_seed(0)
    model = MIRNet(MIRNetConfig(channels=8, num_rrg=1, num_mrb=1, exposure_key=0.11))
    return save_weights(folder / "tiny-exposure.safetensors", model, epochs=1)
