"""TargetSqliteArchive: Singer messages in, one job per commit, state emitted only after COMMIT.

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
import difflib
import gc
import os
import sys
import threading
import time
import typing as t

from singer_sdk.configuration._dict_config import parse_environment_config
from singer_sdk.exceptions import ConfigValidationError, RecordsWithoutSchemaException
from singer_sdk.helpers._classproperty import classproperty
from singer_sdk.helpers.capabilities import PluginCapabilities, TargetCapabilities
from singer_sdk.plugin_base import PluginBase
from singer_sdk.target_base import Target
from typing_extensions import override

from target_sqlite_archive.batch import Job, StoreSettings
from target_sqlite_archive.committer import Committer
from target_sqlite_archive.encryption import ARCHIVE_ERRORS
from target_sqlite_archive.errors import explain_archive_error
from target_sqlite_archive.messages import RawRecordReader
from target_sqlite_archive.normalize import dumps
from target_sqlite_archive.settings import (
    CONFIG_SCHEMA,
    REFUSED_SDK_SETTINGS,
    Settings,
    validate,
)
from target_sqlite_archive.sink import ArchiveSink

if t.TYPE_CHECKING:
    from types import FrameType

    from singer_sdk.helpers.capabilities import CapabilitiesEnum
    from singer_sdk.sinks import Sink


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

    config_jsonschema = CONFIG_SCHEMA
    _settings: Settings | None = None

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
        # The state last received, and the sinks by stream (with those a schema change
        # replaced, until their records are handed over): kept here rather than read from the
        # SDK's private attributes.
        self._state: t.Any = None
        self._sinks: dict[str, ArchiveSink] = {}
        self._replaced: list[ArchiveSink] = []
        self._wait_seconds = self.settings.batch_wait_seconds
        # The timer commits a record that has waited `batch_wait_seconds` when no message
        # comes (a live tap may be silent for hours); the lock keeps it and the message
        # handlers from running at once.
        self._lock = threading.RLock()
        self._timer: threading.Timer | None = None
        self._timer_error: BaseException | None = None
        # A STATE equal to the last one arrived after records: it is passed on again after
        # their commit, since it now covers them too.
        self._state_repeated = False

    @property
    def settings(self) -> Settings:
        """The validated settings (checked once, on first use)."""
        if self._settings is None:
            self._settings = validate(self.config)
        return self._settings

    @override
    def setup_mapper(self) -> None:
        # Checked here, before the SDK's mapper reads the same settings and fails less clearly.
        _ = self.settings
        super().setup_mapper()

    @override
    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        """The SDK's checks, with a warning per unknown setting naming the closest known one
        (and that name added to a "required" error it explains)."""
        # Known: the --about settings, and the SDK's ones validate() refuses by name.
        known = [*self.config_jsonschema["properties"], *REFUSED_SDK_SETTINGS]
        close = {
            key: next(iter(difflib.get_close_matches(key, known, n=1)), None)
            for key in self._config
            if key not in known
        }
        for key, match in close.items():
            hint = f"; did you mean '{match}'?" if match else ""
            self.logger.warning("Unknown setting '%s' is ignored%s", key, hint)
        try:
            return super()._validate_config(raise_errors=raise_errors)
        except ConfigValidationError as exc:
            for key, match in close.items():
                exc.errors = [
                    f"{e} (the config has '{key}': misspelled?)"
                    if e.startswith(f"'{match}' is a required property")
                    else e
                    for e in exc.errors
                ]
            raise

    @classproperty
    @override
    def _env_var_config(cls) -> dict[str, t.Any]:
        """The SDK's reading of TARGET_SQLITE_ARCHIVE_<NAME>, with numbers parsed here: it
        leaves decimals as text (which fails the schema) and a bad whole number raises a
        traceback. A bad one is named in one line."""
        schema = cls.config_jsonschema
        prefix = cls._env_var_prefix
        try:
            config = parse_environment_config(schema, prefix)
        except ValueError:
            config = {}  # a bad whole number, named below
        errors = []
        for name, spec in schema["properties"].items():
            text = os.environ.get(prefix + name.upper())
            declared = spec.get("type") or ()
            kinds = {declared} if isinstance(declared, str) else set(declared)
            kinds &= {"integer", "number"}
            if text is None or not kinds:
                continue
            try:
                config[name] = float(text) if "number" in kinds else int(text)
            except ValueError:
                kind = "a decimal number" if "number" in kinds else "a whole number"
                errors.append(f"{name}: {prefix}{name.upper()} must be {kind}, got {text!r}")
        if errors:
            raise ConfigValidationError("Config validation failed", errors=errors)
        return config

    @classmethod
    @override
    def invoke(cls, *args: t.Any, **kwargs: t.Any) -> None:
        """Run the target; an archive that cannot be opened or written ends in one line (the
        message names the file, the cause and what to do) and exit code 1."""
        try:
            super().invoke(*args, **kwargs)
        except ARCHIVE_ERRORS as exc:
            message = str(exc.args[0]) if exc.args else ""
            if not message.startswith("Archive "):
                raise
            cls.logger.error("%s", message)
            sys.exit(1)

    @contextlib.contextmanager
    def _archive_errors(self) -> t.Iterator[None]:
        try:
            yield
        except ARCHIVE_ERRORS as exc:
            explain_archive_error(exc, self.settings.database, self.settings.busy_timeout_seconds)
            raise

    @property
    def committer(self) -> Committer:
        """The writer; the archive is opened on first commit (so `--about` creates no file)."""
        if self._committer is None:
            settings = StoreSettings(
                self.settings.database,
                self.settings.busy_timeout_seconds,
                self.settings.compression_level,
                self.settings.encryption_key,
                self.settings.full_text_search,
                self.settings.indexes,
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

    # -- public SDK hooks -------------------------------------------------------------------

    @override
    def get_sink(
        self,
        stream_name: str,
        *,
        record: dict | None = None,
        schema: dict | None = None,
        key_properties: t.Sequence[str] | None = None,
    ) -> Sink:
        sink = super().get_sink(
            stream_name, record=record, schema=schema, key_properties=key_properties
        )
        assert isinstance(sink, ArchiveSink)
        previous = self._sinks.get(stream_name)
        if previous is not sink:
            # A schema change: the old sink's records are handed over with the next commit.
            if previous is not None:
                self._replaced.append(previous)
            self._sinks[stream_name] = sink
        return sink

    @override
    def process_endofpipe(self) -> None:
        with self._lock:
            self._raise_timer_error()
            self._cancel_timer()
            self._end_of_pipe()

    def _end_of_pipe(self) -> None:
        self.commit()
        if self._committer is not None:
            with self._archive_errors():
                self._committer.close()
            self._committer = None
        for sink in [*self._replaced, *self._sinks.values()]:
            sink.clean_up()
        self._replaced = []

    def _sink(self, stream_name: str) -> ArchiveSink:
        sink = self._sinks.get(stream_name)
        if sink is None:
            msg = (
                f"A record for stream '{stream_name}' was encountered before a corresponding "
                "schema. Check that the Tap correctly implements the Singer spec."
            )
            raise RecordsWithoutSchemaException(msg)
        return sink

    # -- SDK hooks without a public name --------------------------------------------------------
    # singer-sdk 0.54 dispatches messages to these private methods (`process_lines` is final
    # and names them) and has no public hook for a termination signal. They are overridden
    # here, and only here, so an SDK upgrade is checked in this one section.

    @override
    def _process_record_message(self, message_dict: dict) -> None:
        with self._lock:
            self._raise_timer_error()
            self._on_record_message(message_dict)

    def _on_record_message(self, message_dict: dict) -> None:
        # A lean replacement for the SDK's path: no stream maps, no date parsing (the archive
        # stores the text it received), compiled validation, and the raw record text.
        reader = self.message_reader
        if "record" not in message_dict or "stream" not in message_dict:
            reader.assert_line_requires(message_dict, requires={"stream", "record"})
        stream_name = message_dict["stream"]
        sink = self._sink(stream_name)
        record = message_dict["record"]
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
            self._start_timer(self._wait_seconds)
        if len(sink.pending) >= sink.max_size:
            self.logger.info("Stream '%s' is full: committing", stream_name)
            self.commit()
        elif now - self._first_pending_at >= self._wait_seconds:
            self.commit()

    @override
    def _process_state_message(self, message_dict: dict) -> None:
        with self._lock:
            self._raise_timer_error()
            self._on_state_message(message_dict)

    def _on_state_message(self, message_dict: dict) -> None:
        self.message_reader.assert_line_requires(message_dict, requires={"value"})
        state = message_dict["value"]
        if state == self._state:
            if self._pending_records:
                self._state_repeated = True
            return
        self._state = state
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
        with self._lock:
            self._raise_timer_error()
            self._on_activate_version_message(message_dict)

    def _on_activate_version_message(self, message_dict: dict) -> None:
        self.message_reader.assert_line_requires(message_dict, requires={"stream", "version"})
        stream_name = message_dict["stream"]
        sink = self._sink(stream_name)
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
    def _handle_termination(self, signum: int, frame: FrameType | None) -> None:
        self.logger.info("Received termination signal %d: committing what is pending", signum)
        # Interrupted while handing over a job, only the jobs already queued are finished: the
        # rest has no state emitted, so nothing is lost that was promised.
        try:
            with self._lock:  # the wait timer may be committing
                self._cancel_timer()
                if not self._committing:
                    self.commit()
                if self._committer is not None:
                    self._committer.close()
        finally:
            # The plugin's handler (it exits), not the SDK target's: that one would drain the
            # sinks the SDK's way, emitting state without a commit.
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
            s for s in [*self._replaced, *self._sinks.values()] if s.pending or not s.handed_over
        ]
        state = self._state
        new_state = state is not None and (state != self._handed_over_state or self._state_repeated)
        if not sinks and not new_state and activate is None:
            return
        job = Job(
            batches=[s.hand_over() for s in sinks],
            activate=activate,
            # A copy: the writer emits it later, whatever happens to the latest state here.
            state=copy.deepcopy(state) if new_state else None,
        )
        # A job without records waits for its COMMIT (so its state goes out now) only when
        # no input is waiting; otherwise its state is passed on at a later poll, and the jobs
        # in flight keep the writer busy meanwhile.
        reader = self.message_reader
        waiting = isinstance(reader, RawRecordReader) and reader.input_waiting()
        self._committing = True
        try:
            with self._archive_errors():
                self.committer.submit(job, wait=not waiting)
        finally:
            self._committing = False
        # Sinks replaced by a schema change are empty now: they are done.
        for sink in self._replaced:
            sink.clean_up()
        self._replaced = []
        self._pending_records = 0
        self._first_pending_at = None
        self._state_repeated = False
        self._cancel_timer()
        if new_state:
            self._handed_over_state = state

    # -- the timer: a record never waits longer than batch_wait_seconds --------------------

    def _start_timer(self, seconds: float) -> None:
        if self._timer is None:
            self._timer = threading.Timer(max(seconds, 0.0), self._on_time)
            self._timer.daemon = True
            self._timer.start()

    def _cancel_timer(self) -> None:
        if self._timer is not None:
            self._timer.cancel()
            self._timer = None

    def _on_time(self) -> None:
        with self._lock:
            self._timer = None
            if self._first_pending_at is None:
                return
            left = self._first_pending_at + self._wait_seconds - time.monotonic()
            if left > 0:
                self._start_timer(left)
                return
            try:
                self.commit()
                if self._committer is not None:
                    # Nothing may come to collect the reply: wait for COMMIT here, so the
                    # state is passed on now.
                    self._committer.settle()
            except BaseException as exc:  # raised again by the next message or the end
                self._timer_error = exc

    def _raise_timer_error(self) -> None:
        error, self._timer_error = self._timer_error, None
        if error is not None:
            raise error
