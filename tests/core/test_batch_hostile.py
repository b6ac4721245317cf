"""core.batch and lowlight enhance against hostile inputs and folders (issue 12)."""

from __future__ import annotations

import fcntl
import os
import signal
import subprocess
import threading
import time
from pathlib import Path

import numpy as np
import pytest
from mounts import mount_tmpfs
from PIL import Image
from test_batch import FakeEnhancer, _make_images, _snapshot

from core.atomic import remove_stale_temp_files
from core.batch import BatchOptions, collect_inputs, run_batch
from core.cli import main
from core.errors import ImageWriteError

pytestmark = pytest.mark.timeout(60)  # a hang is a failure, not a stuck suite


def _hostile_folder(folder: Path, rng) -> list[Path]:
    good = _make_images(folder, 2, rng)
    os.mkfifo(folder / "pipe.jpg")
    (folder / "loop.png").symlink_to(folder / "loop.png")
    (folder / "dangling.jpg").symlink_to(folder / "gone.jpg")
    return good


def test_fifos_loops_and_dangling_links_fail_one_by_one(tmp_path, rng):
    good = _hostile_folder(tmp_path / "in", rng)
    for named in ([tmp_path / "in"], sorted((tmp_path / "in").iterdir())):  # a folder, or every file named
        inputs = collect_inputs(named)
        assert len(inputs) == 5
        out = tmp_path / f"out{len(named)}"
        enhancer = FakeEnhancer()
        report = run_batch(enhancer, inputs, out)
        assert sorted(p for p, _ in report.succeeded) == sorted(good) and enhancer.calls == 2
        reasons = {p.name: r for p, r in report.failed}
        assert "named pipe" in reasons["pipe.jpg"]
        assert "symbolic link loop" in reasons["loop.png"]
        assert "broken symbolic link" in reasons["dangling.jpg"]


def test_cli_names_each_hostile_file_and_never_blocks(tmp_path, rng, tiny_weights, capsys):
    _hostile_folder(tmp_path / "in", rng)
    named = [str(p) for p in sorted((tmp_path / "in").iterdir())]
    code = main(["enhance", *named, "-o", str(tmp_path / "out"), "--weights", str(tiny_weights), "-q"])
    err = capsys.readouterr().err
    assert code == 1 and "Traceback" not in err and "RuntimeError" not in err
    assert err.count("FAILED") == 3 and "enhanced 2 of 5" in err


def test_output_into_the_input_folder_or_its_parent(tmp_path, rng, tiny_weights, capsys):
    inputs = _make_images(tmp_path / "in", 2, rng)
    before = _snapshot(inputs)
    weights = ["--weights", str(tiny_weights), "-q", "--mode", "fast"]
    assert main(["enhance", str(tmp_path / "in"), "-o", str(tmp_path / "in"), *weights]) == 0
    assert sorted(p.name for p in (tmp_path / "in").iterdir()) == ["img0.jpg", "img0_enhanced.jpg", "img1.png",
                                                                  "img1_enhanced.png"]
    assert main(["enhance", str(tmp_path / "in" / "img0.jpg"), "-o", str(tmp_path), *weights]) == 0
    assert (tmp_path / "img0_enhanced.jpg").is_file()
    capsys.readouterr()
    # the output name is an input's own: a free name, and a note; the input stays as it was
    assert main(["enhance", *map(str, inputs), "-o", str(tmp_path / "in"), "--suffix", "", "--overwrite",
                 *weights]) == 0
    err = capsys.readouterr().err
    assert "img0.jpg is the name of an input" in err and "img0 (1).jpg" in err
    assert _snapshot(inputs) == before


def test_collect_inputs_excludes_the_output_folder_only_inside_the_input(tmp_path, rng):
    _make_images(tmp_path / "in", 1, rng)
    _make_images(tmp_path / "in" / "enhanced", 1, rng)
    assert len(collect_inputs([tmp_path / "in"], recursive=True, exclude=[tmp_path / "in" / "enhanced"])) == 1
    assert len(collect_inputs([tmp_path / "in"], recursive=True, exclude=[tmp_path / "in"])) == 2
    assert len(collect_inputs([tmp_path / "in"], recursive=True, exclude=[tmp_path])) == 2


def _aged(path: Path, data: bytes = b"partial", age_s: float = 3600) -> Path:
    path.write_bytes(data)
    old = time.time() - age_s
    os.utime(path, (old, old))
    return path


def test_stale_temp_files_of_our_pattern_are_removed_and_nothing_else(tmp_path, rng):
    out = tmp_path / "out"
    out.mkdir()
    stale = [_aged(out / ".img0_enhanced.jpg.k2j_9x0a.part"), _aged(out / ".metrics.json.a1b2c3d4.tmp")]
    kept = [_aged(out / ".img0_enhanced.jpg.part"), _aged(out / "holiday.a1b2c3d4.part"),
            _aged(out / ".notes.a1b2c3d4.txt"), _aged(out / ".x.jpg.abcdefgh.part", age_s=0)]  # too young
    held = _aged(out / ".img1_enhanced.png.zzzzzzzz.part")
    (out / ".dir.abcdefgh.tmp").mkdir()
    with open(held, "rb") as handle:  # a live writer of another run holds its temporary file
        fcntl.flock(handle.fileno(), fcntl.LOCK_EX)
        report = run_batch(FakeEnhancer(), _make_images(tmp_path / "in", 2, rng), out)
        assert report.ok
        assert not any(p.exists() for p in stale) and all(p.exists() for p in kept) and held.exists()
    assert remove_stale_temp_files(out) == [held]
    assert (out / ".dir.abcdefgh.tmp").is_dir()


def test_a_file_where_the_output_folder_should_be(tmp_path, rng):
    (tmp_path / "blocker").write_text("a file")
    enhancer = FakeEnhancer()
    with pytest.raises(ImageWriteError, match="cannot create the output folder"):
        run_batch(enhancer, _make_images(tmp_path / "in", 1, rng), tmp_path / "blocker" / "out")
    assert enhancer.calls == 0


def test_a_read_only_output_folder_is_found_before_enhancing(tmp_path, rng, tiny_weights, capsys):
    inputs = _make_images(tmp_path / "in", 2, rng)
    with mount_tmpfs(tmp_path / "ro", "ro,size=1m") as folder:
        enhancer = FakeEnhancer()
        with pytest.raises(ImageWriteError, match="not writable"):
            run_batch(enhancer, inputs, folder)
        assert enhancer.calls == 0
        assert main(["enhance", str(tmp_path / "in"), "-o", str(folder), "--weights", str(tiny_weights)]) == 2
        assert "not writable" in capsys.readouterr().err


def test_a_full_disk_is_found_before_enhancing(tmp_path, rng):
    big = tmp_path / "in" / "big.png"
    big.parent.mkdir()
    Image.fromarray(rng.integers(0, 255, (300, 300, 3), dtype=np.uint8)).save(big)  # ~270 kB, incompressible
    with mount_tmpfs(tmp_path / "small", "size=128k") as folder:
        enhancer = FakeEnhancer()
        with pytest.raises(ImageWriteError, match="disk is full"):
            run_batch(enhancer, [big], folder)
        assert enhancer.calls == 0


class _Rival(FakeEnhancer):
    """While it enhances, "another process" publishes a file under the name this run planned."""

    def __init__(self, names: list[Path]) -> None:
        super().__init__()
        self.names = names

    def enhance(self, image, **kwargs):
        out = super().enhance(image, **kwargs)
        for name in self.names:
            if not name.exists():
                name.write_bytes(b"the other run's output")
                break
        return out


def test_a_name_taken_meanwhile_gets_the_next_free_name_or_is_skipped(tmp_path, rng):
    inputs = _make_images(tmp_path / "in", 1, rng)
    out = tmp_path / "out"
    out.mkdir()
    report = run_batch(_Rival([out / "img0_enhanced.jpg"]), inputs, out)
    assert report.ok and report.succeeded[0][1].name == "img0_enhanced (1).jpg"
    assert (out / "img0_enhanced.jpg").read_bytes() == b"the other run's output"
    report = run_batch(_Rival([out / "img0_enhanced (2).jpg", out / "img0_enhanced (3).jpg"]), inputs, out)
    assert report.ok and report.succeeded[0][1].name == "img0_enhanced (3).jpg"  # (2) was taken meanwhile
    fresh = tmp_path / "fresh"
    fresh.mkdir()
    report = run_batch(_Rival([fresh / "img0_enhanced.jpg"]), inputs, fresh, BatchOptions(skip_existing=True))
    assert report.ok and report.skipped == [(inputs[0], fresh / "img0_enhanced.jpg")] and not report.failed


def test_concurrent_runs_into_one_folder(tmp_path, rng):
    inputs = _make_images(tmp_path / "in", 3, rng)
    out = tmp_path / "out"
    out.mkdir()
    barrier = threading.Barrier(3)

    class Lockstep(FakeEnhancer):
        def enhance(self, image, **kwargs):
            barrier.wait(10)  # every run plans its names before any publishes
            return super().enhance(image, **kwargs)

    reports = []
    threads = [threading.Thread(target=lambda: reports.append(run_batch(Lockstep(), inputs, out))) for _ in range(3)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(30)
    assert len(reports) == 3 and all(r.ok for r in reports)
    names = sorted(p.name for p in out.iterdir())
    assert names == sorted(f"img{i}_enhanced{n}.{'png' if i % 2 else 'jpg'}"
                           for i in range(3) for n in ("", " (1)", " (2)"))


_SLOW_CLI = """
import os, sys, time
import numpy as np
import core.cli

class Slow:
    def enhance(self, image, mode="full", strength=1.0, progress=None, cancel=None, exposure=0.0):
        return np.sqrt(image).astype(np.float32)

real_fsync = os.fsync
def slow_fsync(fd):  # the second output's temporary file stays for a while
    if len(os.listdir(sys.argv[2])) >= 2:
        time.sleep(30)
    real_fsync(fd)

os.fsync = slow_fsync
core.cli._make_enhancer = lambda *a, **k: Slow()
sys.exit(core.cli.main(["enhance", sys.argv[1], "-o", sys.argv[2], "-q"]))
"""


@pytest.mark.parametrize("sig, code, word", [(signal.SIGTERM, 143, "terminated"), (signal.SIGINT, 130, "interrupted")])
def test_sigterm_is_handled_like_ctrl_c(tmp_path, rng, sig, code, word):
    _make_images(tmp_path / "in", 3, rng)
    out = tmp_path / "out"
    root = Path(__file__).resolve().parents[2]
    process = subprocess.Popen([os.sys.executable, "-c", _SLOW_CLI, str(tmp_path / "in"), str(out)], cwd=root,
                               stderr=subprocess.PIPE, text=True)
    deadline = time.monotonic() + 30
    # the first output is published and the second one's temporary file is being written
    while not ((out / "img0_enhanced.jpg").is_file() and any(p.suffix == ".part" for p in out.iterdir())):
        assert process.poll() is None and time.monotonic() < deadline, process.stderr.read()
        time.sleep(0.05)
    process.send_signal(sig)
    err = process.communicate(timeout=20)[1]
    assert process.returncode == code, err
    assert f"{word}: 1 of 3 image(s) finished in" in err and "Traceback" not in err
    assert [p.name for p in out.iterdir()] == ["img0_enhanced.jpg"]  # no hidden .part file
