"""The one lookup of bundled files (resources/, installed as lowlight_resources)."""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

from lowlight_resources import BUNDLED_WEIGHTS, ICONS, resource_path

ROOT = Path(__file__).resolve().parents[2]


def test_bundled_files_are_found() -> None:
    assert resource_path(ICONS, "app.svg").read_bytes() == (ROOT / "resources" / "icons" / "app.svg").read_bytes()
    assert resource_path(*BUNDLED_WEIGHTS).name == "lite.safetensors"
    assert not resource_path(ICONS, "no-such-icon.svg").exists()


def test_files_inside_a_zip_are_copied_out_to_real_files(tmp_path: Path) -> None:
    archive = tmp_path / "bundle.zip"
    with zipfile.ZipFile(archive, "w") as bundle:
        bundle.write(ROOT / "resources" / "__init__.py", "lowlight_resources/__init__.py")
        bundle.writestr("lowlight_resources/icons/app.svg", "<svg/>")
    code = (
        "import sys; sys.path.insert(0, sys.argv[1])\n"
        "import lowlight_resources as r\n"
        "assert r.__file__.startswith(sys.argv[1]), r.__file__\n"
        "p = r.resource_path('icons', 'app.svg')\n"
        "print(p.is_file(), p.read_text())\n"
    )
    done = subprocess.run([sys.executable, "-c", code, str(archive)], cwd=tmp_path, capture_output=True, text=True,
                          timeout=60)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["True", "<svg/>"]
