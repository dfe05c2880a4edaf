"""The tap's RECORD lines: the SDK's messages, written in fewer writes, a whole sync unchanged.

A whole sync against the emulator through the SDK's record path and through the compiled one
gives the same messages (time_extracted aside, and a full-table pass's version, which is the
second the pass began); every record on the way is conformed as the SDK would.
"""

from __future__ import annotations

import contextlib
import copy
import datetime
import io
import json
from collections import defaultdict
from collections.abc import Iterator
from typing import Any

import pytest
from singer_sdk.helpers._typing import conform_record_data_types
from singer_sdk.singerlib import RecordMessage, StateMessage
from singer_sdk.singerlib.encoding import SimpleSingerWriter

from tap_intercom import sdk_hooks
from tap_intercom.sdk_hooks import LockedWriter, RecordLines, SdkStream
from tap_intercom.tap import TapIntercom
from tests.catalog import select_streams
from tests.emulator import Emulator
from tests.reliability.pipeline import small_spec, tap_config
from tests.tap.conftest import catalog_for, make_config
from tests.tap.test_conformance import assert_same_as_sdk


def messages(text: str) -> list[dict[str, Any]]:
    return [json.loads(line) for line in text.splitlines() if line.strip()]


# The writer.


def record_line(n: int) -> bytes:
    return b'{"type":"RECORD","stream":"s","record":{"id":"%d"}}\n' % n


def test_record_lines_wait_for_the_next_other_message() -> None:
    writer = LockedWriter(sdk_hooks.threading.RLock())
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        writer.write_record_line(record_line(1))
        writer.write_message(RecordMessage(stream="s", record={"id": "2"}))
        assert out.getvalue() == ""
        writer.write_message(StateMessage(value={"bookmarks": {}}))
        writer.write_record_line(record_line(3))
    assert [(m["type"], m.get("record")) for m in messages(out.getvalue())] == [
        ("RECORD", {"id": "1"}),
        ("RECORD", {"id": "2"}),
        ("STATE", None),
    ]
    with contextlib.redirect_stdout(out):
        writer.flush()
    assert messages(out.getvalue())[-1]["record"] == {"id": "3"}


def test_held_lines_go_out_when_the_buffer_is_full(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(sdk_hooks, "FLUSH_BYTES", 3 * len(record_line(1)))
    writer = LockedWriter(sdk_hooks.threading.RLock())
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        for n in range(4):
            writer.write_record_line(record_line(n))
    assert len(messages(out.getvalue())) == 3


def test_bytes_go_to_the_binary_stdout_as_utf8() -> None:
    writer = LockedWriter(sdk_hooks.threading.RLock())
    raw = io.BytesIO()
    text = io.TextIOWrapper(raw, encoding="utf-8")
    with contextlib.redirect_stdout(text):
        text.write("")
        writer.write_record_line('{"name":"Zoë 名"}\n'.encode())
        writer.write_message(StateMessage(value={}))
    assert raw.getvalue().decode("utf-8").splitlines()[0] == '{"name":"Zoë 名"}'


def test_a_closed_writer_writes_what_it_held_and_nothing_more() -> None:
    writer = LockedWriter(sdk_hooks.threading.RLock())
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        writer.write_record_line(record_line(1))
        writer.close()
        writer.write_record_line(record_line(2))
        writer.flush()
    assert len(messages(out.getvalue())) == 1


# One stream's lines against the SDK's.


def parts_stream(tap: TapIntercom) -> SdkStream:
    stream = tap.streams["conversation_parts"]
    assert isinstance(stream, SdkStream)
    return stream


def sdk_line(stream: Any, record: dict[str, Any], version: int | None) -> dict[str, Any]:
    conformed = conform_record_data_types(
        stream.name,
        copy.deepcopy(record),
        stream.schema,
        stream.TYPE_CONFORMANCE_LEVEL,
        stream.logger,
    )
    message = RecordMessage(
        stream=stream.name,
        record=conformed,
        version=version,
        time_extracted=datetime.datetime.now(datetime.UTC),
    )
    return json.loads(SimpleSingerWriter().format_message(message))


PART = {
    "type": "conversation_part",
    "id": "p1",
    "conversation_id": "c1",
    "part_type": "comment",
    # Non-ASCII, and the characters str.splitlines() breaks at: still one line.
    "body": 'Grüße, 你好 \u2028 \u2029 \x85 "quoted" \\',
    "redacted": 0,
    "author": {"id": "a1", "type": "admin", "from_ai_agent": None, "unknown": 1},
    "created_at": "2026-01-01T00:00:00Z",
}


@pytest.mark.parametrize("version", [None, 1_700_000_000])
@pytest.mark.parametrize(
    "extra",
    [
        {},
        # Not JSON, or beyond orjson: the SDK's own path writes the record.
        {"app_package_code": datetime.datetime(2026, 1, 1, 12, tzinfo=datetime.UTC)},
        {"external_id": 2**70},
        {"metadata": {"quick_reply_options": [{"translations": {"x": b"\x00"}}]}},
    ],
)
def test_a_line_is_the_sdks_message(version: int | None, extra: dict[str, Any]) -> None:
    tap = TapIntercom(
        config=make_config(), catalog=catalog_for("conversations", "conversation_parts")
    )
    stream = parts_stream(tap)
    if version:
        stream.begin_version(version)
    record = {**copy.deepcopy(PART), **extra}
    expected = sdk_line(stream, record, version)
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        stream._write_record_message(record)
        assert out.getvalue() == ""
        tap._writer.flush()
    (line,) = out.getvalue().splitlines()
    written = json.loads(line)
    assert list(written) == list(expected)
    extracted = datetime.datetime.fromisoformat(written.pop("time_extracted"))
    assert extracted.utcoffset() == datetime.timedelta(0)
    expected.pop("time_extracted")
    assert written == expected
    assert line.startswith('{"type":"RECORD","stream":"conversation_parts","record":{')


def test_a_stream_map_keeps_the_sdks_path() -> None:
    config = make_config(stream_maps={"conversation_parts": {"body": None}})
    tap = TapIntercom(config=config, catalog=catalog_for("conversations", "conversation_parts"))
    assert RecordLines.for_stream(parts_stream(tap)) is None
    conversations = tap.streams["conversations"]
    assert isinstance(conversations, SdkStream)
    assert RecordLines.for_stream(conversations) is not None


def test_deselected_properties_are_left_out() -> None:
    catalog = catalog_for("conversations", "conversation_parts")
    for entry in catalog["streams"]:
        if entry["tap_stream_id"] == "conversation_parts":
            for item in entry["metadata"]:
                if item["breadcrumb"] == ["properties", "body"]:
                    item["metadata"]["selected"] = False
    tap = TapIntercom(config=make_config(), catalog=catalog)
    stream = tap.streams["conversation_parts"]
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        stream._write_record_message(copy.deepcopy(PART))
        tap._writer.flush()
    (message,) = messages(out.getvalue())
    assert "body" not in message["record"]
    assert message["record"]["id"] == "p1"


# A whole sync, before and after.


@pytest.fixture(scope="module")
def emulator() -> Iterator[Emulator]:
    with Emulator(small_spec(seed=23), token="tok-lines") as emu:
        yield emu


def sync(emu: Emulator) -> list[dict[str, Any]]:
    base = TapIntercom(config=make_config()).catalog_dict
    tap = TapIntercom(config=tap_config(emu), state={}, catalog=select_streams(base, None))
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        tap.sync_all()
    return messages(out.getvalue())


def by_stream(output: list[dict[str, Any]]) -> dict[str, Any]:
    """Each stream's messages in its order, tombstones (written from another stream's thread)
    apart and sorted; time_extracted left out, a version only said to be there."""
    seen: dict[str, Any] = defaultdict(lambda: {"messages": [], "tombstones": []})
    for message in output:
        if message["type"] == "STATE":
            continue
        message = dict(message)
        message.pop("time_extracted", None)
        if "version" in message:
            message["version"] = "set"
        record = message.get("record") or {}
        kind = "tombstones" if record.get("_sdc_deleted_at") else "messages"
        seen[message["stream"]][kind].append(message)
    for entry in seen.values():
        entry["tombstones"].sort(key=lambda m: json.dumps(m, sort_keys=True))
    return dict(seen)


def test_a_whole_sync_writes_what_the_sdks_path_wrote(
    emulator: Emulator, monkeypatch: pytest.MonkeyPatch
) -> None:
    with monkeypatch.context() as sdk_path:
        sdk_path.setattr(RecordLines, "for_stream", classmethod(lambda cls, stream: None))
        before = sync(emulator)

    seen: list[tuple[dict[str, Any], dict[str, Any]]] = []
    line = RecordLines.line

    def spied(self: RecordLines, record: dict[str, Any]) -> bytes | None:
        seen.append((copy.deepcopy(record), self.stream.effective_schema))
        return line(self, record)

    monkeypatch.setattr(RecordLines, "line", spied)
    after = sync(emulator)

    assert by_stream(after) == by_stream(before)
    assert sum(m["type"] == "RECORD" for m in after) == len(seen) > 500
    assert sum(m["type"] == "STATE" for m in after) > 10
    streams = {m["stream"] for m in after if m["type"] == "RECORD"}
    assert {"contacts", "conversations", "conversation_parts", "tickets", "ticket_parts"} <= streams
    for record, schema in seen:
        assert_same_as_sdk(record, schema)
