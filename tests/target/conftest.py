"""Fixtures of the target's tests."""

from __future__ import annotations

from pathlib import Path

import pytest


@pytest.fixture
def database(tmp_path: Path) -> Path:
    """A fresh archive path (the file does not exist yet)."""
    return tmp_path / "archive" / "archive.sqlite"
