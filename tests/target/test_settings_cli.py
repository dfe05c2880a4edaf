"""The target's settings through its CLI: unknown ones warned with the closest known one, a
misspelled required one named, numbers from the environment parsed, and an archive path that is
a folder named as such, each in one line without a traceback."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import typing as t
from pathlib import Path

CLI = "from target_sqlite_archive.target import TargetSqliteArchive; TargetSqliteArchive.cli()"
MESSAGES = (
    json.dumps(
        {
            "type": "SCHEMA",
            "stream": "s",
            "schema": {"type": "object", "properties": {"id": {"type": "integer"}}},
            "key_properties": ["id"],
        }
    )
    + "\n"
    + json.dumps({"type": "RECORD", "stream": "s", "record": {"id": 1}})
    + "\n"
)


def _run(
    tmp_path: Path, config: dict[str, t.Any], env: dict[str, str] | None = None
) -> subprocess.CompletedProcess[str]:
    path = tmp_path / "config.json"
    path.write_text(json.dumps(config))
    environment = {k: v for k, v in os.environ.items() if not k.startswith("TARGET_SQLITE")}
    command = [sys.executable, "-c", CLI, "--config", str(path)]
    if env:
        environment.update(env)
        command += ["--config", "ENV"]
    return subprocess.run(
        command, input=MESSAGES, capture_output=True, text=True, timeout=120, env=environment
    )


def _lines(done: subprocess.CompletedProcess[str], level: str) -> list[str]:
    return [line for line in done.stderr.splitlines() if f"| {level}" in line]


def test_an_unknown_setting_warns_naming_the_closest_known_one(tmp_path: Path) -> None:
    done = _run(tmp_path, {"database": str(tmp_path / "a.sqlite"), "batch_sise_rows": 10})
    assert done.returncode == 0, done.stderr
    warnings = _lines(done, "WARNING")
    assert any(
        "'batch_sise_rows'" in w and "did you mean 'batch_size_rows'" in w for w in warnings
    ), warnings


def test_a_misspelled_required_setting_is_named(tmp_path: Path) -> None:
    done = _run(tmp_path, {"databse": str(tmp_path / "a.sqlite")})
    assert done.returncode == 1
    errors = _lines(done, "ERROR")
    assert "'database' is a required property" in errors[0], errors
    assert "the config has 'databse'" in errors[0], errors
    assert "Traceback" not in done.stderr


def test_decimal_settings_from_the_environment_are_parsed(tmp_path: Path) -> None:
    env = {
        "TARGET_SQLITE_ARCHIVE_BATCH_WAIT_SECONDS": "2.5",
        "TARGET_SQLITE_ARCHIVE_BUSY_TIMEOUT_SECONDS": "10",
    }
    done = _run(tmp_path, {"database": str(tmp_path / "a.sqlite")}, env)
    assert done.returncode == 0, done.stderr
    bad = _run(
        tmp_path,
        {"database": str(tmp_path / "a.sqlite")},
        {"TARGET_SQLITE_ARCHIVE_BATCH_WAIT_SECONDS": "soon"},
    )
    assert bad.returncode == 1
    errors = _lines(bad, "ERROR")
    assert "TARGET_SQLITE_ARCHIVE_BATCH_WAIT_SECONDS must be a decimal number" in errors[0]
    assert "Traceback" not in bad.stderr


def test_a_database_that_is_a_folder_is_named_in_one_line(tmp_path: Path) -> None:
    done = _run(tmp_path, {"database": str(tmp_path)})
    assert done.returncode == 1
    errors = _lines(done, "ERROR")
    assert len(errors) == 1, done.stderr
    assert f"Archive {tmp_path} is a folder, not a file" in errors[0]
    assert "Traceback" not in done.stderr
