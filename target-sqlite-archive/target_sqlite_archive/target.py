"""TargetSqliteArchive: settings, message handling, and state emitted only after commit.

The SDK drains one full sink at a time and emits state only at the end of the input (or
after minutes). Here every sink is handed over as one transaction whenever one is full or a
record has waited `batch_wait_seconds`; the latest STATE goes into that same transaction and
is emitted only once the writer process reports its COMMIT (see committer.py). So a state
line never runs ahead of the data, and a killed run loses at most the batches not committed.
"""

from __future__ import annotations

import contextlib
import copy
import datetime
import gc
import sqlite3
import time
import typing as t

from singer_sdk import typing as th
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.helpers.capabilities import PluginCapabilities, TargetCapabilities
from singer_sdk.plugin_base import PluginBase
from singer_sdk.target_base import Target
from typing_extensions import override

from target_sqlite_archive.committer import Committer, Job, StoreSettings
from target_sqlite_archive.messages import RawRecordReader
from target_sqlite_archive.normalize import dumps
from target_sqlite_archive.sink import ArchiveSink
from target_sqlite_archive.store import DEFAULT_COMPRESSION_LEVEL

if t.TYPE_CHECKING:
    from types import FrameType

    from singer_sdk.helpers.capabilities import CapabilitiesEnum


class TargetSqliteArchive(Target):
    """Singer target writing a normalized, upserted, versioned SQLite archive."""

    name = "target-sqlite-archive"
    default_sink_class = ArchiveSink
    message_reader_class = RawRecordReader

    # No stream maps or flattening: records are archived as the tap sent them, and the
    # archive's own normalization replaces flattening.
    capabilities: t.ClassVar[list[CapabilitiesEnum]] = [
        PluginCapabilities.ABOUT,
        PluginCapabilities.STRUCTURED_LOGGING,
        PluginCapabilities.ACTIVATE_VERSION,
        TargetCapabilities.VALIDATE_RECORDS,
    ]

    config_jsonschema = th.PropertiesList(
        th.Property(
            "database",
            th.StringType,
            required=True,
            title="Database",
            description="Path of the SQLite archive file; it and its folder are created if "
            "missing.",
        ),
        th.Property(
            "batch_size_rows",
            th.IntegerType,
            default=ArchiveSink.MAX_SIZE_DEFAULT,
            title="Batch Size Rows",
            description="Records a stream may hold before all pending records of all streams "
            "are committed in one transaction and the latest state is emitted. Bounds memory.",
        ),
        th.Property(
            "batch_wait_seconds",
            th.NumberType,
            default=60,
            title="Batch Wait Seconds",
            description="Longest time a received record waits before it is committed (with "
            "the latest state), even if no batch is full. Checked as messages arrive.",
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
            description="zlib level (0-9) for the raw record versions in `_archive_raw`. The "
            "default 1 is ~20% cheaper than 6 on Intercom records for ~5% more bytes.",
        ),
        th.Property(
            "busy_timeout_seconds",
            th.NumberType,
            default=30,
            title="Busy Timeout Seconds",
            description="How long to wait for another connection's write lock on the file.",
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

    def __init__(self, **kwargs: t.Any) -> None:
        super().__init__(**kwargs)
        # A batch is thousands of small acyclic containers: with the default thresholds the
        # cycle collector rescans the pending batch over and over (~7% of the reading CPU).
        gc.set_threshold(50_000, 20, 100)
        self.max_parallelism = 1  # one SQLite connection, one writer
        self._committer: Committer | None = None
        self._handed_over_state: t.Any = None
        self._pending_records = 0
        self._first_pending_at: float | None = None
        self._committing = False
        self._clock_ms = -1
        self._clock_text = ""
        self._wait_seconds = float(self.config.get("batch_wait_seconds", 60))
        self._compression_level = int(
            self.config.get("raw_compression_level", DEFAULT_COMPRESSION_LEVEL)
        )

    @override
    def setup_mapper(self) -> None:
        # Checked here, before the SDK's mapper reads the same settings and fails less clearly.
        self._reject_breaking_options()
        super().setup_mapper()

    def _reject_breaking_options(self) -> None:
        errors = []
        if self.config.get("load_method", "upsert") != "upsert":
            errors.append(
                "load_method must be 'upsert': the archive upserts by key properties and keeps "
                "every version; 'append-only' would duplicate rows and 'overwrite' drop history."
            )
        if self.config.get("flattening_enabled"):
            errors.append(
                "flattening_enabled is not supported: the archive flattens objects into "
                "parent__child columns and arrays into child tables itself."
            )
        if self.config.get("stream_maps") or self.config.get("stream_map_config"):
            errors.append(
                "stream_maps are not supported: the archive keeps records as the tap sent them."
            )
        if self.config.get("add_record_metadata"):
            errors.append(
                "add_record_metadata must be false: the archive writes _sdc_received_at, "
                "_sdc_table_version and _sdc_deleted_at itself."
            )
        if self.config.get("batch_config"):
            errors.append("batch_config is not supported: use RECORD messages.")
        size = self.config.get("batch_size_rows")
        if size is not None and size < 1:
            errors.append("batch_size_rows must be at least 1.")
        if float(self.config.get("batch_wait_seconds", 60)) < 0:
            errors.append("batch_wait_seconds must not be negative.")
        level = self.config.get("raw_compression_level", DEFAULT_COMPRESSION_LEVEL)
        if not 0 <= level <= 9:
            errors.append("raw_compression_level must be between 0 and 9.")
        if errors:
            raise ConfigValidationError("Unsupported settings", errors=errors)

    @contextlib.contextmanager
    def _archive_errors(self) -> t.Iterator[None]:
        # SQLite's own words ("database is locked") do not say which file or what to do.
        try:
            yield
        except (sqlite3.Error, OSError) as exc:
            _explain_archive_error(
                exc, self.config["database"], float(self.config.get("busy_timeout_seconds", 30))
            )
            raise

    @property
    def committer(self) -> Committer:
        """The writer; the archive is opened on first commit (so `--about` creates no file)."""
        if self._committer is None:
            settings = StoreSettings(
                self.config["database"],
                float(self.config.get("busy_timeout_seconds", 30)),
                self._compression_level,
            )
            self._committer = Committer(settings, self.logger)
        return self._committer

    def _received_at(self) -> str:
        # Formatting a timestamp per record is measurable: reuse it within a millisecond.
        ms = int(time.time() * 1000)
        if ms != self._clock_ms:
            self._clock_ms = ms
            self._clock_text = datetime.datetime.fromtimestamp(ms / 1000, datetime.UTC).isoformat(
                timespec="milliseconds"
            )
        return self._clock_text

    # -- messages ---------------------------------------------------------------------------

    @override
    def _process_record_message(self, message_dict: dict) -> None:
        # A lean replacement for the SDK's path: no stream maps, no date parsing (the archive
        # stores the text it received), compiled validation, and the raw record text.
        if "record" not in message_dict or "stream" not in message_dict:
            self._assert_line_requires(message_dict, requires={"stream", "record"})
        stream_name = message_dict["stream"]
        sink = self._sinks_active.get(stream_name)
        if sink is None:
            self._assert_sink_exists(stream_name)
            sink = self._sinks_active[stream_name]
        assert isinstance(sink, ArchiveSink)
        record = message_dict["record"]
        reader = self.message_reader
        raw = reader.raw_record if isinstance(reader, RawRecordReader) else None
        try:
            sink.accept(
                record,
                raw if raw is not None else dumps(record),
                message_dict.get("version"),
                self._received_at(),
            )
        except Exception:
            # The batches already handed over are valid and complete: commit them (and emit
            # their state) before the error ends the run.
            self._finish_handed_over()
            raise
        self._pending_records += 1
        if self._pending_records % 1024 == 0 and self._committer is not None:
            self._committer.poll()  # pass on the state of a batch committed meanwhile
        now = time.monotonic()
        if self._first_pending_at is None:
            self._first_pending_at = now
        if len(sink.pending) >= sink.max_size:
            self.logger.info("Stream '%s' is full: committing", stream_name)
            self.commit()
        elif now - self._first_pending_at >= self._wait_seconds:
            self.commit()

    @override
    def _process_state_message(self, message_dict: dict) -> None:
        self._assert_line_requires(message_dict, requires={"value"})
        state = message_dict["value"]
        if state == self._latest_state:
            return
        self._latest_state = state
        if self._committer is not None:
            self._committer.poll()
        waited = self._first_pending_at is not None and (
            time.monotonic() - self._first_pending_at >= self._wait_seconds
        )
        if self._pending_records == 0 or waited:
            # Nothing uncommitted precedes this state (or it has waited long enough): it
            # can be saved and passed on now.
            self.commit()

    @override
    def _process_activate_version_message(self, message_dict: dict) -> None:
        self._assert_line_requires(message_dict, requires={"stream", "version"})
        stream_name = message_dict["stream"]
        self._assert_sink_exists(stream_name)
        sink = self._sinks_active[stream_name]
        if not sink.process_activate_version_messages:
            self.logger.warning(
                "ACTIVATE_VERSION messages are disabled for '%s'. Ignoring.", stream_name
            )
            return
        # The records of the pass come first, then the marking, in one transaction.
        self.commit(activate=(stream_name, int(message_dict["version"])))

    @override
    def _process_batch_message(self, message_dict: dict) -> None:
        msg = (
            "BATCH messages are not supported: the raw archive needs each record's JSON as "
            "sent. Run the tap without batch_config."
        )
        raise NotImplementedError(msg)

    @override
    def process_endofpipe(self) -> None:
        self.commit()
        if self._committer is not None:
            with self._archive_errors():
                self._committer.close()
            self._committer = None
        for sink in [*self._sinks_to_clear, *self._sinks_active.values()]:
            sink.clean_up()
        self._sinks_to_clear = []

    @override
    def _handle_termination(self, signum: int, frame: FrameType | None) -> None:
        self.logger.info("Received termination signal %d: committing what is pending", signum)
        # Interrupted while handing over a job, only the jobs already queued are finished: the
        # rest has no state emitted, so nothing is lost that was promised.
        try:
            if not self._committing:
                self.commit()
            if self._committer is not None:
                self._committer.close()
        finally:
            PluginBase._handle_termination(self, signum, frame)

    def _finish_handed_over(self) -> None:
        if self._committer is not None:
            try:
                self._committer.close()
            except Exception:
                self.logger.exception("Committing the batches before the failure failed too")
            self._committer = None

    # -- the one place data is committed -----------------------------------------------------

    def commit(self, activate: tuple[str, int] | None = None) -> None:
        """Hand every pending record of every stream, and the latest state, to the writer as
        one transaction; the writer emits that state after COMMIT."""
        sinks = [
            s
            for s in [*self._sinks_to_clear, *self._sinks_active.values()]
            if isinstance(s, ArchiveSink) and s.pending
        ]
        state = self._latest_state
        new_state = state is not None and state != self._handed_over_state
        if not sinks and not new_state and activate is None:
            return
        job = Job(
            batches=[s.hand_over() for s in sinks],
            activate=activate,
            # A copy: the writer emits it later, whatever happens to the latest state here.
            state=copy.deepcopy(state) if new_state else None,
        )
        self._committing = True
        try:
            with self._archive_errors():
                self.committer.submit(job)
        finally:
            self._committing = False
        # Sinks replaced by a schema change are empty now: they are done.
        for sink in self._sinks_to_clear:
            sink.clean_up()
        self._sinks_to_clear = []
        self._pending_records = 0
        self._first_pending_at = None
        if new_state:
            self._handed_over_state = state


def _explain_archive_error(exc: BaseException, database: str, busy_timeout: float) -> None:
    """Name the archive and what to do in front of the error's message (what the CLI logs:
    SQLite's own words do not say which file, and an OSError's first argument is a number)."""
    if isinstance(exc, OSError) and not isinstance(exc, sqlite3.Error):
        message = str(exc)
    elif exc.args and isinstance(exc.args[0], str):
        message = exc.args[0]
    else:
        return
    if message.startswith("Archive "):
        return
    lowered = message.lower()
    if "locked" in lowered or "busy" in lowered:
        advice = (
            f"Another connection held its write lock longer than busy_timeout_seconds="
            f"{busy_timeout:g}: stop the other writer or raise busy_timeout_seconds."
        )
    elif "full" in lowered or "disk i/o" in lowered:
        advice = "The disk holding it may be full or failing: free space and run again."
    elif any(w in lowered for w in ("readonly", "read-only", "unable to open", "permission")):
        advice = "It or its folder cannot be written (a read-only file system or permissions)."
    elif "exists" in lowered or "not a directory" in lowered or "no such file" in lowered:
        advice = "Its folder cannot be created there: check the database setting."
    else:
        advice = "See the message."
    text = (
        f"Archive {database}: {message}. {advice} Everything committed before is intact; "
        "nothing after the last state passed on was committed."
    )
    # An OSError's further arguments would be read as (errno, strerror): keep only the text.
    exc.args = (text,) if isinstance(exc, OSError) else (text, *exc.args[1:])
