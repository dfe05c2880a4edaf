"""The raw versions' codec: new rows are zstd and say so, with a dictionary per stream once a
batch brings enough versions to train one; an archive written before the codec column (format
1: zlib rows, no column) is upgraded in place and reads back, old rows and new.

The committed format-1 fixture is upgraded in test_upgrade.py; here an archive of this run is
turned back into format 1, so each step is seen on a small, known archive."""

from __future__ import annotations

import contextlib
import json
import sqlite3
import typing as t
import zlib
from pathlib import Path

import pytest
import zstandard

from target_sqlite_archive import batch, codec, committer, normalize, sql
from target_sqlite_archive.batch import Job, WriteEntry
from target_sqlite_archive.codec import decompress
from target_sqlite_archive.normalize import TablePlan
from target_sqlite_archive.store import ArchiveStore
from tests.target.harness import opened, record, rows, run, schema

PROPERTIES = {"id": {"type": "integer"}, "name": {"type": "string"}}
README = Path(__file__).resolve().parents[2] / "target-sqlite-archive" / "README.md"


def readme_raw_texts(database: Path, stream: str) -> list[str]:
    """The texts the README's recipe for reading raw versions gives, run as it is written
    (its file name and stream replaced)."""
    after = README.read_text().split("Reading raw versions back (Python)", 1)[1]
    recipe = after.split("```python\n", 1)[1].split("```", 1)[0]
    assert "'contacts'" in recipe
    assert '"archive.sqlite"' in recipe
    recipe = recipe.replace('"archive.sqlite"', repr(str(database)))
    recipe = recipe.replace("'contacts'", "'" + stream + "'")
    namespace: dict[str, t.Any] = {}
    exec(compile(recipe, str(README), "exec"), namespace)  # noqa: S102
    namespace["db"].close()
    return t.cast("list[str]", namespace["texts"])


def _as_previous_format(database: Path) -> None:
    """Turn an archive into what the target wrote before the codec column (format 1): same
    tables, the raw column zlib-compressed, no codec column."""
    with contextlib.closing(sqlite3.connect(database, isolation_level=None)) as conn:
        rows = conn.execute("SELECT version_id, codec, raw FROM _archive_raw").fetchall()
        conn.execute("BEGIN")
        for version_id, name, raw in rows:
            old = zlib.compress(decompress(name, raw), 1)
            conn.execute("UPDATE _archive_raw SET raw = ? WHERE version_id = ?", (old, version_id))
        conn.execute("ALTER TABLE _archive_raw DROP COLUMN codec")
        conn.execute("DROP TABLE _archive_dictionaries")
        conn.execute("PRAGMA user_version = 1")
        conn.execute("COMMIT")
        columns = [r[1] for r in conn.execute("PRAGMA table_info(_archive_raw)")]
    assert "codec" not in columns


def test_new_raw_rows_are_zstd_frames_any_zstd_decoder_reads(database: Path) -> None:
    run(database, [schema("s", PROPERTIES), record("s", {"id": 1, "name": "déjà vu 🙂"})])
    [(name, raw)] = rows(database, "SELECT codec, raw FROM _archive_raw")
    assert name == "zstd"
    # The README's recipe: a plain zstd decoder, no size given (the frame records it).
    text = zstandard.ZstdDecompressor().decompress(raw).decode()
    assert json.loads(text) == {"id": 1, "name": "déjà vu 🙂"}


def test_an_archive_of_the_previous_format_is_upgraded_and_reads_back(database: Path) -> None:
    run(database, [schema("s", PROPERTIES), record("s", {"id": 1, "name": "first"})])
    _as_previous_format(database)

    # Read as it is (the reader upgrades it on opening): the old row is zlib, and says so.
    with opened(database) as store:
        assert [raw for _at, raw in store.raw_versions("s")] == ['{"id": 1, "name": "first"}']
    # Written to again: the new version is zstd beside the old zlib one.
    run(database, [schema("s", PROPERTIES), record("s", {"id": 1, "name": "second"})])
    assert [c for (c,) in rows(database, "SELECT codec FROM _archive_raw ORDER BY 1")] == [
        "zlib",
        "zstd",
    ]
    with opened(database) as store:
        texts = [json.loads(raw)["name"] for _at, raw in store.raw_versions("s", "[1]")]
        assert texts == ["first", "second"]
        assert store.read_records("s") == {"[1]": {"id": 1, "name": "second"}}
    # The README's recipe in SQL terms works on both rows.
    for name, raw in rows(database, "SELECT codec, raw FROM _archive_raw"):
        text = (
            zlib.decompress(raw) if name == "zlib" else zstandard.ZstdDecompressor().decompress(raw)
        )
        assert json.loads(text)["id"] == 1
    # And the README's recipe as written reads both.
    assert [json.loads(text)["name"] for text in readme_raw_texts(database, "s")] == [
        "first",
        "second",
    ]


def test_opening_an_upgraded_archive_again_changes_nothing(database: Path) -> None:
    run(database, [schema("s", PROPERTIES), record("s", {"id": 1, "name": "a"})])
    _as_previous_format(database)
    for _ in range(2):
        with opened(database):
            pass
    columns = [r[1] for r in rows(database, "PRAGMA table_info(_archive_raw)")]
    assert columns.count("codec") == 1
    assert rows(database, "PRAGMA user_version") == [(sql.FORMAT,)]


TICKET = {
    "id": {"type": "integer"},
    "subject": {"type": "string"},
    "body": {"type": "string"},
    "state": {"type": "string"},
}
WORDS = [
    "refund",
    "invoice",
    "login",
    "password",
    "export",
    "webhook",
    "billing",
    "shipping",
    "account",
]


def _tickets(first: int, count: int) -> list[dict[str, t.Any]]:
    """Synthetic records of ~350 bytes, alike in shape as a stream's records are."""
    return [
        {
            "id": n,
            "subject": f"{WORDS[n % 9]} question {n}",
            "body": " ".join(WORDS[(n * k) % 9] for k in range(40)) + f" ticket {n}",
            "state": ["open", "closed", "snoozed"][n % 3],
        }
        for n in range(first, first + count)
    ]


def test_a_stream_with_enough_versions_gets_a_dictionary_its_rows_name(database: Path) -> None:
    messages = [schema("tickets", TICKET), *(record("tickets", r) for r in _tickets(0, 600))]
    run(database, messages, batch_size_rows=1_000)
    [(dict_id, stream)] = rows(database, "SELECT dict_id, stream FROM _archive_dictionaries")
    assert (dict_id, stream) == (codec.FIRST_DICTIONARY_ID, "tickets")
    raws = rows(database, "SELECT codec, raw FROM _archive_raw ORDER BY version_id")
    assert {name for name, _raw in raws} == {"zstd-dict"}
    assert {zstandard.get_frame_parameters(raw).dict_id for _n, raw in raws} == {dict_id}
    # Read back three ways: the reader, the README's recipe, and a plain zstd decoder that
    # is given the dictionary (as `zstd -d -D` is).
    expected = [json.dumps(r) for r in _tickets(0, 600)]
    with opened(database) as store:
        assert [json.loads(raw) for _at, raw in store.raw_versions("tickets")] == [
            json.loads(e) for e in expected
        ]
    assert [json.loads(x) for x in readme_raw_texts(database, "tickets")] == [
        json.loads(e) for e in expected
    ]
    [(data,)] = rows(database, "SELECT dictionary FROM _archive_dictionaries")
    plain = zstandard.ZstdDecompressor(dict_data=zstandard.ZstdCompressionDict(data))
    assert json.loads(plain.decompress(raws[7][1])) == _tickets(7, 1)[0]
    # Smaller: the dictionary holds what every record repeats.
    stored = sum(len(raw) for _n, raw in raws)
    assert stored * 3 < sum(len(e) for e in expected)

    # A later run uses the stream's dictionary; no second one is trained.
    run(database, [schema("tickets", TICKET), *(record("tickets", r) for r in _tickets(600, 5))])
    assert rows(database, "SELECT count(*) FROM _archive_dictionaries") == [(1,)]
    newest = rows(database, "SELECT codec FROM _archive_raw ORDER BY version_id DESC LIMIT 5")
    assert newest == [("zstd-dict",)] * 5


def test_a_stream_with_few_versions_stays_plain_zstd(database: Path) -> None:
    messages = [schema("tickets", TICKET), *(record("tickets", r) for r in _tickets(0, 50))]
    run(database, messages)
    assert rows(database, "SELECT count(*) FROM _archive_dictionaries") == [(0,)]
    assert set(rows(database, "SELECT codec FROM _archive_raw")) == {("zstd",)}


def _entries(plan: TablePlan, first: int) -> list[WriteEntry]:
    """A batch as the writer gets it: 600 versions, uncompressed, enough to train on."""
    return [
        WriteEntry(
            row_id=f"[{r['id']}]",
            sha=r["id"].to_bytes(16, "big"),
            raw=json.dumps(r).encode(),
            version=None,
            received_at="2026-01-01T00:00:00+00:00",
            values=[r[column.path[0]] for column in plan.columns],
            children={},
            deleted_at=None,
            merged_into=None,
        )
        for r in _tickets(first, 600)
    ]


def test_a_dictionary_trained_in_a_rolled_back_transaction_is_forgotten(database: Path) -> None:
    store = ArchiveStore(str(database), compression_level=1)
    plan = store.plan("tickets", {"type": "object", "properties": TICKET})
    try:
        with contextlib.suppress(RuntimeError), store.transaction():
            store.write_batch("tickets", plan, ("id",), _entries(plan, 0))
            raise RuntimeError("rolled back")
        assert rows(database, "SELECT count(*) FROM _archive_dictionaries") == [(0,)]
        # The next batch trains (and stores) its own dictionary; its rows read back with it.
        with store.transaction():
            store.write_batch("tickets", plan, ("id",), _entries(plan, 1_000))
    finally:
        store.close()
    assert rows(database, "SELECT count(*) FROM _archive_dictionaries") == [(1,)]
    with opened(database) as reader:
        texts = [json.loads(raw)["id"] for _at, raw in reader.raw_versions("tickets")]
    assert texts == list(range(1_000, 1_600))


def test_two_writers_of_one_file_never_give_two_dictionaries_one_id(database: Path) -> None:
    """The id is taken inside the write transaction (a webhook follower and a scheduled run
    may write the same archive), not from what a writer read when it opened the file."""
    first = ArchiveStore(str(database), compression_level=1)
    second = ArchiveStore(str(database), compression_level=1)  # opened before any dictionary
    try:
        for store, stream in ((first, "tickets"), (second, "tickets_copy")):
            plan = store.plan(stream, {"type": "object", "properties": TICKET})
            with store.transaction():
                store.write_batch(stream, plan, ("id",), _entries(plan, 0))
    finally:
        first.close()
        second.close()
    found = rows(database, "SELECT dict_id, stream FROM _archive_dictionaries ORDER BY 1")
    assert found == [(32_768, "tickets"), (32_769, "tickets_copy")]
    with opened(database) as reader:
        for stream in ("tickets", "tickets_copy"):
            texts = [json.loads(raw)["id"] for _at, raw in reader.raw_versions(stream)]
            assert texts == list(range(600))


def test_the_target_compresses_a_stream_once_the_writer_reported_its_dictionary(
    database: Path, monkeypatch: pytest.MonkeyPatch
) -> None:
    """The writer trains a stream's dictionary and reports it after that COMMIT; the target's
    later jobs carry that stream's raw versions compressed with it, which the writer stores
    as they are. Every version reads back, by the reader and by the README's recipe."""
    sent: list[str | None] = []

    def encode_and_note(job: Job, plans: t.Any, compressor: t.Any = None) -> tuple[t.Any, ...]:
        message = batch.encode(job, plans, compressor)
        sent.extend(codec_name for _s, _p, _schema, _k, codec_name, _rows in message[0])
        return message

    monkeypatch.setattr(committer, "encode", encode_and_note)
    tickets = _tickets(0, 3_000)
    messages = [schema("tickets", TICKET), *(record("tickets", r) for r in tickets)]
    run(database, messages, batch_size_rows=500)
    # The first jobs go as received (the first trains the dictionary; the second was encoded
    # before its reply came), the later ones compressed by the target.
    assert sent[0] is None
    assert sent[-1] == codec.ZSTD_DICT
    assert sent.count(codec.ZSTD_DICT) >= 3
    [(dict_id,)] = rows(database, "SELECT dict_id FROM _archive_dictionaries")
    raws = rows(database, "SELECT codec, raw FROM _archive_raw ORDER BY version_id")
    assert {name for name, _raw in raws} == {codec.ZSTD_DICT}
    assert {zstandard.get_frame_parameters(raw).dict_id for _n, raw in raws} == {dict_id}
    with opened(database) as store:
        assert [json.loads(raw) for _at, raw in store.raw_versions("tickets")] == tickets
    assert [json.loads(x) for x in readme_raw_texts(database, "tickets")] == tickets


def test_encode_compresses_only_the_streams_with_a_dictionary() -> None:
    compressor = codec.RawCompressor(1)
    texts = [json.dumps(r).encode() for r in _tickets(0, 600)]
    trained = compressor.train("tickets", texts, codec.FIRST_DICTIONARY_ID)
    assert trained is not None
    plan = normalize.build_plan({"type": "object", "properties": TICKET}, ())
    entry = batch.Entry("[1]", b"s" * 16, texts[1], None, "2026-01-01T00:00:00+00:00", [], {})
    job = Job(
        batches=[
            batch.StreamBatch("tickets", plan, ("id",), [entry]),
            batch.StreamBatch("notes", plan, ("id",), [entry]),
        ]
    )
    decoded = batch.decode(batch.encode(job, {}, compressor))
    tickets, notes = decoded.batches
    assert tickets.codec == codec.ZSTD_DICT
    decoder = codec.RawDecoder(lambda: [trained])
    assert decoder.text(codec.ZSTD_DICT, tickets.entries[0].raw) == texts[1]
    assert (notes.codec, notes.entries[0].raw) == (None, texts[1])
    # Without a compressor (or before any dictionary) every text goes as received.
    assert {b.codec for b in batch.decode(batch.encode(job, {})).batches} == {None}


def test_the_writer_tells_each_dictionary_once(database: Path) -> None:
    store = ArchiveStore(str(database), compression_level=1)
    plan = store.plan("tickets", {"type": "object", "properties": TICKET})
    try:
        assert store.take_dictionaries() == []
        with store.transaction():
            store.write_batch("tickets", plan, ("id",), _entries(plan, 0))
        [told] = store.take_dictionaries()
        assert (told.dict_id, told.stream) == (codec.FIRST_DICTIONARY_ID, "tickets")
        assert store.take_dictionaries() == []
    finally:
        store.close()
    # A writer opening the archive later tells the newest dictionary of each stream.
    again = ArchiveStore(str(database), compression_level=1)
    try:
        assert [(d.dict_id, d.stream) for d in again.take_dictionaries()] == [
            (codec.FIRST_DICTIONARY_ID, "tickets")
        ]
    finally:
        again.close()
