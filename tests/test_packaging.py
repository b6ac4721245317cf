"""A built wheel works on its own: installed into a fresh venv outside the checkout, ``lowlight enhance``
uses the bundled weights, the app starts (offscreen) with the bundled model and icons, and the wizard's
``python -m trainer.worker`` runs without a PYTHONPATH.

The wheel is built offline from a copy of the working tree (``pip wheel --no-build-isolation``, with
the test venv's setuptools). The fresh venv reaches the test venv's dependencies (torch, Qt, ...)
through a ``.pth`` file, so nothing is downloaded or installed twice; the wheel goes in with --no-deps.
"""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import sysconfig
import textwrap
import zipfile
from pathlib import Path

import numpy as np
import pytest
from PIL import Image

pytestmark = pytest.mark.slow  # about 25 s on 2 busy cores: a wheel build and three fresh interpreters

ROOT = Path(__file__).resolve().parents[1]
#: Source folder -> the package it is installed as.
PACKAGES = {"core": "core", "trainer": "trainer", "desktop_app": "desktop_app", "lowlight": "lowlight",
            "resources": "lowlight_resources"}
SHIPPED = {".py", ".svg", ".safetensors"}

APP_CHECK = textwrap.dedent("""
    import json, sys, time
    from pathlib import Path

    import core, desktop_app, lowlight, lowlight_resources, trainer
    from desktop_app.app import create_application
    from desktop_app.main_window import MainWindow
    from desktop_app.resources import icon, icon_path
    from desktop_app.settings import open_store

    app = create_application(["lowlight-studio"])
    window = MainWindow(open_store(Path("settings.ini")))  # loads the bundled model in the background
    window.show()
    deadline = time.monotonic() + 60
    while (window.engine is None or window.models.busy) and time.monotonic() < deadline:
        app.processEvents()
        time.sleep(0.02)
    report = {
        "modules": [m.__file__ for m in (core, desktop_app, lowlight, lowlight_resources, trainer)],
        "sys_path": [str(Path(p).resolve()) for p in sys.path],  # "" is this process's folder
        "model": window.model_text,
        "icon": str(icon_path("open")),
        "icon_loaded": not icon("open").isNull(),
        "window_icon": not window.windowIcon().isNull(),
    }
    window.close()
    app.processEvents()
    print(json.dumps(report))
""")


def _run(args: list[str], cwd: Path, env: dict[str, str], timeout: float = 180) -> subprocess.CompletedProcess:
    done = subprocess.run(args, cwd=cwd, env=env, capture_output=True, text=True, timeout=timeout)
    assert done.returncode == 0, f"{args} exited {done.returncode}\n{done.stdout}\n{done.stderr}"
    assert "Traceback" not in done.stderr, done.stderr
    return done


def _shipped_files(tree: Path) -> set[str]:
    """The files a wheel must hold, as ``package/relative/path``, from a source tree."""
    names = set()
    for folder, package in PACKAGES.items():
        for path in (tree / folder).rglob("*"):
            if path.is_file() and path.suffix in SHIPPED and "__pycache__" not in path.parts:
                names.add(f"{package}/{path.relative_to(tree / folder).as_posix()}")
    return names


@pytest.fixture(scope="module")
def installed(tmp_path_factory: pytest.TempPathFactory) -> dict:
    """Build the wheel and install it into a fresh venv; returns paths and a clean environment."""
    base = tmp_path_factory.mktemp("packaging")
    assert not base.resolve().is_relative_to(ROOT)
    source = base / "source"
    ignore = shutil.ignore_patterns("__pycache__", "*.pyc", "*.egg-info", "build")
    for folder in PACKAGES:
        shutil.copytree(ROOT / folder, source / folder, ignore=ignore)
    for name in ("pyproject.toml", "README.md"):
        shutil.copy2(ROOT / name, source / name)

    env = {k: v for k, v in os.environ.items() if k not in ("PYTHONPATH", "PYTHONHOME", "PYTHONSTARTUP")}
    env.update(PIP_DISABLE_PIP_VERSION_CHECK="1", PIP_NO_INPUT="1", QT_QPA_PLATFORM="offscreen",
               XDG_CONFIG_HOME=str(base / "config"), XDG_DATA_HOME=str(base / "data"),
               XDG_CACHE_HOME=str(base / "cache"))
    dist = base / "dist"
    _run([sys.executable, "-m", "pip", "wheel", "--no-deps", "--no-build-isolation", "--no-index",
          "--wheel-dir", str(dist), str(source)], cwd=base, env=env)
    wheel = next(dist.glob("lowlight_studio-*.whl"))

    venv = base / "venv"
    _run([sys.executable, "-m", "venv", "--without-pip", str(venv)], cwd=base, env=env)
    python = venv / "bin" / "python"
    _run([sys.executable, "-m", "pip", "--python", str(python), "install", "--no-deps", "--no-index",
          str(wheel)], cwd=base, env=env)
    # Only now let the venv see the test venv's packages (torch, PySide6, ...): pip saw an empty venv.
    # Its .pth files are not run from there, so the checkout's editable finder stays out.
    site = Path(_run([str(python), "-c", "import sysconfig; print(sysconfig.get_paths()['purelib'])"],
                     cwd=base, env=env).stdout.strip())
    outer = dict.fromkeys(sysconfig.get_paths()[key] for key in ("purelib", "platlib"))
    (site / "zz_test_dependencies.pth").write_text("".join(f"{path}\n" for path in outer), encoding="utf-8")

    work = base / "work"
    work.mkdir()
    return {"wheel": wheel, "source": source, "venv": venv, "python": python, "work": work, "env": env}


def test_the_wheel_holds_every_module_the_weights_and_the_icons(installed: dict) -> None:
    with zipfile.ZipFile(installed["wheel"]) as wheel:
        names = set(wheel.namelist())
    expected = _shipped_files(installed["source"])
    assert "lowlight_resources/weights/lite.safetensors" in expected
    assert "lowlight_resources/icons/app.svg" in expected
    assert expected <= names, f"missing from the wheel: {sorted(expected - names)}"
    assert not {n for n in names if n.split("/")[0] in ("resources", "tests")}


def test_lowlight_enhance_with_the_bundled_weights_from_any_folder(installed: dict) -> None:
    work, env = installed["work"], installed["env"]
    photo = work / "dark.png"
    Image.fromarray((np.random.default_rng(0).random((20, 24, 3)) * 60).astype(np.uint8)).save(photo)
    done = _run([str(installed["venv"] / "bin" / "lowlight"), "enhance", str(photo), "-o", "out", "-q",
                 "--device", "cpu"], cwd=work, env=env)
    with Image.open(work / "out" / "dark_enhanced.png") as result:
        assert result.size == (24, 20)
    assert "enhanced 1 of 1 image" in done.stderr


def test_the_app_starts_with_the_bundled_model_and_icons(installed: dict) -> None:
    work, venv = installed["work"], installed["venv"].resolve()
    done = _run([str(installed["python"]), "-c", APP_CHECK], cwd=work, env=installed["env"])
    report = json.loads(done.stdout.strip().splitlines()[-1])
    for module in report["modules"]:
        assert Path(module).resolve().is_relative_to(venv), module
    # The only place a `core` package can come from is the venv (the checkout is not on sys.path).
    sources = [Path(p) for p in report["sys_path"] if (Path(p) / "core" / "__init__.py").is_file()]
    assert sources == [Path(report["modules"][0]).resolve().parents[1]]
    assert str(ROOT) not in report["sys_path"]
    assert report["model"], "the bundled model did not load"
    assert Path(report["icon"]).resolve().is_relative_to(venv)
    assert report["icon_loaded"] and report["window_icon"]


def test_the_training_worker_runs_without_a_source_tree(installed: dict) -> None:
    done = _run([str(installed["python"]), "-m", "trainer.worker", "--help"], cwd=installed["work"],
                env=installed["env"])
    assert "--config" in done.stdout
