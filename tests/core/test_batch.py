"""core.batch: input collection, output naming, failures, cancel and no-clobber rules."""

from __future__ import annotations

import threading
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

from core.batch import BatchOptions, collect_inputs, plan_output, run_batch, run_batch_steps
from core.engine import ProgressEvent
from core.errors import CancelledError


class FakeEnhancer:
    """Stands in for core.engine.Enhancer: brightens, reports 4 'tiles', honours cancel."""

    def __init__(self, cancel_on_call: int | None = None, cancel: threading.Event | None = None) -> None:
        self.calls = 0
        self.cancel_on_call = cancel_on_call
        self.cancel_event = cancel
        self.exposures: list[float] = []

    def enhance(self, image, mode="full", strength=1.0, progress=None, cancel=None, exposure=0.0):
        self.calls += 1
        self.exposures.append(exposure)
        for tile in range(4):
            if self.calls == self.cancel_on_call and tile == 2:
                self.cancel_event.set()  # the user presses Cancel while tile 2 runs
            if cancel is not None and cancel.is_set():
                raise CancelledError()
            if progress is not None:
                progress(ProgressEvent(tile + 1, 4, "tiles"))
        return np.sqrt(image).astype(np.float32)


def _make_images(folder: Path, count: int, rng: np.random.Generator, corrupt: int | None = None) -> list[Path]:
    folder.mkdir(parents=True, exist_ok=True)
    paths = []
    for i in range(count):
        path = folder / f"img{i}.{'png' if i % 2 else 'jpg'}"
        if i == corrupt:
            path.write_bytes(b"\xff\xd8\xff\xe0 definitely not a whole JPEG")
        else:
            Image.fromarray((rng.random((40, 48, 3)) * 90).astype(np.uint8)).save(path)
        paths.append(path)
    return paths


def _snapshot(paths: list[Path]) -> dict[Path, bytes]:
    return {p: p.read_bytes() for p in paths}


def test_one_corrupt_file_is_reported_and_the_rest_done(tmp_path, rng):
    inputs = _make_images(tmp_path / "in", 5, rng, corrupt=2)
    before = _snapshot(inputs)
    report = run_batch(FakeEnhancer(), inputs, tmp_path / "out")
    assert len(report.succeeded) == 4 and not report.cancelled and not report.ok
    assert [p for p, _ in report.failed] == [inputs[2]]
    assert "truncated" in report.failed[0][1] or "not an image" in report.failed[0][1]
    names = sorted(p.name for p in (tmp_path / "out").iterdir())
    assert names == ["img0_enhanced.jpg", "img1_enhanced.png", "img3_enhanced.png", "img4_enhanced.jpg"]
    assert _snapshot(inputs) == before  # originals byte-identical


def test_progress_events_and_report(tmp_path, rng):
    inputs = _make_images(tmp_path / "in", 3, rng)
    steps, tiles = [], []
    report = run_batch(FakeEnhancer(), inputs, tmp_path / "out", on_progress=steps.append,
                       on_file_progress=tiles.append)
    assert [(s.index, s.stage) for s in steps] == [(0, "start"), (0, "done"), (1, "start"), (1, "done"),
                                                   (2, "start"), (2, "done")]
    assert all(s.total == 3 for s in steps) and steps[-1].fraction == 1.0
    assert steps[-1].output == report.succeeded[-1][1]
    assert [t.file_fraction for t in tiles[:4]] == [0.25, 0.5, 0.75, 1.0]
    fractions = [t.fraction for t in tiles]
    assert fractions == sorted(fractions)
    assert tiles[-1].eta_s == pytest.approx(0.0, abs=1e-6)

    generator = run_batch_steps(FakeEnhancer(), inputs, tmp_path / "out2")
    events = list(_drain(generator))
    assert len(events[:-1]) == 6 and events[-1].ok  # the generator *returns* the report


def _drain(generator):
    while True:
        try:
            yield next(generator)
        except StopIteration as stop:
            yield stop.value
            return


def test_cancel_leaves_no_partial_file(tmp_path, rng):
    inputs = _make_images(tmp_path / "in", 4, rng)
    cancel = threading.Event()
    enhancer = FakeEnhancer(cancel_on_call=3, cancel=cancel)
    report = run_batch(enhancer, inputs, tmp_path / "out", cancel=cancel)
    assert report.cancelled and not report.failed
    assert [p for p, _ in report.succeeded] == inputs[:2]
    assert sorted(p.name for p in (tmp_path / "out").iterdir()) == ["img0_enhanced.jpg", "img1_enhanced.png"]
    assert enhancer.calls == 3  # the 4th file was never started


def test_existing_outputs_are_never_clobbered(tmp_path, rng):
    inputs = _make_images(tmp_path / "in", 2, rng)
    out = tmp_path / "out"
    out.mkdir()
    existing = out / "img0_enhanced.jpg"
    existing.write_bytes(b"keep me")

    report = run_batch(FakeEnhancer(), inputs, out, BatchOptions(skip_existing=True))
    assert report.skipped == [(inputs[0], existing)] and existing.read_bytes() == b"keep me"

    report = run_batch(FakeEnhancer(), inputs[:1], out)  # default: a free name
    assert report.succeeded[0][1].name == "img0_enhanced (1).jpg" and existing.read_bytes() == b"keep me"

    report = run_batch(FakeEnhancer(), inputs[:1], out, BatchOptions(overwrite=True))
    assert report.succeeded[0][1] == existing and existing.read_bytes() != b"keep me"


def test_never_writes_onto_an_input(tmp_path, rng):
    inputs = _make_images(tmp_path / "in", 2, rng)
    before = _snapshot(inputs)
    report = run_batch(FakeEnhancer(), inputs, tmp_path / "in", BatchOptions(suffix="", overwrite=True))
    assert report.ok and [o.name for _, o in report.succeeded] == ["img0 (1).jpg", "img1 (1).png"]
    assert len(report.notes) == 2 and "is the name of an input" in report.notes[0][1]
    assert _snapshot(inputs) == before


def test_same_stem_outputs_do_not_collide(tmp_path, rng):
    folder = tmp_path / "in"
    folder.mkdir()
    for ext in ("jpg", "png"):
        Image.fromarray((rng.random((20, 24, 3)) * 90).astype(np.uint8)).save(folder / f"shot.{ext}")
    report = run_batch(FakeEnhancer(), collect_inputs([folder]), tmp_path / "out",
                       BatchOptions(fmt="png", overwrite=True))
    assert sorted(o.name for _, o in report.succeeded) == ["shot_enhanced (1).png", "shot_enhanced.png"]


def test_output_folder_that_is_a_file(tmp_path, rng):
    from core.errors import ImageWriteError

    (tmp_path / "out").write_text("x")
    with pytest.raises(ImageWriteError, match="is a file"):
        run_batch(FakeEnhancer(), _make_images(tmp_path / "in", 1, rng), tmp_path / "out")


def test_16_bit_input_gives_16_bit_output(tmp_path):
    from core.io import read_image, write_image

    source = write_image(tmp_path / "in16.png", np.full((12, 14, 3), 0.2, np.float32), bit_depth=16)
    report = run_batch(FakeEnhancer(), [source], tmp_path / "out")
    assert read_image(report.succeeded[0][1]).bit_depth == 16


def test_collect_inputs(tmp_path):
    (tmp_path / "sub" / "deeper").mkdir(parents=True)
    for name in ("b.JPG", "a.png", "notes.txt", ".hidden.png", "sub/c.tif", "sub/deeper/d.webp"):
        (tmp_path / name).write_bytes(b"x")
    assert [p.name for p in collect_inputs([tmp_path])] == ["a.png", "b.JPG"]
    found = collect_inputs([tmp_path, tmp_path / "a.png"], recursive=True)
    assert [p.relative_to(tmp_path).as_posix() for p in found] == ["a.png", "b.JPG", "sub/c.tif",
                                                                   "sub/deeper/d.webp"]
    assert collect_inputs([tmp_path], recursive=True, exclude=[tmp_path / "sub"])[-1].name == "b.JPG"
    assert collect_inputs([tmp_path / "notes.txt"]) == []
    assert collect_inputs([tmp_path / "missing.jpg"]) == [tmp_path / "missing.jpg"]  # reported later


def test_plan_output():
    assert plan_output(Path("/x/photo.JPG"), Path("/out"), "_enhanced", "same") == Path("/out/photo_enhanced.JPG")
    assert plan_output("/x/photo.jpg", "/out", "", "png") == Path("/out/photo.png")
    assert plan_output("/x/scan.bmp", "/out", "_e", "same") == Path("/out/scan_e.png")
    assert plan_output("/x/a.b.tif", "/out", "_e", "webp") == Path("/out/a.b_e.webp")
    with pytest.raises(ValueError):
        plan_output("/x/a.png", "/out", "_e", "gif")


def test_options_are_validated():
    with pytest.raises(ValueError):
        BatchOptions(fmt="gif")
    with pytest.raises(ValueError):
        BatchOptions(skip_existing=True, overwrite=True)
    with pytest.raises(ValueError):
        BatchOptions(suffix="../x")


def test_with_the_real_engine(tmp_path, rng, tiny_weights):
    engine = pytest.importorskip("core.engine")
    inputs = _make_images(tmp_path / "in", 2, rng)
    tiles = []
    report = run_batch(engine.Enhancer(tiny_weights, device="cpu"), inputs, tmp_path / "out",
                       BatchOptions(mode="fast"), on_file_progress=tiles.append)
    assert report.ok and len(report.succeeded) == 2
    assert tiles and tiles[-1].fraction == pytest.approx(1.0)


def test_a_real_engine_gets_integer_pixels_and_the_same_files(tmp_path, rng):
    """With ``Enhancer.render`` the photo stays uint8 / uint16; outputs equal the float path's."""
    import torch

    from core.config import MIRNetConfig
    from core.engine import EngineConfig, Enhancer
    from core.io import write_image
    from core.model import MIRNet

    torch.manual_seed(0)
    enhancer = Enhancer(model=MIRNet(MIRNetConfig(channels=8, num_rrg=1, num_mrb=1)), device="cpu",
                        config=EngineConfig(tile=128))
    folder = tmp_path / "in"
    folder.mkdir()
    jpeg = folder / "a.jpg"
    Image.fromarray((rng.random((50, 70, 3)) * 90).astype(np.uint8)).save(jpeg)
    png16 = write_image(folder / "b.png", rng.random((40, 30, 3)).astype(np.float32) * 0.3, bit_depth=16)
    seen = []
    real_render = enhancer.render

    def spy(image, *args, **kwargs):
        seen.append((image.dtype, np.dtype(kwargs["dtype"])))
        return real_render(image, *args, **kwargs)

    enhancer.render = spy  # type: ignore[method-assign]
    options = BatchOptions(strength=0.7)
    report = run_batch(enhancer, [jpeg, png16], tmp_path / "out", options)
    assert report.ok and seen == [(np.uint8, np.uint8), (np.uint16, np.uint16)]

    class FloatOnly:
        def enhance(self, image, **kwargs):
            return Enhancer.enhance(enhancer, image, **kwargs)

    again = run_batch(FloatOnly(), [jpeg, png16], tmp_path / "float", options)
    for (_, a), (_, b) in zip(report.succeeded, again.succeeded):
        assert a.read_bytes() == b.read_bytes()
