"""Load the records of a Singer file into SQLite with dlt (the comparison for the target).

    benchmarks/.venv-dlt/bin/python benchmarks/dlt_load.py SINGER_FILE DATABASE

Runs inside `benchmarks/.venv-dlt` (dlt with its SQLAlchemy destination, which is how dlt
writes SQLite). One dlt resource per Singer stream, with the stream's `key_properties` as the
primary key and `write_disposition="merge"`; dlt unnests lists into child tables itself
(`contacts__tags__data`, ...). Prints one JSON line: records loaded per stream.
"""

from __future__ import annotations

import importlib
import json
import sys
import tempfile
import typing as t
from collections.abc import Iterator
from pathlib import Path


def _streams(singer_file: Path) -> dict[str, list[str]]:
    """Stream name -> key properties, from the SCHEMA messages."""
    keys: dict[str, list[str]] = {}
    with singer_file.open("rb") as lines:
        for raw in lines:
            if b'"SCHEMA"' in raw[:40]:
                message = json.loads(raw)
                keys[message["stream"]] = list(message.get("key_properties") or [])
    return keys


def _records(singer_file: Path, stream: str, counts: dict[str, int]) -> Iterator[dict[str, t.Any]]:
    tag = f'"stream": "{stream}"'.encode()
    tag_compact = f'"stream":"{stream}"'.encode()
    with singer_file.open("rb") as lines:
        for raw in lines:
            head = raw[:80]
            if b'"RECORD"' in head and (tag in head or tag_compact in head):
                counts[stream] = counts.get(stream, 0) + 1
                yield json.loads(raw)["record"]


def main(argv: list[str] | None = None) -> None:
    args = sys.argv[1:] if argv is None else argv
    singer_file, database = Path(args[0]), Path(args[1])
    dlt: t.Any = importlib.import_module("dlt")
    counts: dict[str, int] = {}
    resources = [
        dlt.resource(
            _records(singer_file, stream, counts),
            name=stream,
            primary_key=keys or None,
            write_disposition="merge",
        )
        for stream, keys in _streams(singer_file).items()
    ]
    with tempfile.TemporaryDirectory() as pipelines_dir:
        pipeline = dlt.pipeline(
            pipeline_name="bench_dlt",
            pipelines_dir=pipelines_dir,
            destination=dlt.destinations.sqlalchemy(credentials=f"sqlite:///{database}"),
            dataset_name="intercom",
        )
        pipeline.run(resources)
    print(json.dumps(counts))


if __name__ == "__main__":
    main()
