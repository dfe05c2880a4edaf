"""Full-text search over the archive's FTS5 tables, merged into one ranking.

Which tables are searchable comes from the archive itself: every FTS5 table `<table>_fts`
(the name `target-sqlite-archive/README.md` documents), reading its content table and rowid
from its declaration. A hit in a part (`conversation_parts`, `ticket_parts`) points at its
conversation or ticket and carries `part_id`.

bm25 scores of different FTS tables are not comparable (each has its own document count and
lengths), so the tables' rankings are merged by **reciprocal rank fusion**: a hit ranked r-th
(from 1) in its own table scores 1 / (60 + r), the constant of Cormack, Clarke and Büttcher
(2009); the merged list is ordered by that score, ties by the order of `STREAMS`. No score of
one table is ever compared with another's. Within a table, bm25 ranks at most the
`CANDIDATES` most recently archived matches, more when deleted rows take their places.
"""

# S608: SQL text here is built only from quoted identifiers and constants; values are bound.
# ruff: noqa: S608

from __future__ import annotations

import json
import re
import sqlite3
from dataclasses import asdict, dataclass
from typing import Any

from intercom_archive.archive import column_names, quote_identifier, table_names
from intercom_archive.encryption import OPERATIONAL_ERRORS
from intercom_archive.text import plain_text

# The streams a hit can name, in the order that breaks ties.
STREAMS = ("conversations", "tickets", "contacts", "articles")
# Tables whose rows are parts of another stream's record: table -> (stream, parent key column).
PARTS = {
    "conversation_parts": ("conversations", "conversation_id"),
    "ticket_parts": ("tickets", "ticket_id"),
}
RRF_K = 60
# The most rows of one index that bm25 ranks for a query: FTS5 scores every match before it
# sorts, so a common word (a third of two million parts) would take seconds. A query with more
# matches is ranked among its CANDIDATES most recently archived ones (the highest rowids).
CANDIDATES = 1000
_OPTION = re.compile(r"""(content|content_rowid)\s*=\s*(?:'([^']*)'|"([^"]*)"|([A-Za-z0-9_]+))""")


class QueryRejected(Exception):
    """FTS5 refused a --raw query; the message is SQLite's, in one line."""


@dataclass(frozen=True)
class Hit:
    stream: str
    id: str
    snippet: str
    part_id: str | None = None
    table: str = ""
    rank: int = 0  # position in its own table's ranking, from 1

    def as_json(self) -> dict[str, Any]:
        out = asdict(self)
        if out["part_id"] is None:
            del out["part_id"]
        return out


@dataclass(frozen=True)
class FtsTable:
    """One FTS5 index: its name, the table it indexes and how their rows correspond."""

    name: str
    table: str  # the stream's table the hits belong to
    content: str  # the table holding the indexed rows (usually `table`)
    content_rowid: str

    @property
    def stream(self) -> str:
        return PARTS.get(self.table, (self.table, ""))[0]


def literal_query(text: str) -> str | None:
    """Every whitespace-separated term as an FTS5 string (quotes doubled), all required.

    Quotes, `*`, `AND`, `(`, `-`, `@`, emoji and SQL are then text for the tokenizer, never
    syntax. A term without a letter or digit can match nothing and is dropped; None when
    nothing is left.
    """
    terms = [t for t in text.split() if any(ch.isalnum() for ch in t)]
    if not terms:
        return None
    return " ".join('"' + term.replace('"', '""') + '"' for term in terms)


def _options(sql: str) -> dict[str, str]:
    found: dict[str, str] = {}
    for match in _OPTION.finditer(sql):
        key = match.group(1)
        found[key] = next(g for g in match.groups()[1:] if g is not None)
    return found


def fts_tables(connection: sqlite3.Connection) -> list[FtsTable]:
    """The FTS5 tables `<table>_fts` whose table exists, in the order of STREAMS."""
    present = table_names(connection)
    found = []
    rows = connection.execute(
        "SELECT name, sql FROM sqlite_master WHERE type = 'table' AND name LIKE '%\\_fts' "
        "ESCAPE '\\' AND sql LIKE '%USING fts5%'"
    )
    for name, sql in rows:
        table = name[: -len("_fts")]
        options = _options(sql or "")
        content = options.get("content") or table
        if table not in present or content not in present:
            continue
        found.append(FtsTable(name, table, content, options.get("content_rowid") or "rowid"))
    order = {stream: i for i, stream in enumerate(STREAMS)}
    return sorted(found, key=lambda f: (order.get(f.stream, len(order)), f.table != f.stream))


def _clean_snippet(snippet: str | None) -> str:
    """FTS5 snippets of HTML bodies: tags (whole or cut at an edge) removed, text decoded."""
    if not snippet:
        return ""
    text = snippet
    first_close, first_open = text.find(">"), text.find("<")
    if first_close != -1 and (first_open == -1 or first_close < first_open):
        text = text[first_close + 1 :]  # the tail of a tag the snippet cut into
    text = re.sub(r"<[^>]*$", "", text)
    return " ".join(plain_text(text).split())


def _live_filter(
    connection: sqlite3.Connection, fts: FtsTable, present: set[str]
) -> tuple[list[str], list[str]]:
    """The key columns of a hit's row and the conditions that keep deleted records out."""
    content_columns = column_names(connection, fts.content)
    parent = PARTS.get(fts.table)
    keys = [parent[1], "id"] if parent else ["id"]
    if any(k not in content_columns for k in keys):
        return [], []
    live = []
    if "_sdc_deleted_at" in content_columns:
        live.append("r._sdc_deleted_at IS NULL")
    owner_key = f"r.{quote_identifier(parent[1])}" if parent else "r.id"
    stream = fts.stream
    owner_columns = column_names(connection, stream) if parent and stream in present else set()
    if "_sdc_deleted_at" in owner_columns:
        # `_sdc_id` (the key as a JSON array) is the archive's unique, indexed key column.
        match_owner = (
            f"o._sdc_id = json_array({owner_key})"
            if "_sdc_id" in owner_columns
            else f"o.id = {owner_key}"
        )
        live.append(
            f"NOT EXISTS (SELECT 1 FROM {quote_identifier(stream)} AS o "
            f"WHERE {match_owner} AND o._sdc_deleted_at IS NOT NULL)"
        )
    if stream == "conversations" and "deleted_conversations" in present:
        live.append(f"{owner_key} NOT IN (SELECT id FROM deleted_conversations)")
    return keys, live


def _search_table(
    connection: sqlite3.Connection,
    fts: FtsTable,
    match: str,
    limit: int,
    include_deleted: bool,
    present: set[str],
) -> list[Hit]:
    """The table's best `limit` live hits.

    In two steps, because FTS5 ranks from the index alone but a snippet re-reads its row: the
    index's top rowids first (more when some turn out deleted), then keys and snippets for
    those rows only. A common word matches hundreds of thousands of parts; only the top ones
    are ever joined or snippeted.
    """
    keys, live = _live_filter(connection, fts, present)
    if not keys:
        return []
    index = quote_identifier(fts.name)
    newest = f"SELECT rowid FROM {index} WHERE {index} MATCH ? ORDER BY rowid DESC LIMIT 1 OFFSET ?"
    top = f"SELECT rowid FROM {index} WHERE {index} MATCH ? AND rowid >= ? ORDER BY rank LIMIT ?"
    rows_sql = (
        f"SELECT r.{quote_identifier(fts.content_rowid)}, "
        + ", ".join(f"r.{quote_identifier(k)}" for k in keys)
        + f" FROM {quote_identifier(fts.content)} AS r "
        f"WHERE r.{quote_identifier(fts.content_rowid)} IN (SELECT value FROM json_each(?))"
        + ("" if include_deleted else "".join(f" AND {c}" for c in live))
    )
    candidates = CANDIDATES
    while True:
        # The candidates-th newest match bounds the rows bm25 scores (FTS5 applies a rowid
        # range inside the index); with fewer matches, all are ranked.
        cut = connection.execute(newest, (match, candidates - 1)).fetchone()
        floor = cut[0] if cut else -(2**63)
        wanted = limit
        while True:
            ranked = [row[0] for row in connection.execute(top, (match, floor, wanted))]
            found = {r[0]: r[1:] for r in connection.execute(rows_sql, (json.dumps(ranked),))}
            chosen = [rowid for rowid in ranked if rowid in found][:limit]
            if len(chosen) >= limit or len(ranked) < wanted:
                break
            wanted *= 4  # deleted rows took places in the top: look further down
        if len(chosen) >= min(limit, candidates) or cut is None:
            break
        # Deleted rows took the candidates' places (the newest matches were deleted) and older
        # matches exist: widen the candidates rather than miss the live ones.
        candidates *= 4
    # The rowid range lets FTS5 visit only the chosen rows' stretch of the index; the IN list
    # alone is checked after FTS5 has produced every match.
    snippets = dict(
        connection.execute(
            f"SELECT rowid, snippet({index}, -1, '[', ']', '…', 12) FROM {index} "
            f"WHERE {index} MATCH ? AND rowid BETWEEN ? AND ? "
            "AND rowid IN (SELECT value FROM json_each(?))",
            (match, min(chosen, default=0), max(chosen, default=0), json.dumps(chosen)),
        ).fetchall()
    )
    hits = []
    for position, rowid in enumerate(chosen, start=1):
        row = found[rowid]
        snippet = _clean_snippet(snippets.get(rowid))
        if fts.table in PARTS:
            hits.append(Hit(fts.stream, str(row[0]), snippet, str(row[1]), fts.table, position))
        else:
            hits.append(Hit(fts.stream, str(row[0]), snippet, None, fts.table, position))
    return hits


def merge(rankings: list[list[Hit]], limit: int) -> list[Hit]:
    """Reciprocal rank fusion of per-table rankings (see the module's docstring)."""
    order = {stream: i for i, stream in enumerate(STREAMS)}
    scored = []
    for table_index, ranking in enumerate(rankings):
        for hit in ranking:
            score = 1.0 / (RRF_K + hit.rank)
            scored.append((-score, order.get(hit.stream, len(order)), table_index, hit.rank, hit))
    scored.sort(key=lambda entry: entry[:4])
    return [entry[4] for entry in scored[:limit]]


def search(
    connection: sqlite3.Connection,
    query: str,
    *,
    limit: int = 20,
    stream: str | None = None,
    raw: bool = False,
    include_deleted: bool = False,
) -> list[Hit]:
    """Hits for `query`, best first; [] when nothing matches (or nothing is searchable)."""
    match = query if raw else literal_query(query)
    if match is None or limit <= 0:
        return []
    present = table_names(connection)
    tables = [f for f in fts_tables(connection) if stream is None or f.stream == stream]
    rankings = []
    for fts in tables:
        try:
            rankings.append(_search_table(connection, fts, match, limit, include_deleted, present))
        except OPERATIONAL_ERRORS as error:
            if raw:
                raise QueryRejected(str(error).splitlines()[0]) from None
            raise
    return merge(rankings, limit)
