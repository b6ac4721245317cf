"""When the compiled package is built (core.compiled.should_build), building it in a child process
(build_steps: progress, failure, cancel) and before a batch (core.batch.prepare_engine_steps).

No real AOTInductor build runs here (it takes minutes): tests/compiled_fakes.py stands in for the
builder's child process."""

from __future__ import annotations

import os
import subprocess
import sys
import threading
from pathlib import Path

import numpy as np
import pytest
from compiled_fakes import compilable_weights, install_fake_builder, process_gone
from PIL import Image

from core.batch import prepare_engine_steps
from core.compiled import (
    AMX_POLICY,
    BuildError,
    BuildHost,
    BuildPolicy,
    BuildRequest,
    build_steps,
    cpu_has_amx,
    policy_for,
    should_build,
    tiled_megapixels,
)
from core.engine import EngineConfig, Enhancer
from core.errors import CancelledError
from core.steps import run_to_end

pytestmark = pytest.mark.usefixtures("one_torch_thread")

BF16 = BuildHost(native_bf16=True, compiler=True, threads=1)
AVX2_ONLY = BuildHost(native_bf16=False, compiler=True, threads=1)


# ------------------------------------------------------------------------------------------ policy


def test_a_cpu_without_native_bf16_never_builds_however_big_the_job():
    decision = should_build("full", 10_000, 120_000.0, AVX2_ONLY)
    assert not decision.build and decision.possible and "bf16" in decision.reason


def test_a_small_job_does_not_build_and_a_big_one_does():
    small = should_build("full", 10, 120.0, BF16)  # ten 12 MP photos: ~2 min saved against ~5 to build
    assert not small.build and small.possible and small.saving_seconds < small.build_seconds
    big = should_build("full", 100, 1200.0, BF16)
    assert big.build and big.saving_seconds >= big.build_seconds
    assert "100 photos" in big.reason


def test_the_saving_is_spread_over_the_threads():
    policy = BuildPolicy()
    megapixels = 1.5 * policy.build_seconds / policy.saved_cpu_seconds_per_megapixel
    assert should_build("full", 30, megapixels, BF16, policy).build
    assert not should_build("full", 30, megapixels, BuildHost(True, True, threads=2), policy).build


def test_an_amx_cpu_builds_for_a_few_photos_where_one_without_amx_waits():
    """AMX builds in about a minute and saves far more per megapixel (measured, AMX_POLICY)."""
    amx = BuildHost(native_bf16=True, compiler=True, threads=2, amx=True)
    no_amx = BuildHost(native_bf16=True, compiler=True, threads=2)
    assert policy_for(amx) is AMX_POLICY and policy_for(no_amx) == BuildPolicy()
    six_photos = should_build("full", 6, 72.0, amx)
    assert six_photos.build and six_photos.build_seconds == AMX_POLICY.build_seconds
    assert not should_build("full", 6, 72.0, no_amx).build
    assert not should_build("full", 1, 12.0, amx).build  # one photo: 17 s saved against a 90 s build
    assert not should_build("full", 600, 7200.0, BuildHost(native_bf16=False, compiler=True, amx=True)).build


def test_amx_is_read_from_the_cpu_flags_and_never_breaks_detection():
    assert isinstance(cpu_has_amx(), bool)
    host = BuildHost.detect()
    assert not host.amx or host.native_bf16


def test_fast_mode_and_a_missing_compiler_make_a_build_impossible():
    assert not should_build("fast", 1000, 12_000.0, BF16).possible
    assert not should_build("full", 1000, 12_000.0, BuildHost(native_bf16=True, compiler=False)).possible


def test_policy_thresholds_must_be_positive():
    with pytest.raises(ValueError):
        BuildPolicy(build_seconds=0)
    with pytest.raises(ValueError):
        BuildPolicy(payback=-1)


def test_only_photos_at_least_one_tile_on_each_side_count(tmp_path):
    Image.new("RGB", (80, 70)).save(tmp_path / "big.png")
    Image.new("RGB", (200, 40)).save(tmp_path / "narrow.png")
    (tmp_path / "broken.jpg").write_bytes(b"\xff\xd8 not a jpeg")
    photos, megapixels = tiled_megapixels(sorted(tmp_path.iterdir()), 64)
    assert photos == 1 and megapixels == pytest.approx(80 * 70 / 1e6)


# ------------------------------------------------------------------------------------------ build_steps


def _request(tmp_path) -> BuildRequest:
    return BuildRequest(weights=tmp_path / "w.safetensors", shape=(64, 64), bf16=True, threads=1,
                        context_window=None, path=tmp_path / "cache" / "package.pt2")


def test_a_build_reports_progress_and_returns_the_package(tmp_path, monkeypatch):
    fake = install_fake_builder(monkeypatch, tmp_path)
    events: list = []
    path = run_to_end(build_steps(_request(tmp_path), estimate_s=60.0, reason="why", poll_s=0.05), events.append)
    assert path.is_file() and fake.started
    assert events[0].elapsed_s == 0.0 and events[0].reason == "why" and events[0].fraction == 0.0


def test_a_failed_build_raises_the_builders_last_line(tmp_path, monkeypatch):
    install_fake_builder(monkeypatch, tmp_path, "fail")
    request = _request(tmp_path)
    with pytest.raises(BuildError, match="boom: the C\\+\\+ compiler crashed"):
        run_to_end(build_steps(request, poll_s=0.05))
    assert not request.path.exists()


def test_cancel_before_the_build_starts_runs_no_builder(tmp_path, monkeypatch):
    fake = install_fake_builder(monkeypatch, tmp_path, "hang")
    cancel = threading.Event()
    cancel.set()
    with pytest.raises(CancelledError):
        run_to_end(build_steps(_request(tmp_path), cancel, poll_s=0.05))
    assert not fake.started


def test_cancel_while_building_stops_the_builder(tmp_path, monkeypatch):
    fake = install_fake_builder(monkeypatch, tmp_path, "hang")
    cancel = threading.Event()

    def on_event(event) -> None:  # noqa: ANN001
        if fake.started:
            cancel.set()

    with pytest.raises(CancelledError):
        run_to_end(build_steps(_request(tmp_path), cancel, poll_s=0.05), on_event)
    assert process_gone(fake.child_pid())
    assert not _request(tmp_path).path.exists()


def test_closing_the_build_generator_stops_the_builder(tmp_path, monkeypatch):
    """Ctrl-C in the CLI closes the generator: the builder must not go on in the background."""
    fake = install_fake_builder(monkeypatch, tmp_path, "hang")
    steps = build_steps(_request(tmp_path), poll_s=0.05)
    next(steps)
    while not fake.started:
        next(steps)
    steps.close()
    assert process_gone(fake.child_pid())


# ------------------------------------------------------------------------------------------ before a batch


def _photos(folder, count: int, size=(80, 72)) -> list:
    folder.mkdir(parents=True, exist_ok=True)
    rng = np.random.default_rng(0)
    paths = []
    for i in range(count):
        path = folder / f"p{i}.png"
        Image.fromarray((rng.random((size[1], size[0], 3)) * 80).astype(np.uint8)).save(path)
        paths.append(path)
    return paths


def _engine(tmp_path, **config) -> Enhancer:
    return Enhancer(compilable_weights(tmp_path), device="cpu", config=EngineConfig(tile=64, **config))


def test_a_batch_that_pays_back_builds_first_and_then_uses_the_package(tmp_path, monkeypatch):
    fake = install_fake_builder(monkeypatch, tmp_path)
    engine = _engine(tmp_path)
    photos = _photos(tmp_path / "in", 2)
    image = np.asarray(Image.open(photos[0]), dtype=np.float32) / 255
    eager = engine.enhance(image)
    assert fake.tile_calls == []
    events: list = []
    prepared = run_to_end(prepare_engine_steps(engine, photos, "full"), events.append)
    assert prepared.built and prepared.warning is None and prepared.decision.build
    assert events and fake.requests[0].shape == (64, 64) and fake.requests[0].threads == 1
    assert fake.requests[0].path == engine.compiled_build_request().path
    np.testing.assert_allclose(engine.enhance(image), eager, atol=1e-6)
    assert fake.tile_calls and all(shape[-2:] == (64, 64) for shape in fake.tile_calls)
    # the next batch finds the package in the cache and builds nothing
    again = run_to_end(prepare_engine_steps(engine, photos, "full"))
    assert again.cached and len(fake.requests) == 1


def test_no_build_without_native_bf16_in_fast_mode_or_when_switched_off(tmp_path, monkeypatch):
    photos = _photos(tmp_path / "in", 1)
    fake = install_fake_builder(monkeypatch, tmp_path, native_bf16=False)
    engine = _engine(tmp_path)
    events: list = []
    prepared = run_to_end(prepare_engine_steps(engine, photos, "full"), events.append)
    assert not prepared.built and not prepared.decision.build and events == []
    install_fake_builder(monkeypatch, tmp_path)
    assert run_to_end(prepare_engine_steps(engine, photos, "fast")).decision.possible is False
    assert run_to_end(prepare_engine_steps(engine, photos, "full", "off")).decision is None
    assert not fake.started


def test_a_small_batch_builds_only_when_asked(tmp_path, monkeypatch):
    fake = install_fake_builder(monkeypatch, tmp_path, build_seconds=3600.0)
    engine = _engine(tmp_path)
    photos = _photos(tmp_path / "in", 1)
    assert not run_to_end(prepare_engine_steps(engine, photos, "full")).built
    assert not fake.started
    assert run_to_end(prepare_engine_steps(engine, photos, "full", "on")).built


def test_a_failed_build_leaves_the_engine_eager_with_one_warning(tmp_path, monkeypatch):
    install_fake_builder(monkeypatch, tmp_path, "fail")
    engine = _engine(tmp_path)
    photos = _photos(tmp_path / "in", 1)
    prepared = run_to_end(prepare_engine_steps(engine, photos, "full"))
    assert not prepared.built and "boom: the C++ compiler crashed" in prepared.warning
    assert engine.compiled_for((64, 64)) is None


def test_an_engine_without_compiled_support_is_left_alone(tmp_path, monkeypatch, tiny_weights):
    fake = install_fake_builder(monkeypatch, tmp_path)
    photos = _photos(tmp_path / "in", 1)
    no_exposure = Enhancer(tiny_weights, device="cpu", config=EngineConfig(tile=64))
    assert no_exposure.compiled_build_request() is None
    assert run_to_end(prepare_engine_steps(no_exposure, photos, "full", "on")).decision is None
    assert run_to_end(prepare_engine_steps(object(), photos, "full", "on")).decision is None
    assert not fake.started


# ------------------------------------------------------------------------------------------ the real builder process


@pytest.mark.parametrize(("config", "precision"), [({}, "auto"), ({"context_window": 96}, "fp32"),
                                                   ({"context_window": None}, "bf16")])
def test_the_builder_process_keys_its_package_as_the_engine_looks_it_up(tmp_path, monkeypatch, config, precision):
    """What build_command passes rebuilds the engine's model exactly: same package name."""
    from core.compiled import CompiledModel, build_command, builder_engine

    monkeypatch.setenv("LOWLIGHT_CACHE_DIR", str(tmp_path / "cache"))
    engine = Enhancer(compilable_weights(tmp_path), device="cpu", precision=precision,
                      config=EngineConfig(tile=64, **config))
    request = engine.compiled_build_request()
    command = build_command(request)
    option = {name: command[i + 1] for i, name in enumerate(command) if name.startswith("--")}
    child = builder_engine(option["--weights"], option["--context-window"], option["--precision"])
    assert child.compiled_bf16 == request.bf16
    assert CompiledModel.path_for(child.model, request.shape, child.compiled_bf16) == request.path


def test_the_real_builder_process_reports_why_it_cannot_build(tmp_path, tiny_weights, monkeypatch):
    """The child process end to end, on weights it refuses before any compiling starts."""
    monkeypatch.setenv("LOWLIGHT_CACHE_DIR", str(tmp_path / "cache"))
    request = BuildRequest(weights=tiny_weights, shape=(64, 64), bf16=False, threads=1, context_window=None,
                           path=tmp_path / "cache" / "package.pt2")
    # (without a C++ compiler, the builder says that first)
    with pytest.raises(BuildError, match="only networks with exposure normalisation are compiled|C\\+\\+ compiler"):
        run_to_end(build_steps(request, poll_s=0.2))


def test_temporary_packages_left_by_killed_builds_are_removed_and_fresh_ones_kept(tmp_path):
    import os
    import time

    from core.compiled import STALE_TEMPORARY_S, remove_stale_temporaries

    stale = tmp_path / ".mirnet-384x384-fp32-abc.pt2.k3j2h1.pt2"
    fresh = tmp_path / ".mirnet-384x384-fp32-abc.pt2.x9y8z7.pt2"
    package = tmp_path / "mirnet-384x384-fp32-abc.pt2"
    other = tmp_path / ".notes.txt"
    for path in (stale, fresh, package, other):
        path.write_bytes(b"x")
    old = time.time() - STALE_TEMPORARY_S - 60
    for path in (stale, package, other):
        os.utime(path, (old, old))
    assert remove_stale_temporaries(tmp_path) == [stale]
    assert not stale.exists() and fresh.exists() and package.exists() and other.exists()


def test_full_mode_without_a_package_never_imports_inductor(tmp_path):
    """Importing torch._inductor takes seconds of Python holding the GIL: in the app's worker
    that froze the window. Looking for a package that is not there must not import it."""
    weights = compilable_weights(tmp_path)
    code = (
        "import sys, numpy as np\n"
        "from core.engine import Enhancer, EngineConfig\n"
        f"e = Enhancer({str(weights)!r}, device='cpu', config=EngineConfig(tile=64))\n"
        "e.enhance(np.full((100, 90, 3), 0.1, np.float32))\n"
        "assert e.compiled_for((64, 64)) is None\n"
        "print('torch._inductor' in sys.modules)\n"
    )
    env = {**os.environ, "LOWLIGHT_CACHE_DIR": str(tmp_path / "cache"), "OMP_NUM_THREADS": "1"}
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, env=env, timeout=120,
                          cwd=Path(__file__).resolve().parents[2])
    assert done.returncode == 0, done.stderr
    assert done.stdout.strip() == "False"
