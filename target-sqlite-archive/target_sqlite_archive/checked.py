"""Validation and flattening in one pass: one generated function per table does both.

Validating (validate.py) and flattening (normalize.py) each read every property of a record:
two dict look-ups and two calls per property. For schemas in the compiled validator's subset
this module generates, per table of a plan, one function that fetches each property once,
checks it exactly as the validator's code would (the same checks in the same order, the same
messages: the validator's own compiler writes them) and puts it in the row. A schema this
does not handle returns None and the caller validates and flattens apart, as before.
"""

from __future__ import annotations

import typing as t
from decimal import Decimal

from target_sqlite_archive import normalize, validate
from target_sqlite_archive.normalize import JSON, TEXT, TOMBSTONE_FIELDS, TablePlan, classify

if t.TYPE_CHECKING:
    from target_sqlite_archive.normalize import Flatten

# Keywords that make a flattened object or a child-table array more than its properties or
# items: left to the separate pass (none of the project's schemas has them).
_OBJECT_ONLY = frozenset({"items"})
_ARRAY_ONLY = frozenset({"properties", "required", "additionalProperties"})
# Keywords under which a leaf has more to check than its type.
_NESTED = frozenset({"properties", "required", "items", "additionalProperties"})


class _Unsupported(Exception):
    pass


def compile_checked(plan: TablePlan, schema: dict[str, t.Any]) -> bool:
    """Give every table of `plan` its one-pass `checked` function (`normalize(...,
    checked=True)` calls them); False (and nothing changed) when the schema is outside what
    this compiles."""
    if validate.compile_validator(schema) is None:
        return False
    builder = _Builder()
    try:
        names = builder.tables(plan, schema, "data")
    except (_Unsupported, validate.Unsupported):
        return False
    namespace: dict[str, t.Any] = {
        "_MISSING": validate.MISSING,
        "_Decimal": Decimal,
        "_invalid": validate.invalid,
        "_EMPTY": normalize.EMPTY,
        "_PLAIN": normalize.PLAIN,
        "_coerce": normalize.coerce,
        "_json": normalize.json_text,
        **builder.checks.constants,
    }
    source = "\n".join([*builder.checks.lines, *builder.lines])
    exec(compile(source, "<validate and flatten>", "exec"), namespace)  # noqa: S102
    for table, name in names:
        table.checked = t.cast("Flatten", namespace[name])
    return True


class _Builder:
    def __init__(self) -> None:
        self.checks = validate.Compiler()  # writes the check lines, and helper functions
        self.lines: list[str] = []
        self._count = 0

    def _next(self) -> int:
        self._count += 1
        return self._count

    def tables(self, table: TablePlan, schema: t.Any, where: str) -> list[tuple[TablePlan, str]]:
        """Generate the function of `table` (rows cut from values of `schema`) and of each
        of its descendants; their names."""
        name = f"_table{self._next()}"
        body: list[str] = []
        values: list[str] = []
        arrays: list[tuple[str, t.Any, str]] = []  # (variable, items schema, where)
        if table.scalar:
            # A row per scalar item: the item checked as the validator checks `x`.
            body += ["    x = o0", *self.checks.check_value(schema, where, "    ", always=True)]
            [column] = table.columns
            values.append("_json(x)" if column.kind == JSON else _leaf("x"))
        else:
            root = not table.path
            body += self._object("o0", schema, where, "    ", values, arrays, [], root=root)
        if len(values) != sum(1 for c in table.columns if c.kind != TEXT):
            # Not the plan's columns (a shape normalize.py flattens differently): the
            # separate passes handle it.
            raise _Unsupported
        returned = f"[{', '.join(values)}], {_arrays(arrays)}"
        self.lines += [f"def {name}(o0):", *body, f"    return {returned}"]
        names = [(table, name)]
        if len(arrays) != len(table.children):
            raise _Unsupported
        for child, (_var, items, item_where) in zip(table.children, arrays, strict=True):
            names += self.tables(child, items, item_where)
        return names

    def _object(
        self,
        var: str,
        schema: t.Any,
        where: str,
        indent: str,
        values: list[str],
        arrays: list[tuple[str, t.Any, str]],
        assigned: list[str],
        *,
        is_row: bool = True,
        root: bool = False,
    ) -> list[str]:
        """Lines checking the object in `var` and flattening its properties into `values`
        (`root`: the stream's record, whose tombstone fields are checked but are no data
        columns). The variables the lines set are added to `assigned`, each as the statement
        that gives it its value for a missing object."""
        if not isinstance(schema, dict) or _OBJECT_ONLY & set(schema):
            raise _Unsupported
        n = self._next()
        cls = f"c{n}"
        lines = [f"{indent}{cls} = {var}.__class__"]
        # A missing object (only nested ones can be) is not checked, as in the validator.
        guard = indent if is_row else indent + "    "
        checks = self._object_checks(var, cls, schema, where, guard)
        if checks:
            lines += checks if is_row else [f"{indent}if {var} is not _MISSING:", *checks]
        getter = f"g{n}"
        properties = schema.get("properties") or {}
        # A nested object is often absent (a part's `event_details` and its five objects):
        # then every property below it is None (an array: no rows) without a get or a check.
        inner = indent if is_row else indent + "    "
        below: list[str] = []
        props: list[str] = []
        for key, sub in properties.items():
            where_key = f"{where}.{key}"
            if root and key in TOMBSTONE_FIELDS:
                if classify(sub) in ("object", "array"):
                    raise _Unsupported
                # Checked as any property; its value goes to no column (normalize.py).
                props += self._property(getter, key, sub, where_key, inner, [], arrays, below)
                continue
            props += self._property(getter, key, sub, where_key, inner, values, arrays, below)
        if schema.get("additionalProperties", True) is False:
            allowed = self.checks.constant("_KEYS", frozenset(properties))
            props += [
                f"{inner}if {cls} is dict and not {var}.keys() <= {allowed}:",
                f"{inner}    raise _invalid({where!r}, 'without undeclared properties', {var})",
            ]
        assigned += below
        if is_row:
            # A row is an object: anything else has already failed its type check or is
            # flattened as an empty one.
            lines.append(f"{indent}{getter} = {var}.get if {cls} is dict else _EMPTY.get")
            return lines + props
        lines += [f"{indent}if {cls} is dict:", f"{inner}{getter} = {var}.get", *props]
        if below:
            lines += [f"{indent}else:", *(f"{inner}{statement}" for statement in below)]
        return lines

    def _object_checks(
        self, var: str, cls: str, schema: dict[str, t.Any], where: str, indent: str
    ) -> list[str]:
        lines = []
        types = validate.types_of(schema)
        if types is not None:
            test = validate.type_test(types, var, cls)
            expected = " or ".join(types) or "nothing"
            lines += [
                f"{indent}if not ({test}):",
                f"{indent}    raise _invalid({where!r}, {expected!r}, {var})",
            ]
        required = schema.get("required", [])
        if required:
            lines.append(f"{indent}if {cls} is dict:")
            for key in required:
                expected = f"an object with {key!r}"
                lines += [
                    f"{indent}    if {key!r} not in {var}:",
                    f"{indent}        raise _invalid({where!r}, {expected!r}, {var})",
                ]
        return lines

    def _property(
        self,
        getter: str,
        key: str,
        sub: t.Any,
        where: str,
        indent: str,
        values: list[str],
        arrays: list[tuple[str, t.Any, str]],
        assigned: list[str],
    ) -> list[str]:
        kind = classify(sub)
        n = self._next()
        if kind == "object":
            var = f"o{n}"
            lines = [f"{indent}{var} = {getter}({key!r}, _MISSING)"]
            nested = self._object(var, sub, where, indent, values, arrays, assigned, is_row=False)
            return lines + nested
        if kind == "array":
            if _ARRAY_ONLY & set(sub):
                raise _Unsupported
            var = f"a{n}"
            lines = [f"{indent}{var} = {getter}({key!r}, _MISSING)"]
            types = validate.types_of(sub)
            if types is not None:
                test = validate.type_test(types, var, f"{var}.__class__")
                expected = " or ".join(types) or "nothing"
                lines += [
                    f"{indent}if {var} is not _MISSING and not ({test}):",
                    f"{indent}    raise _invalid({where!r}, {expected!r}, {var})",
                ]
            # Items are checked by the child table's function, item by item, as its rows are
            # cut (a missing or non-list value has no rows, and the validator skips it too).
            arrays.append((var, sub["items"], f"{where}[]"))
            assigned.append(f"{var} = _MISSING")
            return lines
        var = f"v{n}"
        value = f"_json({var})" if kind == JSON else _leaf(var)
        types = validate.types_of(sub)
        if set(sub) & _NESTED or (types is not None and len(types) > len(set(types))):
            # Rare shapes: the validator's own lines check `x`.
            lines = [f"{indent}x = {getter}({key!r}, _MISSING)"]
            lines += self.checks.check_value(sub, where, indent)
            lines.append(f"{indent}{var} = None if x is _MISSING else x")
        elif types is None:
            lines = [f"{indent}{var} = {getter}({key!r})"]  # any value
        else:
            test = validate.type_test([n for n in types if n != "null"], var, f"{var}.__class__")
            expected = " or ".join(types) or "nothing"
            fail = f"{indent}    raise _invalid({where!r}, {expected!r}, {var})"
            if "null" in types:  # a missing property reads as None, which is allowed
                lines = [
                    f"{indent}{var} = {getter}({key!r})",
                    f"{indent}if {var} is not None and not ({test}):",
                    fail,
                ]
            else:
                lines = [
                    f"{indent}{var} = {getter}({key!r}, _MISSING)",
                    f"{indent}if {var} is _MISSING:",
                    f"{indent}    {var} = None",
                    f"{indent}elif not ({test}):",
                    fail,
                ]
            if kind != JSON and set(types) <= {"null", "string", "boolean"}:
                value = var  # checked: a str, a bool or None, all bound as they are
        values.append(value)
        assigned.append(f"{var} = None")
        return lines


def _arrays(arrays: list[tuple[str, t.Any, str]]) -> str:
    """The expression of a table function's arrays: `()` when none has an item, so that most
    rows (a part without attachments) skip `normalize_children` altogether."""
    if not arrays:
        return "()"
    names = [var for var, _items, _where in arrays]
    some = " or ".join(f"({var}.__class__ is list and {var})" for var in names)
    return f"(({''.join(v + ', ' for v in names)}) if {some} else ())"


def _leaf(var: str) -> str:
    return f"({var} if {var}.__class__ in _PLAIN else _coerce({var}))"
