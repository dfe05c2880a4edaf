"""The line reader: the `record` text is kept exactly as sent."""

from __future__ import annotations

import json

import pytest
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
    assert raw == record_text
    assert message["version"] == 3
    assert message["type"] == "RECORD"
    assert message["record"] == json.loads(record_text)


def test_keys_in_any_order_and_escaped_key_names() -> None:
    line = '{"\\"record":[1],"record":{"a":[]},"type":"RECORD","stream":"s"}'
    message, raw = split_message(line)
    assert raw == '{"a":[]}'
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
