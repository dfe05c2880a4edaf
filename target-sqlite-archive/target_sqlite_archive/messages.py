"""Reading Singer lines while keeping each RECORD's JSON text exactly as it was sent.

The raw archive must give back what the tap sent, so the text of the `record` value is cut
out of the line during the one parse the line gets, before anything turns its numbers or
dates into other types. The walk over the message's top-level keys uses the standard
library's C scanner, so it costs about what `json.loads` costs.
"""

from __future__ import annotations

import json
import json.decoder
import json.scanner
import re
import typing as t
from json.decoder import JSONDecodeError

from singer_sdk.io_base import SingerReader
from singer_sdk.singerlib.exceptions import InvalidInputLine
from typing_extensions import override

# The pattern always matches (possibly empty), so `.end()` is always there.
_skip_ws = t.cast("t.Callable[[str, int], re.Match[str]]", re.compile(r"[ \t\n\r]*").match)
# The C implementations behind json.loads: a string scanner and a value scanner.
_scanstring = t.cast(
    "t.Callable[[str, int], tuple[str, int]]",
    json.decoder.scanstring,  # type: ignore[attr-defined]
)
_scan = t.cast(
    "t.Callable[[str, int], tuple[t.Any, int]]",
    json.scanner.make_scanner(json.JSONDecoder()),  # type: ignore[arg-type]
)


def split_message(line: str) -> tuple[dict[str, t.Any], str | None]:
    """Parse one Singer line; also return the exact text of its `record` value, if any."""
    ws = _skip_ws
    i = ws(line, 0).end()
    if line[i : i + 1] != "{":
        raise JSONDecodeError("Expecting '{'", line, i)
    i = ws(line, i + 1).end()
    message: dict[str, t.Any] = {}
    raw: str | None = None
    if line[i : i + 1] == "}":
        return message, raw
    while True:
        if line[i : i + 1] != '"':
            raise JSONDecodeError("Expecting property name", line, i)
        key, i = _scanstring(line, i + 1)
        i = ws(line, i).end()
        if line[i : i + 1] != ":":
            raise JSONDecodeError("Expecting ':'", line, i)
        i = ws(line, i + 1).end()
        try:
            value, end = _scan(line, i)
        except StopIteration as exc:
            raise JSONDecodeError("Expecting value", line, i) from exc
        if key == "record":
            raw = line[i:end]
        message[key] = value
        i = ws(line, end).end()
        char = line[i : i + 1]
        if char == "}":
            break
        if char != ",":
            raise JSONDecodeError("Expecting ',' delimiter", line, i)
        i = ws(line, i + 1).end()
    if ws(line, i + 1).end() != len(line):
        raise JSONDecodeError("Extra data", line, i + 1)
    return message, raw


class RawRecordReader(SingerReader):
    """The SDK's line reader, remembering the raw text of the last RECORD's `record`."""

    raw_record: str | None = None

    @override
    def deserialize_json(self, line: str) -> dict:
        try:
            message, self.raw_record = split_message(line)
        except JSONDecodeError as exc:
            msg = f"Unable to parse line as JSON: {line[:200]!r}"
            raise InvalidInputLine(msg) from exc
        return message
