"""What a stream's tables need beyond its columns: links, indexes, full-text search (pure).

They come from `x-` keywords of the stream's JSON Schema, which other targets ignore, and the
target's settings add to them or override them, so a tap describes its streams once:

- `x-full-text-search`: property paths (dotted, e.g. `source.body`; into a free-form JSON
  object too, e.g. `ticket_attributes._default_title_`) whose text the stream's `<table>_fts`
  table indexes. The setting `full_text_search: {stream: [paths]}` replaces a stream's list
  (`[]` turns it off).
- `x-indexes`: property paths to index, or `{"path": ..., "case_folded": true}` for an index
  that a `= ? COLLATE NOCASE` lookup uses. The setting `indexes: {stream: [...]}` adds to it.
- `x-links`: `{property path: "stream.property"}`, a foreign key to another stream's table.
- `x-part-of`: a property of `x-links` whose linked record owns this one: a tombstone for
  that record marks this stream's rows too (a conversation's parts).
"""

from __future__ import annotations

import typing as t
from dataclasses import dataclass

Path = tuple[str, ...]

SEARCH = "x-full-text-search"
INDEXES = "x-indexes"
LINKS = "x-links"
PART_OF = "x-part-of"


@dataclass(frozen=True, slots=True)
class Index:
    path: Path
    case_folded: bool = False


@dataclass(frozen=True, slots=True)
class Link:
    path: Path  # the property of this stream
    stream: str  # the stream it points at
    key: str  # that stream's key property


@dataclass(frozen=True, slots=True)
class Hints:
    """What one stream's tables get besides their columns."""

    search: tuple[Path, ...] = ()
    indexes: tuple[Index, ...] = ()
    links: tuple[Link, ...] = ()
    part_of: Link | None = None


class AnnotationError(ValueError):
    """An annotation or setting has the wrong shape; the message names it."""


def _path(value: t.Any, where: str) -> Path:
    if not isinstance(value, str) or not value or any(not p for p in value.split(".")):
        msg = f"{where}: {value!r} is not a dotted property path"
        raise AnnotationError(msg)
    return tuple(value.split("."))


def _index(value: t.Any, where: str) -> Index:
    if isinstance(value, dict):
        return Index(_path(value.get("path"), where), bool(value.get("case_folded")))
    return Index(_path(value, where))


def _list(value: t.Any, where: str) -> list[t.Any]:
    if value is None:
        return []
    if not isinstance(value, list):
        msg = f"{where}: must be a list, got {value!r}"
        raise AnnotationError(msg)
    return value


def stream_hints(
    stream: str,
    schema: t.Mapping[str, t.Any],
    full_text_search: t.Mapping[str, t.Any] | None = None,
    indexes: t.Mapping[str, t.Any] | None = None,
) -> Hints:
    """A stream's hints from its schema's annotations and the target's two settings."""
    if full_text_search and stream in full_text_search:
        where = f"full_text_search.{stream}"
        search_paths = _list(full_text_search[stream], where)
    else:
        where = f"{stream} schema {SEARCH}"
        search_paths = _list(schema.get(SEARCH), where)
    search = tuple(dict.fromkeys(_path(p, where) for p in search_paths))

    found = [_index(v, f"{stream} schema {INDEXES}") for v in _list(schema.get(INDEXES), "")]
    if indexes and stream in indexes:
        found += [_index(v, f"indexes.{stream}") for v in _list(indexes[stream], "")]

    links = []
    declared = schema.get(LINKS) or {}
    if not isinstance(declared, dict):
        msg = f"{stream} schema {LINKS}: must be an object, got {declared!r}"
        raise AnnotationError(msg)
    for prop, target in declared.items():
        other, _, key = str(target).partition(".")
        if not other or not key:
            msg = f"{stream} schema {LINKS}.{prop}: {target!r} is not 'stream.property'"
            raise AnnotationError(msg)
        links.append(Link(_path(prop, f"{stream} schema {LINKS}"), other, key))
    part_of = None
    owner = schema.get(PART_OF)
    if owner is not None:
        matches = [link for link in links if link.path == _path(owner, PART_OF)]
        if not matches:
            msg = f"{stream} schema {PART_OF}: {owner!r} is not one of its {LINKS}"
            raise AnnotationError(msg)
        part_of = matches[0]
    # Linked properties are looked up by their key: each gets an index.
    found += [Index(link.path) for link in links]
    return Hints(search, tuple(dict.fromkeys(found)), tuple(links), part_of)
