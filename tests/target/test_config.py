"""Settings: documented, and those that would break the archive rejected."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from singer_sdk.exceptions import ConfigValidationError

from target_sqlite_archive.settings import CONFIG_SCHEMA, validate
from target_sqlite_archive.sink import ArchiveSink
from target_sqlite_archive.target import TargetSqliteArchive
from tests.target.harness import record, rows, run, schema


@pytest.mark.parametrize(
    ("setting", "value"),
    [
        ("load_method", "append-only"),
        ("load_method", "overwrite"),
        ("flattening_enabled", True),
        ("add_record_metadata", True),
        ("stream_maps", {"s": {"x": "1"}}),
        ("batch_size_rows", 0),
        ("batch_size_mb", 0),
        ("cache_size_mb", -1),
        ("raw_compression_level", 12),
    ],
)
def test_breaking_settings_are_rejected(database: Path, setting: str, value: object) -> None:
    with pytest.raises(ConfigValidationError) as excinfo:
        TargetSqliteArchive(config={"database": str(database), setting: value})
    assert any(setting in error for error in excinfo.value.errors)


def test_every_setting_is_documented() -> None:
    properties = TargetSqliteArchive.config_jsonschema["properties"]
    for name in ("database", "batch_size_rows", "batch_wait_seconds", "validate_records"):
        assert name in properties
    for name, spec in properties.items():
        assert spec.get("description"), f"{name} has no description"


def test_about_lists_the_settings(capsys: pytest.CaptureFixture[str]) -> None:
    TargetSqliteArchive.print_about(output_format="json")
    about = json.loads(capsys.readouterr().out)
    assert "batch_wait_seconds" in about["settings"]["properties"]
    assert about["settings"]["required"] == ["database"]


def test_database_and_its_folder_are_created(tmp_path: Path) -> None:
    database = tmp_path / "a" / "b" / "archive.sqlite"
    run(database, [schema("s", {"id": {"type": "integer"}}), record("s", {"id": 1})])
    assert database.exists()
    assert rows(database, "PRAGMA journal_mode") == [("wal",)]


def test_validation_can_be_turned_off(database: Path) -> None:
    props = {"id": {"type": "integer"}, "n": {"type": "integer"}}
    messages = [schema("s", props), record("s", {"id": 1, "n": "not a number"})]
    with pytest.raises(Exception, match="must be integer"):
        run(database, messages)
    run(database, messages, validate_records=False)
    assert rows(database, "SELECT n FROM s") == [("not a number",)]


def test_each_default_is_the_schema_default() -> None:
    settings = validate({"database": "archive.sqlite"})
    properties = CONFIG_SCHEMA["properties"]
    assert settings.batch_wait_seconds == properties["batch_wait_seconds"]["default"]
    assert settings.busy_timeout_seconds == properties["busy_timeout_seconds"]["default"]
    assert settings.compression_level == properties["raw_compression_level"]["default"]
    assert settings.batch_size_bytes == properties["batch_size_mb"]["default"] * 1_000_000
    assert settings.cache_size_mb == properties["cache_size_mb"]["default"]
    assert properties["batch_size_rows"]["default"] == ArchiveSink.MAX_SIZE_DEFAULT
