"""Record validation compiled to plain Python for the JSON Schema subset taps use.

Stream schemas are almost always types, properties, items, required and
additionalProperties. For those, a generated function does one class comparison per value,
about four times cheaper per property than fastjsonschema's generated code (which copies
each object's key set to track unseen keys). Any other keyword (enum, pattern, minimum, $ref,
anyOf...) makes `compile_validator` return None and the caller uses fastjsonschema instead, so
behaviour never depends on what this module understands. Formats are not checked, as in the
SDK's default validator.
"""

from __future__ import annotations

import typing as t
from decimal import Decimal

# Keywords this compiler implements, or that do not constrain instances here.
_KNOWN = frozenset(
    {
        "type",
        "properties",
        "items",
        "required",
        "additionalProperties",
        "format",  # not checked, as in the SDK's default validator
        "description",
        "title",
        "default",
        "examples",
        "$comment",
        "$schema",
        "$id",
        "readOnly",
        "writeOnly",
        "deprecated",
    }
)
# One expression per JSON type over a value {v} and its class {c}. JSON Schema integers
# include floats with an integral value (draft 6 on); booleans are neither integers nor numbers.
_TYPE_TESTS = {
    "null": "{v} is None",
    "string": "{c} is str",
    "boolean": "{c} is bool",
    "integer": "{c} is int or ({c} is float and {v}.is_integer())"
    " or ({c} is _Decimal and {v} == {v}.to_integral_value())",
    "number": "{c} is int or {c} is float or {c} is _Decimal",
    "object": "{c} is dict",
    "array": "{c} is list",
}


def known(schema: t.Any) -> bool:
    """Whether a schema uses only keywords this compiler implements; `x-` keywords are
    annotations for targets (see hints.py), which never constrain a value."""
    return isinstance(schema, dict) and all(k in _KNOWN or k.startswith("x-") for k in schema)


def type_test(types: list[str], value: str, cls: str) -> str:
    return " or ".join(f"({_TYPE_TESTS[n].format(v=value, c=cls)})" for n in types) or "False"


MISSING = object()


class InvalidValue(ValueError):
    """A value does not match the schema; the message says where and what."""


class Unsupported(Exception):
    """A keyword or form this module does not compile."""


Validate = t.Callable[[t.Any], None]


def compile_validator(schema: t.Any) -> Validate | None:
    """A function raising InvalidValue for invalid records, or None if the schema uses a
    keyword this module does not implement."""
    compiler = Compiler()
    try:
        entry = compiler.function(schema, "data")
    except Unsupported:
        return None
    namespace: dict[str, t.Any] = {
        "_MISSING": MISSING,
        "_Decimal": Decimal,
        "_invalid": invalid,
        **compiler.constants,
    }
    source = "\n".join(compiler.lines)
    exec(compile(source, "<record validator>", "exec"), namespace)  # noqa: S102
    return t.cast("Validate", namespace[entry])


def invalid(where: str, expected: str, value: t.Any) -> InvalidValue:
    shown = repr(value)
    if len(shown) > 80:
        shown = shown[:77] + "..."
    return InvalidValue(f"{where} must be {expected}, not {shown}")


def types_of(schema: dict[str, t.Any]) -> list[str] | None:
    declared = schema.get("type")
    if declared is None:
        return None
    names = [declared] if isinstance(declared, str) else declared
    if not isinstance(names, list) or any(n not in _TYPE_TESTS for n in names):
        raise Unsupported
    return names


class Compiler:
    """Emits one function per object or array schema (so no function nests deeply)."""

    def __init__(self) -> None:
        self.lines: list[str] = []
        self.constants: dict[str, t.Any] = {}
        self._count = 0

    def _name(self, prefix: str) -> str:
        self._count += 1
        return f"{prefix}{self._count}"

    def constant(self, prefix: str, value: t.Any) -> str:
        """The name of a new module-level constant of the generated code."""
        name = self._name(prefix)
        self.constants[name] = value
        return name

    def function(self, schema: t.Any, where: str) -> str:
        """Name of a generated function checking a value against `schema`."""
        name = self._name("_check")
        body = ["    c = v.__class__", *self._checks(schema, where)]
        self.lines += [f"def {name}(v):", *body, "    return None", ""]
        return name

    def _checks(self, schema: t.Any, where: str) -> list[str]:
        if not known(schema):
            raise Unsupported
        lines = []
        types = types_of(schema)
        if types is not None:
            test = type_test(types, "v", "c")
            expected = " or ".join(types) or "nothing"
            lines += [
                f"    if not ({test}):",
                f"        raise _invalid({where!r}, {expected!r}, v)",
            ]
        properties = schema.get("properties", {})
        required = schema.get("required", [])
        additional = schema.get("additionalProperties", True)
        if not isinstance(properties, dict) or not isinstance(required, list):
            raise Unsupported
        if additional not in (True, False, {}):
            raise Unsupported  # a schema for extra properties: left to fastjsonschema
        if properties or required or additional is False:
            lines.append("    if c is dict:")
            for key in required:
                if not isinstance(key, str):
                    raise Unsupported
                expected = f"an object with {key!r}"
                lines += [
                    f"        if {key!r} not in v:",
                    f"            raise _invalid({where!r}, {expected!r}, v)",
                ]
            if properties:
                lines.append("        g = v.get")
            for key, sub in properties.items():
                lines.append(f"        x = g({key!r}, _MISSING)")
                lines += self.check_value(sub, f"{where}.{key}", "        ")
            if additional is False:
                allowed = self.constant("_KEYS", frozenset(properties))
                lines += [
                    f"        if not v.keys() <= {allowed}:",
                    f"            raise _invalid({where!r}, 'without undeclared properties', v)",
                ]
        if "items" in schema:
            items = schema["items"]
            if not isinstance(items, dict):
                raise Unsupported  # tuple validation
            item_checks = self.check_value(items, f"{where}[]", "            ", always=True)
            if item_checks:
                lines += ["    if c is list:", "        for x in v:", *item_checks]
        return lines

    def check_value(
        self, schema: t.Any, where: str, indent: str, *, always: bool = False
    ) -> list[str]:
        """Lines checking the local `x` (skipped when it is _MISSING, unless `always`)."""
        if not known(schema):
            raise Unsupported
        guard = [] if always else [f"{indent}if x is not _MISSING:"]
        inner = indent if always else indent + "    "
        nested = {"properties", "required", "items"} & set(schema) or (
            schema.get("additionalProperties", True) is not True
        )
        if nested:
            return [*guard, f"{inner}{self.function(schema, where)}(x)"]
        types = types_of(schema)
        if types is None:
            return []  # any value
        test = type_test(types, "x", "k")
        expected = " or ".join(types) or "nothing"
        return [
            *guard,
            f"{inner}k = x.__class__",
            f"{inner}if not ({test}):",
            f"{inner}    raise _invalid({where!r}, {expected!r}, x)",
        ]
