"""A record's Singer conformance and property deselection, compiled once per stream schema.

singer-sdk 0.54 conforms every record by walking its schema again (`conform_record_data_types`
at the RECURSIVE level: properties the schema does not name are dropped and reported, nested
objects and arrays of objects are visited, booleans are coerced) and pops deselected
properties by looking every key up in the selection mask. The tap's parts streams send
hundreds of thousands of records through that walk. Here the schema is read once: a level
whose keys the schema all names and whose values need no coercion is passed through as it is
(the same object, never copied), and only the properties that can change are looked at.

The result equals the SDK's for every record of JSON values, with one deliberate difference:
a non-finite float (NaN, Infinity, which Python's JSON parser accepts) is left as it is, since
the serializer writes it as null, as the SDK's conformance and writer do together. A value
that is not JSON (a datetime, bytes, a Decimal) may come out differently, and the serializer
refuses it, so such a record takes the SDK's own path (see sdk_hooks.SdkStream). A schema that
uses what this compiler does not read (anyOf, allOf, a property without a type) compiles to
None, and its stream keeps the SDK's path. Pure: no I/O.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from typing import Any

#: The unmapped-property paths of a record (the SDK's warning lists them, in record order).
Unmapped = list[str] | tuple[()]
NONE: tuple[()] = ()


class Unsupported(Exception):
    """The schema uses something the compiler does not read: the SDK's path applies."""


def _conform_boolean(value: Any) -> Any:
    """The SDK's coercion of a value whose schema is exactly boolean (or boolean or null)."""
    if value is None or value is True or value is False or isinstance(value, float):
        return value
    if isinstance(value, int | str | list | dict | tuple):
        return value != 0
    return value  # not JSON: the serializer refuses it and the SDK's own path takes the record


def _is_exclusive_boolean(schema: dict[str, Any]) -> bool:
    kind = schema.get("type")
    if kind is None:
        return False
    return kind in ("boolean", ["boolean"]) or set(kind) == {"boolean", "null"}


def _kind(schema: Any) -> str | list[str]:
    """The `type` of a property schema the compiler can read, or Unsupported."""
    if not isinstance(schema, dict) or "anyOf" in schema or "allOf" in schema:
        raise Unsupported
    kind = schema.get("type")
    if isinstance(kind, str) or (isinstance(kind, list) and all(isinstance(k, str) for k in kind)):
        return kind
    raise Unsupported


class ObjectConformer:
    """One object level of a schema: its properties and the steps of those that can change."""

    __slots__ = ("known", "open", "path", "steps", "work")
    work: tuple[tuple[str, ItemsConformer | None, ObjectConformer | None, bool], ...]

    def __init__(self, schema: Mapping[str, Any], path: str | None) -> None:
        properties = schema.get("properties")
        if not isinstance(properties, dict):
            raise Unsupported
        self.known = properties.keys()
        self.open = bool(schema.get("additionalProperties"))
        #: The SDK's dotted path of this level ("" at the record's top).
        self.path = "" if path is None else f"{path}."
        self.steps: dict[str, Step] = {}
        for name, prop in properties.items():
            step = Step.compile(prop, f"{self.path}{name}")
            if step is not None:
                self.steps[name] = step
        self.work = tuple(
            (name, step.items, step.object, step.boolean) for name, step in self.steps.items()
        )

    def needs_nothing(self) -> bool:
        """No record can change at this level or below."""
        return self.open and not self.work

    def __call__(self, record: dict[str, Any]) -> tuple[dict[str, Any], Unmapped]:
        """The conformed record (`record` itself when nothing changed) and its unmapped paths."""
        if not self.open and not self.known >= record.keys():
            return self._in_record_order(record)
        out = record
        new: Any
        # Step.__call__ inlined: this loop runs for every level of every record.
        for name, items, obj, boolean in self.work:
            value = record.get(name)
            if value is None or value is True or value is False:
                continue  # absent, null or a boolean: the SDK leaves them as they are
            if items is not None and isinstance(value, list):
                new, unmapped = items(value)
            elif obj is not None and isinstance(value, dict):
                new, unmapped = obj(value)
            elif boolean:
                new, unmapped = _conform_boolean(value), NONE
            else:
                continue
            if unmapped:
                # The SDK lists unmapped paths in the record's key order: walk this level so.
                return self._in_record_order(record)
            if new is not value:
                if out is record:
                    out = dict(record)
                out[name] = new
        return out, NONE

    def _in_record_order(self, record: dict[str, Any]) -> tuple[dict[str, Any], Unmapped]:
        out: dict[str, Any] = {}
        unmapped: list[str] = []
        for name, value in record.items():
            if name not in self.known:
                if self.open:
                    out[name] = value
                else:
                    unmapped.append(f"{self.path}{name}")
                continue
            step = self.steps.get(name)
            if step is None:
                out[name] = value
                continue
            out[name], lost = step(value)
            unmapped.extend(lost)
        return out, unmapped


class ItemsConformer:
    """The items of an array the SDK walks (an array schema with one `items` schema)."""

    __slots__ = ("boolean", "item")

    def __init__(self, item: ObjectConformer | None, *, boolean: bool) -> None:
        self.item = item
        self.boolean = boolean

    def __call__(self, values: list[Any]) -> tuple[list[Any], Unmapped]:
        out = values
        unmapped: list[str] = []
        item, boolean = self.item, self.boolean
        for index, value in enumerate(values):
            if value is None or value is True or value is False:
                continue
            if item is not None and isinstance(value, dict):
                new, lost = item(value)
                unmapped.extend(lost)
            elif boolean:
                new = _conform_boolean(value)
            else:
                continue
            if new is not value:
                if out is values:
                    out = list(values)
                out[index] = new
        return out, unmapped or NONE


class Step:
    """What the SDK may do to one property's value, decided from its schema once."""

    __slots__ = ("boolean", "items", "object")

    def __init__(
        self, items: ItemsConformer | None, obj: ObjectConformer | None, *, boolean: bool
    ) -> None:
        self.items = items
        self.object = obj
        self.boolean = boolean

    @classmethod
    def compile(cls, schema: Any, path: str) -> Step | None:
        """The step of a property schema; None when the SDK never changes its value."""
        kind = _kind(schema)
        items = None
        if (
            "array" in kind
            and "items" in schema
            and "prefixItems" not in schema
            and isinstance(schema["items"], dict)
        ):
            items = _items(schema["items"], path)
        obj = None
        if "object" in kind and "properties" in schema:
            level = ObjectConformer(schema, path)
            # A closed level still drops unmapped keys; only an open one may pass untouched.
            obj = None if level.needs_nothing() else level
        boolean = _is_exclusive_boolean(schema)
        if items is None and obj is None and not boolean:
            return None
        return cls(items, obj, boolean=boolean)

    def __call__(self, value: Any) -> tuple[Any, Unmapped]:
        # The SDK's order: a walked array, then a walked object, then a primitive.
        if self.items is not None and isinstance(value, list):
            return self.items(value)
        if self.object is not None and isinstance(value, dict):
            return self.object(value)
        if self.boolean:
            return _conform_boolean(value), NONE
        return value, NONE


def _items(schema: dict[str, Any], path: str) -> ItemsConformer | None:
    if "anyOf" in schema or "allOf" in schema:
        raise Unsupported
    kind = schema.get("type")
    if "type" in schema and not isinstance(kind, str | list):
        raise Unsupported
    item = None
    if kind is not None and "object" in kind:
        # The SDK walks a dict item of an object schema by its `properties` (and fails
        # without them): the compiler leaves that case to it.
        if "properties" not in schema:
            raise Unsupported
        level = ObjectConformer(schema, path)
        item = None if level.needs_nothing() else level
    boolean = _is_exclusive_boolean(schema)
    if item is None and not boolean:
        return None
    return ItemsConformer(item, boolean=boolean)


#: A compiled conformance: the record (itself when unchanged) and its unmapped paths.
Conformer = Callable[[dict[str, Any]], tuple[dict[str, Any], Unmapped]]


def compile_conformer(schema: Mapping[str, Any]) -> Conformer | None:
    """The stream schema's conformance, or None when the SDK's own walk must do it."""
    try:
        return ObjectConformer(schema, None)
    except Unsupported:
        return None


# Deselection.

#: A breadcrumb of the SDK's selection mask: ("properties", "author", "properties", "id").
Breadcrumb = tuple[str, ...]


class Deselection:
    """Which keys of one object level (and below) the catalog deselected."""

    __slots__ = ("drop", "keep_unnamed", "kept", "nested")

    def __init__(
        self,
        *,
        keep_unnamed: bool,
        kept: frozenset[str],
        drop: tuple[str, ...],
        nested: tuple[tuple[str, Deselection], ...],
    ) -> None:
        self.keep_unnamed = keep_unnamed
        self.kept = kept
        self.drop = drop
        self.nested = nested

    def __call__(self, record: dict[str, Any]) -> None:
        """Pop the deselected properties of `record` in place, as the SDK does."""
        if self.keep_unnamed:
            for name in self.drop:
                record.pop(name, None)
        else:
            for name in [n for n in record if n not in self.kept]:
                del record[name]
        for name, below in self.nested:
            value = record.get(name)
            if isinstance(value, dict):
                below(value)


def compile_deselection(
    mask: Mapping[Breadcrumb, bool], selected: Callable[[Breadcrumb], bool]
) -> Deselection | None:
    """The pops the SDK's `pop_deselected_record_properties` makes with this selection mask,
    or None when it pops nothing.

    `mask` holds the catalog's breadcrumbs; `selected` answers for any breadcrumb as the
    SDK's mask does (one it does not hold takes its parent's answer).
    """
    return _deselection(mask, selected, ())


def _deselection(
    mask: Mapping[Breadcrumb, bool], selected: Callable[[Breadcrumb], bool], at: Breadcrumb
) -> Deselection | None:
    depth = len(at)
    names = {
        crumb[depth + 1]
        for crumb in mask
        if len(crumb) >= depth + 2 and crumb[:depth] == at and crumb[depth] == "properties"
    }
    # A key the mask does not name answers as this level does; what lies below it too.
    keep_unnamed = selected(at)
    kept = frozenset(n for n in names if selected((*at, "properties", n)))
    drop = tuple(sorted(names - kept))
    nested = []
    for name in sorted(kept):
        below = _deselection(mask, selected, (*at, "properties", name))
        if below is not None:
            nested.append((name, below))
    if keep_unnamed and not drop and not nested:
        return None
    return Deselection(keep_unnamed=keep_unnamed, kept=kept, drop=drop, nested=tuple(nested))
