"""One stream's sink: validates records and holds them until the target commits a batch."""

from __future__ import annotations

import typing as t

import fastjsonschema
from singer_sdk.exceptions import InvalidJSONSchema, InvalidRecord, MissingKeyPropertiesError
from singer_sdk.sinks.core import BaseJSONSchemaValidator, Sink
from typing_extensions import override

from target_sqlite_archive.batch import Entry, StreamBatch, canonical_sha, new_row_id, utc_now
from target_sqlite_archive.checked import compile_checked
from target_sqlite_archive.hints import stream_hints
from target_sqlite_archive.normalize import (
    DELETED_AT,
    MERGED_INTO,
    ChildRows,
    TablePlan,
    build_plan,
    dumps,
    normalize,
)
from target_sqlite_archive.settings import DEFAULT_BATCH_SIZE_ROWS, Settings, validate
from target_sqlite_archive.validate import InvalidValue, Validate, compile_validator

if t.TYPE_CHECKING:
    from singer_sdk.target_base import Target


class FastValidator(BaseJSONSchemaValidator):
    """Record validation compiled to Python by fastjsonschema, many times faster than jsonschema.

    Formats are not checked, as in the SDK's default validator; defaults are not filled in,
    so the record stays what the tap sent.
    """

    def __init__(self, schema: dict[str, t.Any]) -> None:
        super().__init__(schema)
        try:
            self._validate = fastjsonschema.compile(schema, use_default=False, use_formats=False)
        except fastjsonschema.JsonSchemaDefinitionException as exc:
            msg = f"Schema Validation Error: {exc}"
            raise InvalidJSONSchema(msg) from exc

    @override
    def validate(self, record: dict[str, t.Any]) -> None:
        try:
            self._validate(record)
        except fastjsonschema.JsonSchemaValueException as exc:
            raise InvalidRecord(exc.message, record) from exc


class CompiledValidator(BaseJSONSchemaValidator):
    """Validation by `validate.compile_validator`'s generated code (see there why)."""

    def __init__(self, schema: dict[str, t.Any], check: Validate) -> None:
        super().__init__(schema)
        self._check = check

    @override
    def validate(self, record: dict[str, t.Any]) -> None:
        try:
            self._check(record)
        except InvalidValue as exc:
            raise InvalidRecord(str(exc), record) from exc


class ArchiveSink(Sink):
    """Holds a stream's pending records; the target writes every sink in one transaction."""

    MAX_SIZE_DEFAULT = DEFAULT_BATCH_SIZE_ROWS

    def __init__(
        self,
        target: Target,
        stream_name: str,
        schema: dict,
        key_properties: t.Sequence[str] | None,
    ) -> None:
        super().__init__(target, stream_name, schema, key_properties)
        self._archive_target = target
        settings: Settings = getattr(target, "settings", None) or validate(target.config)
        search = stream_hints(stream_name, self.schema, settings.full_text_search, settings.indexes)
        self.plan: TablePlan = build_plan(self.schema, search.search)
        self.pending: list[Entry] = []
        # False until the first hand-over, even of no records: the writer then upgrades the
        # stream's tables of an older archive format (they need the schema's keys).
        self.handed_over = False
        self._keys = tuple(self.key_properties)
        self._key_set = frozenset(self._keys)
        # The SDK's `max_size` (a property over a property), read once: the SDK reads the
        # `batch_size_rows` setting once too, when it makes the sink, and the batcher asks
        # after every record.
        self.full_at = self.max_size
        # Validation and flattening in one pass when the compiled validator validates.
        self._one_pass = isinstance(self._validator, CompiledValidator) and compile_checked(
            self.plan, self.schema
        )

    @override
    def get_validator(self) -> BaseJSONSchemaValidator | None:
        if not self.validate_schema:
            return None
        check = compile_validator(self.schema)
        # Schemas beyond the compiled subset are validated by fastjsonschema, in full.
        return CompiledValidator(self.schema, check) if check else FastValidator(self.schema)

    @property
    @override
    def current_size(self) -> int:
        return len(self.pending)

    def accept(
        self, record: dict[str, t.Any], raw: bytes, version: int | None, received_at: str
    ) -> None:
        """Validate and queue one record (the target's lean path for RECORD messages)."""
        keys = self._keys
        if (
            self._one_pass
            and record.keys() >= self._key_set  # every key property there (a C-level test)
            and record.get(DELETED_AT).__class__ is not str  # tombstones: the path below
        ):
            row_id = dumps([record[k] for k in keys]) if keys else new_row_id()
            children: ChildRows = {}
            try:
                values = normalize(self.plan, record, row_id, children, checked=True)
            except InvalidValue:
                pass  # invalid: the separate passes below say why, and log or raise it
            else:
                sha = canonical_sha(record)
                self.pending.append(Entry(row_id, sha, raw, version, received_at, values, children))
                self.tally_record_read()
                return
        if self._validator is not None:
            try:
                self._validator.validate(record)
            except InvalidRecord:
                self.logger.exception("Record validation failed")
                if self.fail_on_record_validation_exception:
                    raise
        for key in keys:
            if key not in record:
                msg = (
                    f"Record is missing one or more key_properties.\n"
                    f"Key Properties: {list(keys)}, Record Keys: {list(record)}"
                )
                raise MissingKeyPropertiesError(msg)
        # Normalized here, in the reading process, so the record dict can go at once and the
        # writer process only writes.
        row_id = dumps([record[k] for k in keys]) if keys else new_row_id()
        sha = canonical_sha(record)
        deleted_at = record.get(DELETED_AT)
        if deleted_at.__class__ is str and keys:
            # A tombstone: the row is marked, its data left as it was (store.py).
            merged = record.get(MERGED_INTO)
            entry = Entry(row_id, sha, raw, version, received_at, [], {}, deleted_at, merged)
            self.pending.append(entry)
            self.tally_record_read()
            return
        children = {}  # an invalid record's rows cut by the one pass are dropped
        values = normalize(self.plan, record, row_id, children)
        self.pending.append(Entry(row_id, sha, raw, version, received_at, values, children))
        self.tally_record_read()

    def hand_over(self) -> StreamBatch:
        """The pending batch, for the writer; the sink starts a new one."""
        batch = StreamBatch(self.stream_name, self.plan, self._keys, self.pending)
        self.handed_over = True
        self.record_counter_metric.increment(len(self.pending))
        self.pending = []
        self.mark_drained()
        return batch

    @override
    def process_record(self, record: dict, context: dict) -> None:
        # Reached only if SDK machinery bypasses the target's own path: there is no raw
        # text then, so the record is serialized as received.
        self.accept(record, dumps(record).encode(), None, utc_now())

    @override
    def process_batch(self, context: dict) -> None:
        # A sink never commits alone: that would let state run ahead of other sinks' data.
        commit = getattr(self._archive_target, "commit", None)
        if commit is not None:
            commit()
