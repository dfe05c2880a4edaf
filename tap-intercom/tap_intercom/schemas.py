"""Where the stream schemas are: inside the wheel, or the repository's schemas/ when editable."""

from __future__ import annotations

import importlib.resources
from importlib.resources.abc import Traversable
from pathlib import Path


def schema_dir() -> Traversable:
    packaged = importlib.resources.files("tap_intercom").joinpath("schemas")
    if packaged.is_dir():
        return packaged
    # An editable install (as Meltano makes) runs from the source tree: use the repository's copy.
    repository = Path(__file__).resolve().parents[2] / "schemas"
    if repository.is_dir():
        return repository
    msg = "tap-intercom: its stream schemas are missing (neither packaged nor in the repository)"
    raise FileNotFoundError(msg)
