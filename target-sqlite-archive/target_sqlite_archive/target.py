"""TargetSqliteArchive, the SDK plugin: its settings and CLI errors, each Singer message parsed.

Each Singer message is checked and parsed here and handed to the batcher (batcher.py), which
decides when every stream's pending records and the latest state go to the writer as one job;
that state is emitted only once the writer reports its COMMIT (committer.py). singer-sdk's
private message hooks are overridden in one section below, with why.
"""

from __future__ import annotations

import difflib
import gc
import os
import sys
import time
import typing as t

from singer_sdk.configuration._dict_config import parse_environment_config
from singer_sdk.exceptions import ConfigValidationError, RecordsWithoutSchemaException
from singer_sdk.helpers._classproperty import classproperty
from singer_sdk.helpers.capabilities import PluginCapabilities, TargetCapabilities
from singer_sdk.plugin_base import PluginBase
from singer_sdk.target_base import Target
from typing_extensions import override

from target_sqlite_archive.batch import ms_text
from target_sqlite_archive.batcher import Batcher
from target_sqlite_archive.encryption import ARCHIVE_ERRORS
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

    from target_sqlite_archive.committer import Committer


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
        self._clock_ms = -1
        self._clock_text = ""
        self._batcher = Batcher(self.settings, self.logger, self._input_waiting)

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

    @property
    def committer(self) -> Committer:
        """The writer (the batcher's); the archive is opened on first commit."""
        return self._batcher.committer

    def commit(self, activate: tuple[str, int] | None = None) -> None:
        """Hand every pending record and the latest state to the writer as one job."""
        self._batcher.commit(activate)

    def _input_waiting(self) -> bool:
        reader = self.message_reader
        return isinstance(reader, RawRecordReader) and reader.input_waiting()

    def _received_at(self) -> str:
        # Formatting a timestamp per record is measurable: reuse it within a millisecond.
        ms = int(time.time() * 1000)
        if ms != self._clock_ms:
            self._clock_ms = ms
            self._clock_text = ms_text(ms)
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
        self._batcher.track(stream_name, sink)
        return sink

    @override
    def process_endofpipe(self) -> None:
        with self._batcher.lock:
            self._batcher.raise_timer_error()
            self._batcher.end()

    def _sink(self, stream_name: str) -> ArchiveSink:
        sink = self._batcher.sink(stream_name)
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
        # A lean replacement for the SDK's path: no stream maps, no date parsing (the archive
        # stores the text it received), compiled validation, and the raw record text. One
        # frame, the lock and plain calls (no generator context manager): this runs per
        # record, and each call saved is measurable at 30,000 records/s.
        batcher = self._batcher
        with batcher.lock:
            batcher.raise_timer_error()
            reader = self.message_reader
            if "record" not in message_dict or "stream" not in message_dict:
                reader.assert_line_requires(message_dict, requires={"stream", "record"})
            sink = batcher.sink(message_dict["stream"]) or self._sink(message_dict["stream"])
            record = message_dict["record"]
            raw = reader.raw_record if isinstance(reader, RawRecordReader) else None
            try:
                sink.accept(
                    record,
                    raw if raw is not None else dumps(record).encode(),
                    message_dict.get("version"),
                    self._received_at(),
                )
            except Exception:
                # The batches already handed over are valid and complete: commit them (and
                # emit their state) before the error ends the run.
                batcher.finish_handed_over()
                raise
            batcher.accepted(sink)

    @override
    def _process_state_message(self, message_dict: dict) -> None:
        with self._batcher.lock:
            self._batcher.raise_timer_error()
            self.message_reader.assert_line_requires(message_dict, requires={"value"})
            self._batcher.state(message_dict["value"])

    @override
    def _process_activate_version_message(self, message_dict: dict) -> None:
        with self._batcher.lock:
            self._batcher.raise_timer_error()
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
        self._batcher.commit(activate=(stream_name, int(message_dict["version"])))

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
        try:
            self._batcher.terminate()
        finally:
            # The plugin's handler (it exits), not the SDK target's: that one would drain the
            # sinks the SDK's way, emitting state without a commit.
            PluginBase._handle_termination(self, signum, frame)
