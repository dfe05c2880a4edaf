"""Reading Singer lines while keeping each RECORD's JSON text exactly as it was sent.

Lines are handled as the UTF-8 bytes they arrive in: the record's text is cut out of them,
hashed and compressed without a decode to text and an encode back.

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
import select
import typing as t
from collections import Counter
from json.decoder import JSONDecodeError

import orjson
from singer_sdk.io_base import SingerReader
from singer_sdk.singerlib.exceptions import InvalidInputLine
from typing_extensions import override

from target_sqlite_archive.encryption import ARCHIVE_ERRORS

_BLANK = b" \t\n\r"
_BLANK_TEXT = " \t\n\r"
_COLON, _OPEN, _CLOSE = b":{}"
# orjson reads integers beyond 64 bits as floats: lines that may hold one (a run of 19 digits)
# take the exact path. Found by mapping bytes to digit/other in C: a regex is 15x slower here.
_DIGIT_OR_NOT = bytes(0x30 if 0x30 <= b <= 0x39 else 0x20 for b in range(256))
_LONG_NUMBER = b"0" * 19
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


def split_message(line: bytes | str) -> tuple[dict[str, t.Any], bytes | None]:
    """Parse one Singer line (UTF-8 bytes as read, or text); also return the exact UTF-8 text
    of its `record` value, if any."""
    data = line.encode("utf-8", "surrogatepass") if isinstance(line, str) else line
    if _LONG_NUMBER not in data.translate(_DIGIT_OR_NOT):
        # Fast path: orjson parses the line; the record's text is then found from the other
        # members, when their values are plain enough to make that unambiguous.
        try:
            message = orjson.loads(data)
        except orjson.JSONDecodeError:
            message = None  # NaN, lone surrogates, not UTF-8...: the standard library decides
        if message.__class__ is dict:
            if "record" not in message:
                return message, None
            raw = _record_text(data, message)
            if raw is not None:
                return message, raw
    try:
        text = data.decode()
    except UnicodeDecodeError as exc:
        raise JSONDecodeError("Not UTF-8 text", "", exc.start) from None
    try:
        message, raw_text = _split(text)
    except IndexError as exc:
        raise JSONDecodeError("Unexpected end of line", text, len(text)) from exc
    return message, None if raw_text is None else raw_text.encode()


def _plain(value: t.Any) -> bool:
    if value.__class__ is str:
        return '"' not in value and "\\" not in value
    return value is None or value.__class__ in (int, float, bool)


def _record_text(line: bytes, message: dict[str, t.Any]) -> bytes | None:
    """The `record` value's text, or None when the fast path cannot be sure of it."""
    if message["record"].__class__ is not dict:
        return None
    keys = list(message)
    at = keys.index("record")
    for key in keys:
        if key != "record" and not (_plain(key) and _plain(message[key])):
            return None
    # No other member holds a quote, so the first `"record"` followed by ':' is the key.
    blank = _BLANK
    position = 0
    while True:
        position = line.find(b'"record"', position)
        if position < 0:
            return None
        start = position + 8
        while line[start] in blank:
            start += 1
        if line[start] == _COLON:
            break
        position = start
    start += 1
    end = len(line.rstrip(blank)) - 1  # the message's closing brace
    if at + 1 < len(keys):
        # The record ends before the first member after it, found from the end: nothing
        # after that member's key holds a quote.
        end = line.rfind(f'"{keys[at + 1]}"'.encode(), start, end)
        if end < 0:
            return None
        end = line.rfind(b",", start, end)
    raw = line[start:end].strip(blank)
    if not raw or raw[0] != _OPEN or raw[-1] != _CLOSE:
        return None
    return raw


def _split(line: str) -> tuple[dict[str, t.Any], str | None]:
    # Whitespace is rare in Singer lines between tokens other than after ':' and ',', so the
    # regular expression runs only where a whitespace character is actually seen.
    ws, blank, scan = _skip_ws, _BLANK_TEXT, _scan
    i = ws(line, 0).end() if line[0] in blank else 0
    if line[i] != "{":
        raise JSONDecodeError("Expecting '{'", line, i)
    i += 1
    if line[i] in blank:
        i = ws(line, i).end()
    message: dict[str, t.Any] = {}
    raw: str | None = None
    if line[i] == "}":
        return message, raw
    while True:
        if line[i] != '"':
            raise JSONDecodeError("Expecting property name", line, i)
        key, i = _scanstring(line, i + 1)
        if line[i] != ":":
            i = ws(line, i).end()
            if line[i] != ":":
                raise JSONDecodeError("Expecting ':'", line, i)
        i += 1
        if line[i] in blank:
            i = ws(line, i).end()
        try:
            value, end = scan(line, i)
        except StopIteration as exc:
            raise JSONDecodeError("Expecting value", line, i) from exc
        if key == "record":
            raw = line[i:end]
        message[key] = value
        i = end
        char = line[i]
        if char in blank:
            i = ws(line, i).end()
            char = line[i]
        if char == "}":
            break
        if char != ",":
            raise JSONDecodeError("Expecting ',' delimiter", line, i)
        i += 1
        if line[i] in blank:
            i = ws(line, i).end()
    if line[i + 1 :].strip(blank):
        raise JSONDecodeError("Extra data", line, i + 1)
    return message, raw


class RawRecordReader(SingerReader):
    """The SDK's line reader, remembering the raw text of the last RECORD's `record`.

    Lines are read as the bytes they arrived in (a text stream's own buffer, as standard
    input and `--input` are, when it has one): each is parsed, cut and compressed as that
    UTF-8, never decoded to text and encoded back. The stream must be unread so far.
    """

    raw_record: bytes | None = None  # UTF-8
    line_number = 0  # of the line being processed, from 1
    _input: t.IO[t.Any] | None = None

    def input_waiting(self) -> bool:
        """Whether more input can be read at once (False when unknown, e.g. a StringIO).

        Lines already in the stream's own buffer are not seen: then it says False, and the
        caller merely waits where it need not have.
        """
        try:
            fileno = self._input.fileno() if self._input is not None else -1
        except (OSError, ValueError):  # no file descriptor behind it, or closed
            return False
        if fileno < 0:
            return False
        readable, _writable, _errors = select.select([fileno], [], [], 0)
        return bool(readable)

    @override
    def process_lines(
        self,
        file_input: t.IO[str] | None,
        callbacks: dict[str, t.Callable[[dict], None]],
    ) -> t.Counter[str]:
        # The SDK's loop, minus per-line overheads that show at tens of thousands of lines/s.
        stats: t.Counter[str] = Counter()
        deserialize = self.deserialize_json
        get_callback = callbacks.get
        self.line_number = 0
        source = file_input or self.default_input
        binary: t.IO[bytes] | None = getattr(source, "buffer", None)
        self._input = binary if binary is not None else source
        try:
            for line in self._input:
                self.line_number += 1
                message = deserialize(line)
                message_type = message.get("type")
                if message_type is None:
                    self.assert_line_requires(message, requires={"type"})
                callback = get_callback(message_type)  # type: ignore[arg-type]
                if callback is None:
                    self._process_unknown_message(message)
                else:
                    callback(message)
                stats[message_type] += 1  # type: ignore[index]
        except Exception as exc:
            _name_the_line(exc, self.line_number)
            raise
        return stats

    @override
    def deserialize_json(self, line: bytes | str) -> dict:
        try:
            message, self.raw_record = split_message(line)
        except JSONDecodeError as exc:
            # Never the line itself: it holds customer data (the SDK logs it whole).
            msg = (
                f"Input line {self.line_number} is not valid JSON: {exc.msg} (character {exc.pos})"
            )
            raise InvalidInputLine(msg) from None
        return message


def _name_the_line(exc: BaseException, number: int) -> None:
    """Put the input line's number in front of the error's message (what the CLI logs).

    Archive errors (either SQLite binding's, a key that does not fit, the file system's) are
    left alone: they are about the archive, not the line at which a background commit happened
    to report them."""
    if isinstance(exc, ARCHIVE_ERRORS) or not exc.args or not isinstance(exc.args[0], str):
        return
    if not exc.args[0].startswith("Input line "):
        exc.args = (f"Input line {number}: {exc.args[0]}", *exc.args[1:])
