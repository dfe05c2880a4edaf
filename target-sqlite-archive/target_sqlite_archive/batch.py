"""The one batch contract between the target and its writer process: named types, plain wire.

The target side holds `Job`s of `StreamBatch`es of `Entry`s; `encode` turns a job into plain
tuples (marshal, which the pipe uses because it dumps built-in types in half pickle's time,
refuses NamedTuples and dataclasses); `decode` turns them back into the writer side's
`WriteJob`, `WriteBatch` and `WriteEntry`. Nothing else knows a tuple position.
"""

from __future__ import annotations

import datetime
import hashlib
import json
import typing as t
import uuid
from dataclasses import dataclass, field

import orjson

from target_sqlite_archive.codec import ZSTD_DICT

if t.TYPE_CHECKING:
    from target_sqlite_archive.codec import RawCompressor
    from target_sqlite_archive.encryption import Key
    from target_sqlite_archive.normalize import ChildRows, TablePlan


def utc_now() -> str:
    return datetime.datetime.now(datetime.UTC).isoformat(timespec="microseconds")


def ms_text(ms: int) -> str:
    """A Unix time in milliseconds as the target writes `_sdc_received_at` (ISO 8601, UTC)."""
    return datetime.datetime.fromtimestamp(ms / 1000, datetime.UTC).isoformat(
        timespec="milliseconds"
    )


# ACTIVATE_VERSIONs from here on read as Unix times in ms (2001-09-09 on); smaller ones
# (singer-sdk's seconds, counters) say nothing about when their pass started.
MS_VERSION_FROM = 10**12


def version_time(version: int) -> str | None:
    """When the pass of an ACTIVATE_VERSION started, written as the target writes
    `_sdc_received_at` (ms); None when the version is not a time in ms."""
    if version < MS_VERSION_FROM:
        return None
    return ms_text(version)


def canonical_sha(record: t.Any) -> bytes:
    """Identity of a record's content: key order and whitespace do not make a new version."""
    try:
        text = orjson.dumps(record, option=orjson.OPT_SORT_KEYS)
    except TypeError:  # integers beyond 64 bits, which orjson refuses
        text = json.dumps(
            record, sort_keys=True, ensure_ascii=False, separators=(",", ":")
        ).encode()
    return hashlib.blake2b(text, digest_size=16).digest()


def new_row_id() -> str:
    # Appended rows have no identity of their own; a content hash would merge equal rows.
    return uuid.uuid4().hex


class Entry(t.NamedTuple):
    """One received record, normalized, as the sink holds it."""

    row_id: str  # the root row's `_sdc_id`: key JSON, or a random id for streams without key
    sha: bytes  # canonical hash of the record
    raw: bytes  # the record's JSON text as received (UTF-8)
    version: int | None  # the RECORD message's table version, if any
    received_at: str
    values: list[t.Any]  # root row values, in plan column order
    children: ChildRows  # child rows by table path
    deleted_at: str | None = None  # set: a tombstone (values and children are empty)
    merged_into: str | None = None  # a tombstone's `_sdc_merged_into_id`


@dataclass(frozen=True, slots=True)
class StoreSettings:
    """What the writer process needs to open the archive (sent first, pickled: plain values)."""

    database: str
    busy_timeout_seconds: float
    compression_level: int
    encryption_key: Key | None = None  # its repr hides the secret
    full_text_search: dict[str, t.Any] | None = None  # the settings of hints.stream_hints
    indexes: dict[str, t.Any] | None = None
    cache_size_mb: float = 32.0  # the writer's SQLite page cache (settings.DEFAULT_CACHE_SIZE_MB)


@dataclass(slots=True)
class StreamBatch:
    stream: str
    plan: TablePlan
    keys: tuple[str, ...]  # the stream's key properties; none: its records are appended
    entries: list[Entry]


@dataclass(slots=True)
class Job:
    """Everything one transaction writes: records, an optional activation, the state."""

    batches: list[StreamBatch] = field(default_factory=list)
    activate: tuple[str, int] | None = None  # (stream, version) of an ACTIVATE_VERSION
    state: t.Any = None  # the state to save and emit after COMMIT; None: none new


class WriteEntry(t.NamedTuple):
    """An entry as the writer stores it."""

    row_id: str
    sha: bytes
    raw: bytes  # the record's JSON text, compressed with its batch's `codec` if it has one
    version: int | None
    received_at: str
    values: list[t.Any]
    children: ChildRows
    deleted_at: str | None
    merged_into: str | None


@dataclass(slots=True)
class WriteBatch:
    stream: str
    plan_id: int  # the plan's id in the target; its schema comes with its first batch
    schema: dict[str, t.Any] | None  # the stream schema, the first time this plan is sent
    keys: tuple[str, ...]
    # The codec the entries' raw texts are compressed with already (the stream's dictionary,
    # which the writer reported: codec.ZSTD_DICT); None: as received, the writer compresses.
    codec: str | None
    entries: list[WriteEntry]


@dataclass(slots=True)
class WriteJob:
    batches: list[WriteBatch]
    activate: tuple[str, int] | None
    state: t.Any


def encode(
    job: Job, known_plans: dict[int, TablePlan], compressor: RawCompressor | None = None
) -> tuple[t.Any, ...]:
    """A job as plain tuples; a plan's schema is sent the first time (`known_plans` records
    it, and keeps it referenced so its id is never reused).

    The raw texts of a stream `compressor` has a dictionary for are compressed here, in the
    target's process, which waits for the writer's COMMITs anyway; the others go as received
    and the writer compresses them (and trains a stream's dictionary on them)."""
    batches = []
    for batch in job.batches:
        plan_id = id(batch.plan)
        schema = None
        if plan_id not in known_plans:
            known_plans[plan_id] = batch.plan
            schema = batch.plan.schema
        compress = compressor.with_dictionary(batch.stream) if compressor is not None else None
        # In WriteEntry's field order: the writer rebuilds each entry without unpacking it.
        rows = [
            (
                e.row_id,
                e.sha,
                e.raw if compress is None else compress(e.raw),
                e.version,
                e.received_at,
                e.values,
                e.children,
                e.deleted_at,
                e.merged_into,
            )
            for e in batch.entries
        ]
        codec = None if compress is None else ZSTD_DICT
        batches.append((batch.stream, plan_id, schema, batch.keys, codec, rows))
    return (batches, job.activate, job.state)


def decode(message: tuple[t.Any, ...]) -> WriteJob:
    """The writer's view of an encoded job."""
    batches, activate, state = message
    entry = WriteEntry._make
    return WriteJob(
        batches=[
            WriteBatch(stream, plan_id, schema, tuple(keys), codec, list(map(entry, rows)))
            for stream, plan_id, schema, keys, codec, rows in batches
        ],
        activate=None if activate is None else (activate[0], activate[1]),
        state=state,
    )
