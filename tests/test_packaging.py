"""Installing from a git URL, as `pipx install git+…#subdirectory=tap-intercom` and Meltano's
`pip_url` do: each package builds from its subdirectory of a clone, offline, under its
publishable name, with its executable (and, for the tap, the stream schemas from ../schemas).

The clone is of the committed tree (HEAD), as a user's would be.
"""

from __future__ import annotations

import subprocess
import sys
import zipfile
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent

PACKAGES = {
    # subdirectory: (distribution, executable)
    "tap-intercom": ("archivist-tap-intercom", "tap-intercom"),
    "target-sqlite-archive": ("target-sqlite-archive", "target-sqlite-archive"),
    "intercom-archive": ("intercom-archive", "intercom-archive"),
}


@pytest.mark.parametrize("subdirectory", list(PACKAGES))
def test_a_wheel_builds_from_a_git_url_of_the_subdirectory(
    tmp_path: Path, subdirectory: str
) -> None:
    distribution, executable = PACKAGES[subdirectory]
    url = f"git+file://{ROOT}#subdirectory={subdirectory}"
    done = subprocess.run(
        [
            BIN / "python",
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "--no-index",  # offline: nothing but the clone and the build backend installed here
            "--no-build-isolation",
            "-q",
            "-w",
            tmp_path,
            url,
        ],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert done.returncode == 0, done.stderr
    wheels = list(tmp_path.glob(f"{distribution.replace('-', '_')}-*.whl"))
    assert len(wheels) == 1, list(tmp_path.iterdir())
    archive = zipfile.ZipFile(wheels[0])
    names = archive.namelist()
    metadata = archive.read(next(n for n in names if n.endswith(".dist-info/METADATA"))).decode()
    assert f"Name: {distribution}\n" in metadata
    entry_points = archive.read(
        next(n for n in names if n.endswith(".dist-info/entry_points.txt"))
    ).decode()
    assert f"{executable} = " in entry_points
    if subdirectory == "tap-intercom":
        shipped = {Path(n).name for n in names if n.startswith("tap_intercom/schemas/")}
        assert {p.name for p in (ROOT / "schemas").glob("*.json")} <= shipped
