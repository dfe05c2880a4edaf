"""Running the target in-process on Singer messages, and reading the archive back."""

from __future__ import annotations

import contextlib
import io
import json
import typing as t
from pathlib import Path

from target_sqlite_archive.reader import ArchiveReader
from target_sqlite_archive.target import TargetSqliteArchive

Message = dict[str, t.Any] | str


def schema(
    stream: str, properties: dict[str, t.Any], keys: t.Sequence[str] = ("id",)
) -> dict[str, t.Any]:
    return {
        "type": "SCHEMA",
        "stream": stream,
        "schema": {"type": "object", "properties": properties},
        "key_properties": list(keys),
    }


def record(stream: str, data: dict[str, t.Any], **extra: t.Any) -> dict[str, t.Any]:
    return {"type": "RECORD", "stream": stream, "record": data, **extra}


def state(value: t.Any) -> dict[str, t.Any]:
    return {"type": "STATE", "value": value}


def lines(messages: t.Iterable[Message]) -> str:
    return "".join((m if isinstance(m, str) else json.dumps(m)) + "\n" for m in messages)


class Run(t.NamedTuple):
    states: list[t.Any]  # state values emitted on stdout, in order
    database: Path


def run(database: Path, messages: t.Iterable[Message], **config: t.Any) -> Run:
    """One target run over `messages`, as the CLI does it (all input, then end of pipe)."""
    target = TargetSqliteArchive(config={"database": str(database), **config})
    out = io.StringIO()
    with contextlib.redirect_stdout(out):
        target.process_lines(io.StringIO(lines(messages)))
        target.process_endofpipe()
    states = [json.loads(line) for line in out.getvalue().splitlines() if line.strip()]
    return Run(states, database)


@contextlib.contextmanager
def opened(database: Path) -> t.Iterator[ArchiveReader]:
    store = ArchiveReader(str(database))
    try:
        yield store
    finally:
        store.close()


def rows(database: Path, sql: str, params: t.Sequence[t.Any] = ()) -> list[tuple[t.Any, ...]]:
    with opened(database) as store:
        return list(store.conn.execute(sql, params))


def prune(value: t.Any) -> t.Any:
    """What the normalized tables can give back: nulls, empty objects and arrays left out."""
    if isinstance(value, dict):
        pruned = {k: prune(v) for k, v in value.items()}
        return {k: v for k, v in pruned.items() if v is not None and v != {} and v != []}
    if isinstance(value, list):
        return [prune(v) for v in value]
    return value
