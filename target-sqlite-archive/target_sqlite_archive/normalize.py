"""Record + JSON Schema -> root row + child rows, by one generic algorithm (pure, no SQL).

The schema is compiled once per stream into a `TablePlan` tree; each record is then walked
along that tree:

- an object with declared properties is flattened into its parent's row (`parent__child`
  columns are named later, by the store, from the property path);
- an array becomes a child table whose rows are the array's items, each with a deterministic
  id, the root row's id, its parent row's id and its position; arrays nested in items become
  grandchild tables, at any depth;
- an array of scalars becomes a child table with one `value` column;
- anything whose keys are data rather than schema (an object without declared properties,
  such as Intercom's `custom_attributes`), or whose type is mixed or unknown, becomes one
  JSON text column: queryable with SQLite's `json_extract`/`json_each`, lossless (types are
  kept, unlike a key/value table of text), and it never turns a customer's attribute names
  into DDL.

The same plan drives `assemble`, the inverse used to prove the mapping round-trips.
"""

from __future__ import annotations

import hashlib
import html
import json
import re
import typing as t
from dataclasses import dataclass, field

import orjson

Path = tuple[str, ...]

#: Column kinds. Scalar kinds map to typed SQLite columns; "any" holds strings and numbers as
#: they come (a column without affinity); "json" holds JSON text.
INTEGER = "integer"
NUMBER = "number"
BOOLEAN = "boolean"
STRING = "string"
ANY = "any"
JSON = "json"
#: Not a property's own column: the text a full-text index holds for a property path (markup
#: stripped, entities decoded).
TEXT = "text"
SCALAR_KINDS = frozenset({INTEGER, NUMBER, BOOLEAN, STRING})

# Node entry codes of the extraction tree.
_LEAF = 0
_JSON = 1
_OBJECT = 2
_ARRAY = 3

#: Singer's deletion metadata: a record that sets `_sdc_deleted_at` is a tombstone. They are the
#: root table's own bookkeeping columns, never data columns.
DELETED_AT = "_sdc_deleted_at"
MERGED_INTO = "_sdc_merged_into_id"
TOMBSTONE_FIELDS = frozenset({DELETED_AT, MERGED_INTO})

#: The version of how a record becomes rows for a given plan: raise it when the same record and
#: schema would give other rows (a change to flattening, ids or search text), so that rows an
#: earlier target wrote are written again rather than kept as unchanged (store.py).
LAYOUT_VERSION = 1

EMPTY: dict[str, t.Any] = {}
_TAG = re.compile(r"<[^>]*>")
# Values sqlite3 binds natively; anything else is coerced (only possible with validation off).
PLAIN = frozenset({str, int, float, bool, type(None)})


def dumps(value: t.Any) -> str:
    """Compact JSON text, unicode kept as is (what JSON columns hold)."""
    try:
        return orjson.dumps(value).decode()
    except TypeError:  # integers beyond 64 bits, which orjson refuses
        return json.dumps(value, ensure_ascii=False, separators=(",", ":"))


@dataclass(frozen=True, slots=True)
class Column:
    """A leaf of a table's rows: where it is in the row's object and what kind it is."""

    path: Path  # relative to the row's object; () is the item itself (arrays of scalars)
    kind: str


# A table's compiled extraction: (row values in column order, the child tables' arrays in
# `children` order).
Flatten = t.Callable[[t.Any], tuple[list[t.Any], tuple[t.Any, ...]]]


@dataclass(slots=True)
class TablePlan:
    """How one table's rows are cut out of a record: the root, or one array at any depth."""

    path: Path  # absolute property path of the array from the root record; () for the root
    rel_path: Path  # path of the array relative to the parent row's object; () for the root
    columns: list[Column]
    children: list[TablePlan] = field(default_factory=list)
    scalar: bool = False  # rows are scalar items with one `value` column
    # Extraction tree: entries (name, code, sub) in column order; compiled into `flatten`.
    node: list[tuple[str, int, t.Any]] = field(default_factory=list)
    flatten: Flatten = field(default=lambda _obj: ([], ()))
    # The same extraction with the record's validation in the same pass (checked.py), when
    # the schema allows it.
    checked: Flatten | None = None
    # Unambiguous label of this table inside the record, mixed into child row ids.
    label: str = ""
    # The stream schema the plan was built from (on the root plan): rebuilds it elsewhere.
    schema: dict[str, t.Any] | None = None
    # Property paths whose search text the root row holds, after its data columns (as
    # `TEXT` columns, in this order).
    search: tuple[Path, ...] = ()

    def walk(self) -> t.Iterator[TablePlan]:
        """This plan and every descendant, parents first."""
        yield self
        for child in self.children:
            yield from child.walk()


def schema_types(schema: t.Any) -> set[str]:
    """The non-null JSON types a schema allows (empty if it does not say)."""
    if not isinstance(schema, dict):
        return set()
    types: set[str] = set()
    declared = schema.get("type")
    if isinstance(declared, str):
        types.add(declared)
    elif isinstance(declared, list):
        types.update(x for x in declared if isinstance(x, str))
    for combinator in ("anyOf", "oneOf"):
        for alternative in schema.get(combinator) or ():
            types |= schema_types(alternative)
    types.discard("null")
    return types


def _single_alternative(schema: dict[str, t.Any]) -> dict[str, t.Any]:
    """Unwrap `anyOf: [X, {type: null}]`, the usual way of saying "X or null"."""
    for combinator in ("anyOf", "oneOf"):
        alternatives = schema.get(combinator)
        if isinstance(alternatives, list):
            non_null = [a for a in alternatives if schema_types(a) or "properties" in a]
            if len(non_null) == 1 and isinstance(non_null[0], dict):
                return _single_alternative(non_null[0])
    return schema


def classify(schema: t.Any) -> str:
    """'object' (flatten), 'array' (child table), a scalar kind, or 'json'."""
    if not isinstance(schema, dict):
        return JSON
    schema = _single_alternative(schema)
    types = schema_types(schema)
    properties = schema.get("properties")
    if isinstance(properties, dict) and properties and types <= {"object"}:
        return "object"
    if types == {"array"} and isinstance(schema.get("items"), dict):
        return "array"
    if types == {"integer", "number"}:
        return NUMBER
    if len(types) == 1:
        (only,) = types
        if only in SCALAR_KINDS:
            return only
    if len(types) > 1 and types <= {"string", "integer", "number"}:
        return ANY  # e.g. Intercom ids typed string-or-integer: stored as they come
    return JSON


def build_plan(schema: dict[str, t.Any], search: t.Sequence[Path] = ()) -> TablePlan:
    """Compile a stream's schema into the plan of its root table and all child tables, with
    the search text of `search` paths at the end of the root row."""
    root = TablePlan(path=(), rel_path=(), columns=[], label="[]", schema=schema)
    root.node = _compile_object(root, schema, ())
    for table in root.walk():
        table.flatten = _compile_flatten(table)
    root.search = tuple(search)
    root.columns.extend(Column(path, TEXT) for path in root.search)
    return root


def search_text(value: t.Any) -> str | None:
    """The text a full-text index holds for a value: markup stripped, entities decoded."""
    if value is None:
        return None
    text = value if value.__class__ is str else dumps(value)
    if "<" in text:
        text = _TAG.sub(" ", text)
    if "&" in text:
        text = html.unescape(text)
    return text


def value_at(record: t.Any, path: Path) -> t.Any:
    """The value at a property path, None where the path is absent or not an object."""
    for name in path:
        if record.__class__ is not dict:
            return None
        record = record.get(name)
    return record


def _compile_object(
    table: TablePlan, schema: dict[str, t.Any], prefix: Path
) -> list[tuple[str, int, t.Any]]:
    """Columns and child tables of an object flattened into `table`'s rows at `prefix`."""
    node: list[tuple[str, int, t.Any]] = []
    properties = _single_alternative(schema).get("properties") or {}
    for name, sub in properties.items():
        if not prefix and not table.path and name in TOMBSTONE_FIELDS:
            continue
        path = (*prefix, name)
        kind = classify(sub)
        if kind == "object":
            node.append((name, _OBJECT, _compile_object(table, _single_alternative(sub), path)))
        elif kind == "array":
            table.children.append(_compile_array(table, _single_alternative(sub), path))
            node.append((name, _ARRAY, None))
        else:
            table.columns.append(Column(path, kind))
            node.append((name, _JSON if kind == JSON else _LEAF, kind))
    return node


def _compile_array(parent: TablePlan, schema: dict[str, t.Any], rel_path: Path) -> TablePlan:
    path = (*parent.path, *rel_path)
    items = schema.get("items") or {}
    kind = classify(items)
    child = TablePlan(path=path, rel_path=rel_path, columns=[], label=dumps(list(path)))
    if kind == "object":
        child.node = _compile_object(child, _single_alternative(items), ())
    else:
        # Scalars get a typed `value` column; arrays of arrays and mixed items keep JSON text.
        scalar_kind = "json" if kind == "array" else kind
        child.scalar = True
        child.columns.append(Column((), scalar_kind))
        child.node = [("", _JSON if scalar_kind == JSON else _LEAF, scalar_kind)]
    return child


def coerce(value: t.Any) -> t.Any:
    """A bindable form of a value whose type the schema did not promise (validation off)."""
    if isinstance(value, dict | list):
        return dumps(value)
    return str(value)


def json_text(value: t.Any) -> str | None:
    return None if value is None else dumps(value)


def _compile_flatten(table: TablePlan) -> Flatten:
    """Compile a table's extraction tree into one Python function returning its row values
    and its child tables' arrays.

    Interpreting the tree costs ~0.4 us per column; the compiled function does straight dict
    look-ups, each object fetched once. Property names enter the source only as `repr()`
    string literals.
    """
    lines = ["def flatten(o0):", "    g0 = o0.get if o0.__class__ is dict else _EMPTY.get"]
    values: list[str] = []
    arrays: list[str] = []
    counter = iter(range(1, 1 << 30))

    def emit(node: list[tuple[str, int, t.Any]], getter: str) -> None:
        for name, code, sub in node:
            fetch = "o0" if table.scalar else f"{getter}({name!r})"
            if code == _LEAF:
                values.append(f"(v if (v := {fetch}).__class__ in _PLAIN else _coerce(v))")
            elif code == _JSON:
                values.append(f"_json({fetch})")
            elif code == _ARRAY:
                arrays.append(fetch)
            else:
                n = next(counter)
                lines.append(f"    o{n} = {getter}({name!r})")
                lines.append(f"    g{n} = o{n}.get if o{n}.__class__ is dict else _EMPTY.get")
                emit(sub, f"g{n}")

    emit(table.node, "g0")
    lines.append(f"    return [{', '.join(values)}], ({''.join(a + ', ' for a in arrays)})")
    namespace: dict[str, t.Any] = {
        "_EMPTY": EMPTY,
        "_PLAIN": PLAIN,
        "_coerce": coerce,
        "_json": json_text,
    }
    exec(compile("\n".join(lines), f"<flatten {table.label}>", "exec"), namespace)  # noqa: S102
    return t.cast("Flatten", namespace["flatten"])


def child_row_id(parent_id: str, label: str, position: int) -> str:
    """Deterministic id of an array item: same record, same ids, run after run.

    Parent ids are key JSON or hex and labels are JSON, so neither holds a NUL: the joined
    text is unambiguous.
    """
    text = f"{parent_id}\x00{label}\x00{position}"
    return hashlib.blake2b(text.encode(), digest_size=16).hexdigest()


ChildRows = dict[Path, list[tuple[t.Any, ...]]]


def normalize(
    plan: TablePlan,
    record: dict[str, t.Any],
    root_id: str,
    children_out: ChildRows,
    *,
    checked: bool = False,
) -> list[t.Any]:
    """The root row's column values (in `plan.columns` order) of one record.

    Child rows are appended to `children_out[child.path]` as
    `(_sdc_id, _sdc_root_id, _sdc_parent_id, _sdc_position, *values)`. `checked`: the
    record is validated in the same pass (checked.py's functions; raises InvalidValue).
    """
    flatten = plan.checked if checked else plan.flatten
    assert flatten is not None
    values, arrays = flatten(record)
    if arrays:
        normalize_children(plan, arrays, root_id, root_id, children_out, checked=checked)
    for path in plan.search:
        values.append(search_text(value_at(record, path)))
    return values


def normalize_children(
    table: TablePlan,
    arrays: tuple[t.Any, ...],
    root_id: str,
    parent_id: str,
    out: ChildRows,
    *,
    checked: bool = False,
) -> None:
    """Rows of `table`'s child tables from their arrays (`checked`: each item validated)."""
    for child, items in zip(table.children, arrays, strict=True):
        if items.__class__ is not list or not items:
            continue
        rows = out.setdefault(child.path, [])
        label = child.label
        flatten = child.checked if checked else child.flatten
        assert flatten is not None
        for position, item in enumerate(items):
            row_id = child_row_id(parent_id, label, position)
            values, nested = flatten(item)
            rows.append((row_id, root_id, parent_id, position, *values))
            if nested:
                normalize_children(child, nested, root_id, row_id, out, checked=checked)


def _set_path(obj: dict[str, t.Any], path: Path, value: t.Any) -> None:
    for name in path[:-1]:
        nxt = obj.get(name)
        if not isinstance(nxt, dict):
            nxt = obj[name] = {}
        obj = nxt
    obj[path[-1]] = value


def from_column(kind: str, value: t.Any) -> t.Any:
    """The JSON value a stored column value stands for."""
    if value is None:
        return None
    if kind == JSON:
        return json.loads(value)
    if kind == BOOLEAN and isinstance(value, int):
        return bool(value)
    return value


def assemble_object(columns: t.Sequence[Column], values: t.Sequence[t.Any]) -> dict[str, t.Any]:
    """Inverse of flattening: nested object from a row's leaf values (NULLs left out)."""
    obj: dict[str, t.Any] = {}
    for column, value in zip(columns, values, strict=True):
        if value is not None:
            _set_path(obj, column.path, from_column(column.kind, value))
    return obj


def attach(obj: dict[str, t.Any], rel_path: Path, items: list[t.Any]) -> None:
    """Put a child table's reassembled items back at their place in the parent object."""
    _set_path(obj, rel_path, items)
