"""The analyst views: SQL shipped in `sql/`, installed only over the tables that exist.

A view that names a missing table breaks SQLite's `ALTER TABLE … RENAME` (and the writer
rebuilds tables), and the archive creates child tables only when their first row arrives. So
each file says which tables it `requires` (the view is skipped while one is missing) and which
it can do without (`optional`, with the columns it reads): a missing optional table is replaced
by an empty CTE of the same name inside the view, and the view remembers that in a comment.
`install_views` (the `views` command, run after every sync) recreates every view, so a table
that appeared since is then read for real; `stale_views` tells when that is due.

SQL that several views share is written once, in `sql/_fragments.sql`, and put in place of
`{{name(arguments)}}` when the views are read (`expand`).
"""

from __future__ import annotations

import re
import sqlite3
from dataclasses import dataclass, field
from importlib import resources

from intercom_archive.archive import quote_identifier, table_names
from intercom_archive.encryption import OPERATIONAL_ERRORS

_STUB_MARK = "/* intercom-archive: empty stand-ins for missing tables: "
_HEADER = re.compile(r"^--\s*(requires|optional):\s*(.*)$")
_OPTIONAL = re.compile(r"^([A-Za-z0-9_]+)\((.*)\)$")
_FRAGMENT = re.compile(r"^-- fragment ([a-z_]+)\(([^)]*)\):", re.MULTILINE)
_USE = re.compile(r"\{\{([a-z_]+)\(([^)]*)\)\}\}")
_FRAGMENTS_FILE = "_fragments.sql"


@dataclass(frozen=True)
class ViewDefinition:
    name: str
    description: str
    requires: tuple[str, ...]
    optional: dict[str, tuple[str, ...]] = field(default_factory=dict)
    body: str = ""


def parse_definition(text: str) -> ViewDefinition:
    """`-- name: what it is`, then `-- requires:` / `-- optional: t(a, b)` lines, then SQL."""
    lines = text.strip().splitlines()
    first = lines[0].removeprefix("--").strip()
    name, _, description = first.partition(":")
    requires: list[str] = []
    optional: dict[str, tuple[str, ...]] = {}
    body: list[str] = []
    for line in lines[1:]:
        header = _HEADER.match(line.strip())
        if header and not body:
            kind, value = header.groups()
            if kind == "requires":
                requires += [t.strip() for t in value.split(",") if t.strip()]
            else:
                match = _OPTIONAL.match(value.strip())
                if not match:
                    raise ValueError(f"view {name}: bad optional line {line!r}")
                columns = tuple(c.strip() for c in match.group(2).split(",") if c.strip())
                optional[match.group(1)] = columns
        else:
            body.append(line)
    return ViewDefinition(
        name.strip(), description.strip(), tuple(requires), optional, "\n".join(body).strip()
    )


def parse_fragments(text: str) -> dict[str, tuple[int, str]]:
    """`-- fragment name(a, b): what it is` headers, each followed by its SQL: name -> (the
    number of arguments, the SQL with `{0}`, `{1}` … for them)."""
    found: dict[str, tuple[int, str]] = {}
    headers = list(_FRAGMENT.finditer(text))
    for header, following in zip(headers, [*headers[1:], None], strict=True):
        end = following.start() if following else len(text)
        # The header's description runs to the end of its line; the SQL follows.
        body = text[header.end() : end].partition("\n")[2].strip()
        arguments = [a for a in header.group(2).split(",") if a.strip()]
        found[header.group(1)] = (len(arguments), body)
    return found


def expand(sql: str, fragments: dict[str, tuple[int, str]]) -> str:
    """Every `{{name(x, y)}}` in `sql` replaced by that fragment with x for {0}, y for {1}."""

    def one(use: re.Match[str]) -> str:
        name = use.group(1)
        arguments = [a.strip() for a in use.group(2).split(",") if a.strip()]
        if name not in fragments or fragments[name][0] != len(arguments):
            raise ValueError(f"no SQL fragment {name} of {len(arguments)} arguments")
        text = fragments[name][1]
        for index, argument in enumerate(arguments):
            text = text.replace("{" + str(index) + "}", argument)
        # Indented as the line it is used on, so the installed view reads as written.
        line = sql[sql.rfind("\n", 0, use.start()) + 1 : use.start()]
        return text.replace("\n", "\n" + line[: len(line) - len(line.lstrip())])

    return _USE.sub(one, sql)


def definitions() -> list[ViewDefinition]:
    folder = resources.files("intercom_archive").joinpath("sql")
    fragments = parse_fragments(folder.joinpath(_FRAGMENTS_FILE).read_text(encoding="utf-8"))
    return [
        parse_definition(expand(entry.read_text(encoding="utf-8"), fragments))
        for entry in sorted(folder.iterdir(), key=lambda e: e.name)
        if entry.name.endswith(".sql") and entry.name != _FRAGMENTS_FILE
    ]


def view_sql(definition: ViewDefinition, present: set[str]) -> str | None:
    """The CREATE VIEW statement for the tables `present`, or None while a required one lacks."""
    if any(table not in present for table in definition.requires):
        return None
    missing = [t for t in definition.optional if t not in present]
    head = f"CREATE VIEW {quote_identifier(definition.name)} AS\n"
    if not missing:
        return head + definition.body
    stubs = []
    for table in missing:
        columns = definition.optional[table]
        names = ", ".join(quote_identifier(c) for c in columns)
        nulls = ", ".join("NULL" for _ in columns)
        stubs.append(f"{quote_identifier(table)}({names}) AS (SELECT {nulls} WHERE 0)")
    return f"{head}{_STUB_MARK}{', '.join(missing)} */\nWITH {', '.join(stubs)}\n{definition.body}"


@dataclass(frozen=True)
class ViewResult:
    name: str
    status: str  # "created", "skipped"
    detail: str = ""


def install_views(connection: sqlite3.Connection) -> list[ViewResult]:
    """Drop and recreate every view in one transaction; the only write of the read side."""
    results: list[ViewResult] = []
    connection.execute("BEGIN IMMEDIATE")
    try:
        present = table_names(connection)
        for definition in definitions():
            connection.execute(f"DROP VIEW IF EXISTS {quote_identifier(definition.name)}")
            sql = view_sql(definition, present)
            if sql is None:
                needed = [t for t in definition.requires if t not in present]
                results.append(
                    ViewResult(definition.name, "skipped", f"needs table {', '.join(needed)}")
                )
                continue
            try:
                connection.execute(sql)
            except OPERATIONAL_ERRORS as error:
                results.append(ViewResult(definition.name, "skipped", str(error)))
                continue
            missing = [t for t in definition.optional if t not in present]
            detail = f"without {', '.join(missing)} (not in the archive yet)" if missing else ""
            results.append(ViewResult(definition.name, "created", detail))
        connection.execute("COMMIT")
    except BaseException:
        connection.execute("ROLLBACK")
        raise
    return results


def stale_views(connection: sqlite3.Connection) -> list[str]:
    """Views to recreate: installed with a stand-in for a table that now exists, or missing
    although their required tables are there."""
    present = table_names(connection)
    installed = {
        row[0]: row[1] or ""
        for row in connection.execute("SELECT name, sql FROM sqlite_master WHERE type = 'view'")
    }
    stale = []
    for definition in definitions():
        sql = installed.get(definition.name)
        if sql is None:
            if view_sql(definition, present) is not None:
                stale.append(definition.name)
            continue
        if _STUB_MARK in sql:
            stubbed = sql.split(_STUB_MARK, 1)[1].split("*/", 1)[0]
            if any(t.strip() in present for t in stubbed.split(",")):
                stale.append(definition.name)
    return stale
