"""The READMEs' SQL and view examples run, and return rows, against a synced archive."""

from __future__ import annotations

import re
import sqlite3
from pathlib import Path

import pytest

from tests.read.conftest import Synced

ROOT = Path(__file__).resolve().parents[2]
READMES = (ROOT / "README.md", ROOT / "intercom-archive" / "README.md")
_SQL = re.compile(r"```sql\n(.*?)```", re.DOTALL)


def _examples() -> list[tuple[str, str]]:
    found = []
    for readme in READMES:
        for number, block in enumerate(_SQL.findall(readme.read_text()), start=1):
            found.append((f"{readme.relative_to(ROOT)}#{number}", block))
    return found


EXAMPLES = _examples()


def test_the_readmes_hold_examples_of_tables_and_views() -> None:
    text = "\n".join(block for _, block in EXAMPLES)
    assert "conversations_enhanced" in text
    assert "contacts_enhanced" in text
    assert len(EXAMPLES) >= 5


@pytest.mark.parametrize(("where", "sql"), EXAMPLES, ids=[where for where, _ in EXAMPLES])
def test_example_runs_and_returns_rows(archive: Synced, where: str, sql: str) -> None:
    with sqlite3.connect(f"file:{archive.database}?mode=ro", uri=True) as connection:
        statements = [s for s in sql.split(";") if s.strip() and not _only_comments(s)]
        assert statements, where
        for statement in statements:
            rows = connection.execute(statement).fetchall()
            assert rows, f"{where} returned no rows:\n{statement}"


def _only_comments(statement: str) -> bool:
    return all(not line.strip() or line.strip().startswith("--") for line in statement.splitlines())
