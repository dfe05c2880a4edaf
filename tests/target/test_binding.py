"""The writer's binding fast path (connection.bind_without_adapting) stores what plain binding
stores, in both bindings (sqlite3 and sqlcipher3)."""

from __future__ import annotations

import sqlite3
import subprocess
import sys

import pytest
import sqlcipher3

ROW = (None, b"\x00\xffblob", True, False, 7, 2.5, "text", bytearray(b"ba"))


def _stored(module: object) -> list[tuple[object, ...]]:
    conn = module.connect(":memory:")  # type: ignore[attr-defined]
    conn.execute("CREATE TABLE t (a, b, c, d, e, f, g, h)")
    conn.executemany("INSERT INTO t VALUES (?, ?, ?, ?, ?, ?, ?, ?)", [ROW])
    rows = conn.execute("SELECT *, typeof(a), typeof(b), typeof(c) FROM t").fetchall()
    conn.close()
    return rows


@pytest.mark.parametrize("module", [sqlite3, sqlcipher3], ids=["sqlite3", "sqlcipher3"])
def test_the_same_values_are_stored(module: object) -> None:
    # In a child interpreter: the registration is process-wide.
    name = module.__name__  # type: ignore[attr-defined]
    code = (
        f"import {name} as m, tests.target.test_binding as t\n"
        "from target_sqlite_archive.connection import bind_without_adapting\n"
        "before = t._stored(m)\n"
        "bind_without_adapting()\n"
        "after = t._stored(m)\n"
        "assert before == after, (before, after)\n"
        "print(after)\n"
    )
    out = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=False)
    assert out.returncode == 0, out.stderr
    assert "'null', 'blob', 'integer'" in out.stdout


def test_the_writer_binds_without_adapting() -> None:
    code = (
        "import target_sqlite_archive.writer as w\n"
        "calls = []\n"
        "w.bind_without_adapting = lambda: calls.append(1)\n"
        "w.main()\n"
        "assert calls == [1]\n"
    )
    out = subprocess.run(
        [sys.executable, "-c", code],
        capture_output=True,
        text=True,
        check=False,
        stdin=subprocess.DEVNULL,
    )
    assert out.returncode == 0, out.stderr
