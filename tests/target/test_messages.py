"""The line reader: the `record` text is kept exactly as sent."""

from __future__ import annotations

import io
import json

import pytest
from hypothesis import given, settings
from hypothesis import strategies as st
from singer_sdk.singerlib.exceptions import InvalidInputLine

from target_sqlite_archive.messages import RawRecordReader, split_message


@pytest.mark.parametrize(
    "record_text",
    [
        '{"id": 1, "x": 1.10, "y": 1e400, "z": -0.0}',
        '{ "id" :1 ,"s":"\\u00e9\\n\\"q\\"", "nested": {"record": {"record": 1}} }',
        '{"id":1,"big":123456789012345678901234567890}',
        "{}",
        '{"emoji":"🙂","名前":"値"}',
    ],
)
def test_record_text_is_cut_out_exactly(record_text: str) -> None:
    line = f' {{"type" : "RECORD", "stream": "s", "record" : {record_text} , "version": 3}}\n'
    message, raw = split_message(line)
    assert raw == record_text.encode()
    assert message["version"] == 3
    assert message["type"] == "RECORD"
    assert message["record"] == json.loads(record_text)


def test_keys_in_any_order_and_escaped_key_names() -> None:
    line = '{"\\"record":[1],"record":{"a":[]},"type":"RECORD","stream":"s"}'
    message, raw = split_message(line)
    assert raw == b'{"a":[]}'
    assert message == json.loads(line)


def test_messages_without_record() -> None:
    assert split_message('{"type": "STATE", "value": {"a": 1}}') == (
        {"type": "STATE", "value": {"a": 1}},
        None,
    )


@pytest.mark.parametrize(
    "line",
    ['{"type": "RECORD"', "[1]", '{"a" 1}', '{"a": 1} x', "", '{"a": 1,}', '{"a": }'],
)
def test_invalid_lines_are_rejected(line: str) -> None:
    with pytest.raises(InvalidInputLine):
        RawRecordReader().deserialize_json(line)


JSON_VALUES = st.recursive(
    st.none()
    | st.booleans()
    | st.integers(min_value=-(2**70), max_value=2**70)
    | st.floats(allow_nan=False, allow_infinity=False)
    | st.text(max_size=10),
    lambda inner: (
        st.lists(inner, max_size=3) | st.dictionaries(st.text(max_size=8), inner, max_size=3)
    ),
    max_leaves=10,
)
TRICKY_TEXT = st.sampled_from(
    ['"record"', 'a"b', "\\", "record", '", "record": {', "", 'x"record', 'a"x', "x"]
) | st.text(max_size=8)
SEPARATORS = st.sampled_from([(",", ":"), (", ", ": "), (" ,", " : "), ("\t,\n", "\r:\t")])


@given(
    record_value=st.dictionaries(st.text(max_size=8) | TRICKY_TEXT, JSON_VALUES, max_size=4),
    stream=TRICKY_TEXT,
    extras=st.dictionaries(
        st.sampled_from(["version", "time_extracted", "x", "record\\"]) | TRICKY_TEXT,
        st.integers() | TRICKY_TEXT,
        max_size=3,
    ),
    record_at=st.integers(min_value=0, max_value=5),
    separators=SEPARATORS,
    record_separators=SEPARATORS,
    edges=st.sampled_from(["", " ", "\n", " \r\n"]),
)
@settings(max_examples=300, deadline=None)
def test_record_text_is_exact_for_any_line(
    record_value: dict,
    stream: str,
    extras: dict,
    record_at: int,
    separators: tuple[str, str],
    record_separators: tuple[str, str],
    edges: str,
) -> None:
    item, key = separators
    members = [("type", json.dumps("RECORD")), ("stream", json.dumps(stream))]
    members += [
        (k, json.dumps(v)) for k, v in extras.items() if k not in ("type", "stream", "record")
    ]
    record_text = json.dumps(record_value, separators=record_separators)
    members.insert(min(record_at, len(members)), ("record", record_text))
    body = item.join(f"{json.dumps(k)}{key}{v}" for k, v in members)
    line = f"{edges}{{{edges}{body}{edges}}}{edges}"
    message, raw = split_message(line)
    assert raw == record_text.encode()
    assert message == json.loads(line)
    assert split_message(line.encode()) == (message, raw)


def _read(data: bytes) -> tuple[list[tuple[dict, bytes | None]], RawRecordReader]:
    reader = RawRecordReader()
    seen: list[tuple[dict, bytes | None]] = []

    def keep(message: dict) -> None:
        seen.append((message, reader.raw_record))

    stream = io.TextIOWrapper(io.BytesIO(data), encoding="utf-8")
    reader.process_lines(stream, {"RECORD": keep, "STATE": keep})
    return seen, reader


def test_lines_are_read_as_the_bytes_under_a_text_stream() -> None:
    record = '{"name":"Zoë","escaped":"Zo\\u00eb","tab":"\\t"}'
    data = f'{{"type":"RECORD","stream":"s","record":{record}}}\r\n'.encode()
    data += b'{"type":"STATE","value":{"a":1}}'  # no newline at the end
    seen, reader = _read(data)
    assert seen == [
        ({"type": "RECORD", "stream": "s", "record": json.loads(record)}, record.encode()),
        ({"type": "STATE", "value": {"a": 1}}, None),
    ]
    assert isinstance(reader._input, io.BytesIO)  # the text layer was never used


def test_a_line_that_is_not_utf8_is_named_in_one_line() -> None:
    data = b'{"type":"STATE","value":1}\n{"type":"STATE","value":"caf\xe9"}\n'
    with pytest.raises(InvalidInputLine) as raised:
        _read(data)
    assert str(raised.value) == ("Input line 2 is not valid JSON: Not UTF-8 text (character 28)")
