"""The batch contract between the target and its writer process: encode, marshal, decode."""

from __future__ import annotations

import marshal

from target_sqlite_archive.batch import Entry, Job, StreamBatch, WriteEntry, decode, encode
from target_sqlite_archive.normalize import build_plan

SCHEMA = {
    "type": "object",
    "properties": {"id": {"type": "integer"}, "tags": {"type": "array", "items": {}}},
}


def _entry(n: int) -> Entry:
    return Entry(
        row_id=f"[{n}]",
        sha=bytes([n]) * 16,
        raw=f'{{"id":{n},"tags":["a"]}}'.encode(),
        version=7 if n % 2 else None,
        received_at="2026-01-01T00:00:00.000+00:00",
        values=[n],
        children={("tags",): [(f"c{n}", f"[{n}]", f"[{n}]", 0, "a")]},
        deleted_at="2026-01-02T00:00:00+00:00" if n == 3 else None,
        merged_into="[9]" if n == 3 else None,
    )


def test_a_job_survives_the_wire_with_every_field_in_place() -> None:
    plan = build_plan(SCHEMA)
    entries = [_entry(n) for n in range(5)]
    job = Job([StreamBatch("s", plan, ("id",), entries)], activate=("s", 3), state={"b": 1})
    known: dict[int, object] = {}

    wire = marshal.dumps(encode(job, known))  # type: ignore[arg-type]
    decoded = decode(marshal.loads(wire))  # noqa: S302

    assert decoded.activate == ("s", 3)
    assert decoded.state == {"b": 1}
    [sent] = decoded.batches
    assert (sent.stream, sent.plan_id, sent.schema, sent.keys) == ("s", id(plan), SCHEMA, ("id",))
    assert all(isinstance(e, WriteEntry) for e in sent.entries)
    for before, after in zip(entries, sent.entries, strict=True):
        assert tuple(after) == tuple(before)
    assert known == {id(plan): plan}


def test_a_known_plan_is_sent_without_its_schema() -> None:
    plan = build_plan(SCHEMA)
    known: dict[int, object] = {}
    encode(Job([StreamBatch("s", plan, ("id",), [_entry(1)])]), known)  # type: ignore[arg-type]
    again = encode(Job([StreamBatch("s", plan, ("id",), [_entry(2)])]), known)  # type: ignore[arg-type]
    [sent] = decode(again).batches
    assert sent.schema is None
    assert sent.plan_id == id(plan)


def test_the_wire_stays_plain_for_marshal() -> None:
    # marshal refuses NamedTuples and dataclasses: the encoded job must be built-in types only.
    plan = build_plan(SCHEMA)
    message = encode(Job([StreamBatch("s", plan, (), [_entry(1)])]), {})

    def plain(value: object) -> bool:
        if type(value) in (tuple, list):
            return all(plain(v) for v in value)  # type: ignore[attr-defined]
        if type(value) is dict:
            return all(plain(k) and plain(v) for k, v in value.items())
        return type(value) in (str, bytes, int, float, bool, type(None))

    assert plain(message)
    marshal.dumps(message)
