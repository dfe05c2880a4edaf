"""Every private singer-sdk surface the tap overrides or calls, in one place, each with why.

singer-sdk 0.54 has no public hook for these. Read this module on every SDK upgrade: nothing
else in the tap names a private SDK attribute. (Public hooks, such as `get_records`,
`post_process`, `get_child_context`, `log`, `get_record_counter` and `get_sync_timer`, are
overridden where they belong.)
"""

from __future__ import annotations

import datetime
import sys
import threading
import time
from typing import TYPE_CHECKING, Any, ClassVar

import orjson
from singer_sdk import Stream, Tap, metrics
from singer_sdk.configuration._dict_config import parse_environment_config
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.helpers._classproperty import classproperty
from singer_sdk.helpers._typing import _warn_unmapped_properties
from singer_sdk.helpers.conform import TypeConformanceLevel
from singer_sdk.mapper import SameRecordTransform
from singer_sdk.singerlib import RecordMessage, StateMessage
from singer_sdk.singerlib.encoding import SimpleSingerWriter
from typing_extensions import override

from tap_intercom.conformance import Conformer, Deselection, compile_conformer, compile_deselection

if TYPE_CHECKING:
    from types import FrameType

    from singer_sdk.helpers.types import Context, Record
    from singer_sdk.singerlib import Message


#: RECORD lines held before they are written out together (bytes): a page's worth or so.
FLUSH_BYTES = 1 << 20


class LockedWriter(SimpleSingerWriter):
    """The SDK's stdout writer behind the tap's one output lock, RECORD lines held a while.

    Streams run in several threads; a Singer line must never interleave with another, and a
    STATE message is serialized from the shared `tap_state` under the same lock (see
    SdkStream), so no stream changes a state while it is dumped.

    RECORD lines wait in one buffer, in the order they came from every stream, and go out
    together (one write, one flush) before any other message, when the buffer is full or the
    run ends: the output is the same sequence of lines, so a STATE still follows every record
    it covers, in far fewer writes.
    """

    def __init__(self, lock: threading.RLock) -> None:
        super().__init__()
        self.lock = lock
        self.closed = False
        self._held: list[bytes] = []
        self._held_bytes = 0

    @override
    def write_message(self, message: Message) -> None:
        line = (self.format_message(message) + "\n").encode()
        with self.lock:
            if self.closed:
                return
            self._held.append(line)
            self._held_bytes += len(line)
            if not isinstance(message, RecordMessage) or self._held_bytes >= FLUSH_BYTES:
                self._write_held()

    def write_record_line(self, line: bytes) -> None:
        """A RECORD message already serialized (one line, its newline included)."""
        with self.lock:
            if self.closed:
                return
            self._held.append(line)
            self._held_bytes += len(line)
            if self._held_bytes >= FLUSH_BYTES:
                self._write_held()

    def flush(self) -> None:
        """Write out the held RECORD lines."""
        with self.lock:
            self._write_held()

    def _write_held(self) -> None:
        if not self._held:
            return
        data = b"".join(self._held)
        self._held, self._held_bytes = [], 0
        out = sys.stdout  # looked up now: tests and the SDK's CLI may have replaced it
        raw = getattr(out, "buffer", None)
        if raw is None:
            out.write(data.decode())
            out.flush()
        else:
            out.flush()
            raw.write(data)
            raw.flush()

    def close(self) -> None:
        """Write what is held, then nothing more: the final state is out and the process ends."""
        with self.lock:
            self._write_held()
            self.closed = True


#: orjson hands these to the SDK's path instead of writing them its own way (see RecordLines).
_ORJSON_STRICT = (
    orjson.OPT_PASSTHROUGH_DATETIME
    | orjson.OPT_PASSTHROUGH_SUBCLASS
    | orjson.OPT_PASSTHROUGH_DATACLASS
)


#: Characters str.splitlines() breaks a line at that orjson writes as they are (inside JSON
#: strings only): escaped, so a reader splitting lines that way still reads one message a line.
_LINE_BREAKS = (
    ("\u2028".encode(), b"\\u2028"),
    ("\u2029".encode(), b"\\u2029"),
    ("\x85".encode(), b"\\u0085"),
)


def _refuse(value: object) -> None:
    raise TypeError(type(value).__name__)


class RecordLines:
    """A stream's RECORD lines without the SDK's per-record walks: deselection and type
    conformance compiled once from its schema and catalog (tap_intercom.conformance), the
    message serialized by orjson.

    The line is the SDK's message: the same keys in the same order (`type`, `stream`,
    `record`, `version` when set, `time_extracted` as the SDK formats it). orjson writes
    non-ASCII characters as UTF-8 where the SDK's simplejson escapes them (the same JSON), and
    non-finite floats as null, as the SDK does. A record holding what JSON cannot say (a
    datetime, bytes, an integer beyond 64 bits) is refused by orjson: `line` answers None and
    the record takes the SDK's own path.
    """

    def __init__(
        self,
        stream: SdkStream,
        writer: LockedWriter,
        conform: Conformer,
        deselect: Deselection | None,
    ) -> None:
        self.stream = stream
        self.writer = writer
        self.conform = conform
        self.deselect = deselect
        self.head = b'{"type":"RECORD","stream":' + orjson.dumps(stream.name) + b',"record":'

    @classmethod
    def for_stream(cls, stream: SdkStream) -> RecordLines | None:
        """None when the SDK's path must stay: a stream map or flattening changes records, or
        the schema uses what the compiler does not read."""
        maps = stream.stream_maps
        writer = stream.tap_writer
        if (
            writer is None
            or len(maps) != 1
            or type(maps[0]) is not SameRecordTransform
            or maps[0].flattening_enabled
            or maps[0].stream_alias != stream.name
            or stream.TYPE_CONFORMANCE_LEVEL != TypeConformanceLevel.RECURSIVE
        ):
            return None
        conform = compile_conformer(stream.effective_schema)
        if conform is None:
            return None
        mask = stream.mask
        return cls(stream, writer, conform, compile_deselection(mask, mask.__getitem__))

    def line(self, record: Record) -> bytes | None:
        """The RECORD line of `record` (deselected properties popped from it, as the SDK does),
        or None when orjson refuses a value in it."""
        if self.deselect is not None:
            self.deselect(record)
        conformed, unmapped = self.conform(record)
        if unmapped:
            _warn_unmapped_properties(self.stream.name, tuple(unmapped), self.stream.logger)
        try:
            body = orjson.dumps(conformed, default=_refuse, option=_ORJSON_STRICT)
        except TypeError:
            return None
        for character, escaped in _LINE_BREAKS:
            if character in body:
                body = body.replace(character, escaped)
        version = self.stream.stream_version
        extracted = datetime.datetime.now(datetime.UTC).isoformat().encode()
        if version is None:
            return b'%s%s,"time_extracted":"%s"}\n' % (self.head, body, extracted)
        return b'%s%s,"version":%d,"time_extracted":"%s"}\n' % (
            self.head,
            body,
            version,
            extracted,
        )


class SdkStream(Stream):
    """The stream internals the tap needs, switched on by declarations of its stream classes."""

    #: The stream writes its own bookmark (see streams.base.OwnStateStream): the SDK's
    #: per-record bookmark would reject the lookback's records as unsorted.
    own_bookmark: ClassVar[bool] = False
    #: A child synced once per parent record (the parts streams): one SCHEMA message for the
    #: run, and no STATE of its own (the parent writes it after every page).
    synced_per_parent: ClassVar[bool] = False

    def __init__(self, tap: Tap, output_lock: threading.RLock) -> None:
        super().__init__(tap)
        self.output_lock = output_lock
        self._schema_sent = False
        self._record_lines: RecordLines | None = None
        self._record_lines_for: object = None  # the schema they were compiled from

    @property
    def stream_version(self) -> int | None:
        """The version the stream's records carry (see begin_version)."""
        return self._stream_version

    @property
    def tap_writer(self) -> LockedWriter | None:
        """The tap's writer, when it is the tap's own (SdkTap)."""
        writer = self._tap.message_writer
        return writer if isinstance(writer, LockedWriter) else None

    def write_state(self) -> None:
        """A STATE message with every stream's state as it is now."""
        self._write_state_message()

    def begin_version(self, version: int | None = None) -> int:
        """Start a full-table pass: its records carry the version ACTIVATE_VERSION names
        (`version`, or the pass's start in seconds, as the SDK's own is the run's start: a
        follower's hourly passes each need their own, or a row one of them no longer sends
        would keep the version of an earlier pass and never be marked).

        The SDK only sets the records' version when it sends ACTIVATE_VERSION itself, before
        the first record; the tap sends it after the last one (streams.base.FullTableStream).
        """
        self._stream_version = int(time.time()) if version is None else version
        return self._stream_version

    def activate_version(self, version: int) -> None:
        self._write_activate_version_message(version)

    # Records made outside the stream's own sync (the webhook drain, tombstones written for
    # another stream): out through the SDK's writer, so selection, type conformance and stream
    # maps apply as to any record.

    def write_record(self, record: Record) -> None:
        self._write_record_message(record)

    def write_schema_once(self) -> None:
        """The SCHEMA message, unless this stream has written it in this process already."""
        if not self._schema_sent:
            self._write_schema_message()

    @override
    def _write_record_message(self, record: Record) -> None:
        schema = self.effective_schema
        if self._record_lines_for is not schema:
            self._record_lines = RecordLines.for_stream(self)
            self._record_lines_for = schema
        lines = self._record_lines
        line = None if lines is None else lines.line(record)
        if lines is None or line is None:
            super()._write_record_message(record)
            return
        lines.writer.write_record_line(line)
        self.state_manager.is_flushed = False

    # The SDK changes and dumps the shared tap_state from every stream's thread: each of its
    # state changes and dumps runs under the tap's one output lock.

    @override
    def _write_state_message(self) -> None:
        if self.synced_per_parent:
            return
        with self.output_lock:
            super()._write_state_message()

    @override
    def _write_starting_replication_value(self, context: Context | None) -> None:
        with self.output_lock:
            super()._write_starting_replication_value(context)

    @override
    def _finalize_state(self, state: dict | None = None) -> None:
        with self.output_lock:
            super()._finalize_state(state)

    @override
    def finalize_state_progress_markers(self, state: dict | None = None) -> None:
        with self.output_lock:
            super().finalize_state_progress_markers(state)

    @override
    def _increment_stream_state(
        self, latest_record: Record, *, context: Context | None = None
    ) -> None:
        if not self.own_bookmark:
            with self.output_lock:
                super()._increment_stream_state(latest_record, context=context)

    @override
    def _write_schema_message(self) -> None:
        if self.synced_per_parent and self._schema_sent:
            return
        super()._write_schema_message()
        self._schema_sent = True


class RunningCounter(metrics.Counter):
    """One record counter across every per-parent sync of a child stream.

    The SDK syncs a child once per parent record and would log a counter and a timer line for
    each (hundreds of thousands for a large workspace). This one logs at its interval, without
    the per-parent context, and once more when the parent's sync ends (`flush`, through the
    counter's private `_pop`, the SDK's own "log and reset").
    """

    @override
    def with_context(self, value: Context | None) -> None:
        return

    @override
    def __exit__(self, *args: object) -> None:
        return

    def flush(self) -> None:
        if self.value:
            self._pop()


class SilentTimer(metrics.Timer):
    """A sync timer that logs nothing: a child's per-parent timings say nothing useful."""

    @override
    def __exit__(self, *args: object) -> None:
        return


class SdkTap(Tap):
    """The tap internals: the run's one output lock, the run itself, config checks and
    messages, settings from the environment."""

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        self.output_lock = threading.RLock()
        self._writer = LockedWriter(self.output_lock)
        super().__init__(*args, message_writer=self._writer, **kwargs)

    @override  # type: ignore[misc]  # final in the SDK, whose loop syncs one stream at a time
    def sync_all(self) -> None:
        """The SDK's sync_all, with the top-level streams synced by `sync_streams` and the
        run closed by `end_run`."""
        self._reset_state_progress_markers()
        self._set_compatible_replication_methods()
        roots: list[Stream] = []
        with self.output_lock:
            if self.state:
                self.state_writer.write_state(self.state)
            for stream in self.streams.values():
                if not stream.selected and not stream.has_selected_descendents:
                    self.logger.info("Skipping deselected stream '%s'.", stream.name)
                    continue
                # Every state entry is made now: one added while another thread dumps the
                # state would break the dump ("dictionary changed size during iteration").
                _ = stream.stream_state
                if stream.parent_stream_type is None:
                    roots.append(stream)
        try:
            self.sync_streams(roots)
        finally:
            # RECORD lines still held (a stream failed before its next STATE) are written.
            self._writer.flush()
        # Every stream, children included, logs its costs once all have synced (as the SDK).
        for stream in self.streams.values():
            stream.log_sync_costs()
        self.end_run()

    def sync_streams(self, streams: list[Stream]) -> None:
        """Sync the top-level streams (their children sync inside them): the SDK's order."""
        for stream in streams:
            stream.sync()
            stream.finalize_state_progress_markers()

    def end_run(self) -> None:
        """Called once every stream has synced."""

    def stop_streams(self) -> None:
        """Called on SIGTERM/SIGINT before the state is written and the process exits."""

    @override
    def _handle_termination(self, signum: int, frame: FrameType | None) -> None:
        # The streams' threads stop at their next request instead of failing on a process
        # that is going away. The whole state goes out (not while a stream changes it) as the
        # last line: a stream thread still running until the process exits writes nothing
        # more, and what it had not written is read again from that state.
        self.stop_streams()
        with self.output_lock:
            # Written even when equal to the last STATE (which the SDK's writer would skip):
            # records may have followed that one.
            self._writer.write_message(StateMessage(value=self.state))
            self._writer.close()
            super()._handle_termination(signum, frame)

    def warn_unknown_settings(self) -> None:
        """Called before the SDK checks the config against the schema."""

    def explain_config_error(self, message: str) -> str:
        """A config error message as it may be shown (the tap leaves out secrets)."""
        return message

    @override
    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        """The SDK's schema checks, after `warn_unknown_settings`, their messages passed
        through `explain_config_error`.

        jsonschema's messages quote the bad value, and the SDK has no hook to change them.
        """
        self.warn_unknown_settings()
        try:
            errors = super()._validate_config(raise_errors=raise_errors)
        except ConfigValidationError as exc:
            raise ConfigValidationError(
                str(exc),
                errors=[self.explain_config_error(error) for error in exc.errors],
                schema=exc.schema,
            ) from None
        return [self.explain_config_error(error) for error in errors]

    @classmethod
    def numbers_from_environment(cls, schema: dict[str, Any], prefix: str) -> dict[str, Any]:
        """The numeric settings of <PREFIX>_<NAME> variables (the SDK's reading by default)."""
        numeric = {n: s for n, s in schema["properties"].items() if _NUMERIC & set(_types(s))}
        return parse_environment_config({"properties": numeric}, prefix)

    @classproperty
    @override
    def _env_var_config(cls) -> dict[str, Any]:
        """The SDK's reading of <PREFIX>_<NAME> variables, with the numeric settings read by
        `numbers_from_environment` (the SDK has no hook for how it reads them)."""
        schema = cls.config_jsonschema
        cls.append_builtin_config(schema)
        others = {n: s for n, s in schema["properties"].items() if not _NUMERIC & set(_types(s))}
        config = parse_environment_config({"properties": others}, cls._env_var_prefix)
        # After the SDK's call, which loads a .env file into the environment.
        config.update(cls.numbers_from_environment(schema, cls._env_var_prefix))
        return config


_NUMERIC = {"integer", "number"}


def _types(spec: object) -> list[str]:
    kind = spec.get("type") if isinstance(spec, dict) else None
    return kind if isinstance(kind, list) else [kind] if isinstance(kind, str) else []
