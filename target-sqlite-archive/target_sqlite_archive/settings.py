"""The target's settings: their JSON schema for the SDK, each default once, and checks that name
the bad setting.

Pure but for reading `encryption_key_file`: every rule is unit-tested directly.
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass, field

from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError

from target_sqlite_archive.connection import DEFAULT_BUSY_TIMEOUT_SECONDS
from target_sqlite_archive.encryption import ArchiveKeyError, Key, key_from
from target_sqlite_archive.hints import AnnotationError, stream_hints

DEFAULT_BATCH_SIZE_ROWS = 5000
DEFAULT_BATCH_WAIT_SECONDS = 60
# MB of record JSON pending before a commit: a job costs about ten times its JSON in the two
# processes at once (benchmarks/target/ANALYSIS.md, "Session 4: memory").
DEFAULT_BATCH_SIZE_MB = 8.0
# The writer's SQLite page cache: 64 MB measured no less CPU on a 0.5 GB archive.
DEFAULT_CACHE_SIZE_MB = 32.0
# zstd level 1 is 2.4-2.7x faster than zlib level 1 on Intercom records for 3-7% more bytes.
DEFAULT_COMPRESSION_LEVEL = 1

#: The SDK's settings that validate() refuses with a reason (known, so not "unknown").
REFUSED_SDK_SETTINGS = (
    "flattening_enabled",
    "flattening_max_depth",
    "stream_maps",
    "stream_map_config",
    "batch_config",
)

CONFIG_SCHEMA = th.PropertiesList(
    th.Property(
        "database",
        th.StringType,
        required=True,
        title="Database",
        description="Path of the SQLite archive file; it and its folder are created if missing.",
    ),
    th.Property(
        "batch_size_rows",
        th.IntegerType,
        default=DEFAULT_BATCH_SIZE_ROWS,
        title="Batch Size Rows",
        description="Records a stream may hold before all pending records of all streams "
        "are committed in one transaction and the latest state is emitted. Bounds memory.",
    ),
    th.Property(
        "batch_size_mb",
        th.NumberType,
        default=DEFAULT_BATCH_SIZE_MB,
        title="Batch Size MB",
        description="MB of record JSON (as received) all streams may hold before everything "
        "pending is committed in one transaction and the latest state is emitted, whether or "
        "not a stream reached batch_size_rows. Bounds memory when records are large.",
    ),
    th.Property(
        "batch_wait_seconds",
        th.NumberType,
        default=DEFAULT_BATCH_WAIT_SECONDS,
        title="Batch Wait Seconds",
        description="Longest time a received record waits before it is committed (with "
        "the latest state), even if no batch is full and no further message comes. 1 for a "
        "live pipeline that follows the workspace.",
    ),
    th.Property(
        "validate_records",
        th.BooleanType,
        default=True,
        title="Validate Records",
        description="Validate each record against its stream's schema (compiled to Python "
        "for the usual keywords, fastjsonschema for others; formats are not checked).",
    ),
    th.Property(
        "process_activate_version_messages",
        th.BooleanType,
        default=True,
        title="Process ACTIVATE_VERSION Messages",
        description="On ACTIVATE_VERSION, mark rows of the stream that the new complete "
        "pass did not send as deleted (`_sdc_deleted_at`); rows are never dropped.",
    ),
    th.Property(
        "raw_compression_level",
        th.IntegerType,
        default=DEFAULT_COMPRESSION_LEVEL,
        title="Raw Compression Level",
        description="zstd level (0-9; 0 is zstd's own default, 3) for the raw record "
        "versions in `_archive_raw`. Level 1 is 2.4-2.7x faster than zlib level 1 on Intercom "
        "records for 3-7% more bytes.",
    ),
    th.Property(
        "busy_timeout_seconds",
        th.NumberType,
        default=DEFAULT_BUSY_TIMEOUT_SECONDS,
        title="Busy Timeout Seconds",
        description="How long to wait for another connection's write lock on the file.",
    ),
    th.Property(
        "cache_size_mb",
        th.NumberType,
        default=DEFAULT_CACHE_SIZE_MB,
        title="Cache Size MB",
        description="MB of database pages the writer keeps in memory (SQLite's page cache). "
        "More spares reads of a large archive's indexes; less bounds memory.",
    ),
    th.Property(
        "encryption_key",
        th.StringType,
        secret=True,
        title="Encryption Key",
        description="Encrypts the whole archive with SQLCipher 4 under this passphrase "
        "(from the environment or a secret store; never logged). Without it the archive is "
        "plain SQLite; a plain archive is never mixed with an encrypted one.",
    ),
    th.Property(
        "encryption_key_file",
        th.StringType,
        title="Encryption Key File",
        description="A file holding encryption_key (e.g. a mounted secret), used when "
        "encryption_key is not set.",
    ),
    th.Property(
        "full_text_search",
        th.ObjectType(additional_properties=th.ArrayType(th.StringType)),
        title="Full Text Search",
        description="Per stream, the property paths (dotted, into JSON objects too) its "
        "`<table>_fts` FTS5 table indexes; replaces the tap's `x-full-text-search` schema "
        'annotation for that stream (`[]` turns it off). Example: {"contacts": ["name"]}.',
    ),
    th.Property(
        "indexes",
        th.ObjectType(additional_properties=th.ArrayType(th.CustomType({}))),
        title="Indexes",
        description="Per stream, more property paths to index, added to the tap's "
        '`x-indexes` schema annotation; {"path": "email", "case_folded": true} makes an '
        'index for `= ? COLLATE NOCASE` lookups. Example: {"contacts": ["external_id"]}.',
    ),
    th.Property(
        "load_method",
        th.StringType,
        default="upsert",
        title="Load Method",
        description="Only `upsert` (by the stream's key properties; streams without keys "
        "append). Other SDK load methods are rejected: they would break the archive.",
    ),
    th.Property(
        "add_record_metadata",
        th.BooleanType,
        default=False,
        title="Add Record Metadata",
        description="Must stay false: the archive records arrival time, table version and "
        "deletion itself (`_sdc_received_at`, `_sdc_table_version`, `_sdc_deleted_at`).",
    ),
).to_dict()


@dataclass(frozen=True, slots=True)
class Settings:
    """The validated settings the target runs on."""

    database: str
    batch_wait_seconds: float
    batch_size_bytes: int
    busy_timeout_seconds: float
    compression_level: int
    cache_size_mb: float
    full_text_search: dict[str, t.Any]
    indexes: dict[str, t.Any]
    encryption_key: Key | None = field(default=None, repr=False)


def _get(config: t.Mapping[str, t.Any], name: str, default: t.Any) -> t.Any:
    value = config.get(name)
    return default if value is None else value


def validate(config: t.Mapping[str, t.Any]) -> Settings:
    """Check every setting and return them parsed, or raise ConfigValidationError naming each
    bad one."""
    errors = []
    if _get(config, "load_method", "upsert") != "upsert":
        errors.append(
            "load_method must be 'upsert': the archive upserts by key properties and keeps "
            "every version; 'append-only' would duplicate rows and 'overwrite' drop history."
        )
    if config.get("flattening_enabled"):
        errors.append(
            "flattening_enabled is not supported: the archive flattens objects into "
            "parent__child columns and arrays into child tables itself."
        )
    if config.get("stream_maps") or config.get("stream_map_config"):
        errors.append(
            "stream_maps are not supported: the archive keeps records as the tap sent them."
        )
    if config.get("add_record_metadata"):
        errors.append(
            "add_record_metadata must be false: the archive writes _sdc_received_at, "
            "_sdc_table_version and _sdc_deleted_at itself."
        )
    if config.get("batch_config"):
        errors.append("batch_config is not supported: use RECORD messages.")
    if _get(config, "batch_size_rows", DEFAULT_BATCH_SIZE_ROWS) < 1:
        errors.append("batch_size_rows must be at least 1.")
    size_mb = float(_get(config, "batch_size_mb", DEFAULT_BATCH_SIZE_MB))
    if size_mb <= 0:
        errors.append("batch_size_mb must be more than 0.")
    wait = float(_get(config, "batch_wait_seconds", DEFAULT_BATCH_WAIT_SECONDS))
    if wait < 0:
        errors.append("batch_wait_seconds must not be negative.")
    cache_mb = float(_get(config, "cache_size_mb", DEFAULT_CACHE_SIZE_MB))
    if cache_mb <= 0:
        errors.append("cache_size_mb must be more than 0.")
    level = _get(config, "raw_compression_level", DEFAULT_COMPRESSION_LEVEL)
    if not 0 <= level <= 9:
        errors.append("raw_compression_level must be between 0 and 9.")
    try:
        key = key_from(config)
    except (ArchiveKeyError, ValueError) as exc:
        errors.append(str(exc))
    full_text_search = _get(config, "full_text_search", {})
    indexes = _get(config, "indexes", {})
    for name, mapping in (("full_text_search", full_text_search), ("indexes", indexes)):
        if not isinstance(mapping, dict):
            errors.append(f"{name} must be an object of stream names to lists of paths.")
            continue
        for stream in mapping:
            try:
                stream_hints(stream, {}, full_text_search, indexes)
            except AnnotationError as exc:
                errors.append(str(exc))
    if errors:
        raise ConfigValidationError("Unsupported settings", errors=errors)
    return Settings(
        database=str(config["database"]),
        batch_wait_seconds=wait,
        batch_size_bytes=max(1, round(size_mb * 1_000_000)),
        busy_timeout_seconds=float(
            _get(config, "busy_timeout_seconds", DEFAULT_BUSY_TIMEOUT_SECONDS)
        ),
        compression_level=int(level),
        cache_size_mb=cache_mb,
        encryption_key=key,
        full_text_search=dict(full_text_search),
        indexes=dict(indexes),
    )
