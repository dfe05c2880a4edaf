#!/usr/bin/env python3
"""Generate the tap's stream JSON Schemas (``schemas/<stream>.json``) from Intercom's OpenAPI 2.16.

Usage::

    python scripts/generate_schemas.py            # (re)write schemas/*.json and schemas/README.md
    python scripts/generate_schemas.py --check    # exit 1 when the committed files are out of date

The spec is read from ``--spec``, else ``$INTERCOM_OPENAPI_SPEC``, else
``<repo>/../shared/intercom-openapi/api.intercom.io-2.16.yaml``.

How a spec component becomes a Singer schema (draft 7, as singer-sdk expects):

- ``$ref`` is followed; ``allOf``, ``oneOf`` and ``anyOf`` are merged into one schema whose
  ``type`` is the union of the alternatives' types and whose ``properties`` are the union of
  theirs (recursively), so every documented field of every alternative is present.
- Every property is nullable; enums, formats other than ``date-time``, examples, titles and
  descriptions are dropped: Intercom adds enum values, and targets must not reject data the
  spec's words did not foresee.
- Timestamps: the spec types them ``integer`` with ``format: date-time`` or ``timestamp`` (and a
  few ``*_at`` integers without a format). The tap converts Unix seconds to ISO-8601 strings
  generically from the schema, so here they are ``string`` + ``format: date-time``. The
  ``integer`` + ``date-time`` pair never appears in the output.
- Objects whose keys are data (``custom_attributes``, ``additionalProperties`` maps, objects
  the spec leaves open) are free-form: ``{"type": ["object", "null"], "additionalProperties":
  true}`` without ``properties``. Nothing anywhere has ``additionalProperties: false``.
- The fields the tap adds or reshapes live in ``STREAMS`` below, not as edits of the output;
  ``MIXED_TYPES`` lists ids whose type differs between API versions.
- ``x-`` keywords at a schema's top level tell an archive what to index and link (other
  targets ignore them; target-sqlite-archive's README says what each means):
  ``x-full-text-search``, ``x-indexes``, ``x-links``, ``x-part-of``.
"""

from __future__ import annotations

import argparse
import copy
import json
import os
import sys
from collections.abc import Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import yaml

Schema = dict[str, Any]

ROOT = Path(__file__).resolve().parent.parent
SCHEMAS_DIR = ROOT / "schemas"
SPEC_ENV = "INTERCOM_OPENAPI_SPEC"
SPEC_VERSION = "2.16"
DEFAULT_SPEC = ROOT.parent / "shared" / "intercom-openapi" / f"api.intercom.io-{SPEC_VERSION}.yaml"

# Formats under which the spec documents Unix-second timestamps.
TIMESTAMP_FORMATS = frozenset({"date-time", "timestamp", "unix-timestamp"})
# Properties whose keys are customer data, never schema, whatever the spec says inside them.
FREE_FORM_NAMES = frozenset({"custom_attributes"})
TYPE_ORDER = ("object", "array", "string", "integer", "number", "boolean", "null")


def _nullable(*types: str) -> list[str]:
    return [t for t in TYPE_ORDER if t in types or t == "null"]


def _tap_field(json_type: str, description: str, fmt: str | None = None) -> Schema:
    node: Schema = {"type": _nullable(json_type), "description": description}
    if fmt:
        node["format"] = fmt
    return node


def _returned_count(parent: str) -> Schema:
    return _tap_field(
        "integer",
        f"Added by the tap: how many parts Intercom returned with this {parent} (the "
        f"{parent}_parts stream holds them). Intercom returns at most the 500 most recent.",
    )


def _truncated(parent: str, count_field: str | None = None) -> Schema:
    has = f"the {parent} has ({count_field})" if count_field else f"the {parent} has"
    return _tap_field(
        "boolean",
        f"Added by the tap: true when Intercom's 500-part cap returned fewer parts than {has}, "
        f"so the {parent}_parts stream lacks the oldest ones.",
    )


# Singer's deletion metadata on the streams whose deletions the tap reports (tombstones: a
# record with `_sdc_deleted_at` set marks the row deleted and keeps its data).
_DELETED_AT = _tap_field(
    "string",
    "Added by the tap: set on a tombstone, the record of a deletion (only the keys besides).",
    "date-time",
)
_MERGED_INTO = _tap_field(
    "string", "Added by the tap: on a tombstone of a merged contact, the contact it went into."
)
# The stream's own updated_at: incremental runs and analysts look rows up by it.
_BY_UPDATED_AT = {"x-indexes": ["updated_at"]}


def _parts_of(parent: str) -> dict[str, Any]:
    """The annotations of a parts stream: linked to its parent, deleted with it, searchable."""
    return {
        "x-links": {f"{parent}_id": f"{parent}s.id"},
        "x-part-of": f"{parent}_id",
        "x-full-text-search": ["body"],
        "x-indexes": ["updated_at"],
    }


@dataclass(frozen=True)
class StreamSource:
    """Where a stream's schema comes from and what the tap changes in its records.

    ``components`` are merged in order. ``drop`` removes spec fields the tap does not emit, and
    ``add`` adds (or replaces) fields the tap sets itself; both use dotted paths, ``[]`` for
    array items.
    """

    components: tuple[str, ...]
    drop: tuple[str, ...] = ()
    add: Mapping[str, Schema] = field(default_factory=dict)
    annotations: Mapping[str, Any] = field(default_factory=dict)  # top-level x- keywords


STREAMS: dict[str, StreamSource] = {
    "admins": StreamSource(("admin",)),
    "teams": StreamSource(("team",)),
    "tags": StreamSource(("tag",)),
    "segments": StreamSource(("segment",)),
    "subscription_types": StreamSource(("subscription_type",)),
    # GET /data_attributes?model=contact|company returns data_attribute; GET
    # /conversations/attributes returns conversation_attribute (a oneOf per data_type). The
    # tap sets `model` on every record ("conversation" for the latter); key (model, name).
    "data_attributes": StreamSource(
        ("data_attribute", "conversation_attribute"),
        add={
            "model": _tap_field(
                "string",
                "contact, company or conversation; the tap sets it for conversation "
                "attributes, which Intercom returns without it.",
            )
        },
    ),
    "companies": StreamSource(
        ("company",), add={"_sdc_deleted_at": _DELETED_AT}, annotations=_BY_UPDATED_AT
    ),
    "contacts": StreamSource(
        ("contact",),
        add={"_sdc_deleted_at": _DELETED_AT, "_sdc_merged_into_id": _MERGED_INTO},
        annotations={
            "x-full-text-search": ["name", "email", "phone"],
            "x-indexes": [
                {"path": "email", "case_folded": True},
                "phone",
                "external_id",
                "updated_at",
            ],
        },
    ),
    # Parts are the conversation_parts stream; the record keeps their count.
    "conversations": StreamSource(
        ("conversation",),
        drop=("conversation_parts.conversation_parts",),
        add={
            "conversation_parts.returned_count": _returned_count("conversation"),
            "conversation_parts.truncated": _truncated(
                "conversation", "statistics.count_conversation_parts"
            ),
            "_sdc_deleted_at": _DELETED_AT,
        },
        annotations={
            "x-full-text-search": ["source.subject", "source.body"],
            "x-indexes": ["updated_at"],
        },
    ),
    "conversation_parts": StreamSource(
        ("conversation_part",),
        add={
            "conversation_id": _tap_field("string", "Added by the tap: the parent conversation."),
        },
        annotations=_parts_of("conversation"),
    ),
    "deleted_conversations": StreamSource(("deleted_conversation_item",)),
    "tickets": StreamSource(
        ("ticket",),
        drop=("ticket_parts.ticket_parts",),
        add={
            "ticket_parts.returned_count": _returned_count("ticket"),
            "ticket_parts.truncated": _truncated("ticket"),
            "_sdc_deleted_at": _DELETED_AT,
        },
        annotations={
            # Title and description are ticket attributes: paths into that JSON object.
            "x-full-text-search": [
                "ticket_attributes._default_title_",
                "ticket_attributes._default_description_",
            ],
            "x-indexes": ["updated_at"],
        },
    ),
    "ticket_parts": StreamSource(
        ("ticket_part",),
        add={
            "ticket_id": _tap_field("string", "Added by the tap: the parent ticket."),
        },
        annotations=_parts_of("ticket"),
    ),
    # The note component also covers GET /companies/{id}/notes (it has `company`).
    "notes": StreamSource(
        ("note",),
        add={"contact_id": _tap_field("string", "Added by the tap: the contact listed.")},
        annotations={"x-links": {"contact_id": "contacts.id"}},
    ),
    # GET /events documents only the summary shape; records are data_event items.
    "events": StreamSource(
        ("data_event",),
        add={
            "intercom_user_id": _tap_field(
                "string", "The contact's Intercom id; the tap sets it from the contact it lists."
            )
        },
        annotations={"x-links": {"intercom_user_id": "contacts.id"}},
    ),
    "articles": StreamSource(
        ("article_list_item",),
        annotations={"x-full-text-search": ["title", "body"], "x-indexes": ["updated_at"]},
    ),
    # GET /admins/activity_logs. `metadata` holds different keys per activity_type (the spec's
    # own examples show before/after/message, which its component does not declare): kept whole.
    "admin_activity_logs": StreamSource(
        ("activity_log",),
        add={
            "metadata": {
                "type": ["object", "null"],
                "additionalProperties": True,
                "description": "Details of the activity; its keys depend on activity_type.",
            }
        },
    ),
    # GET /ticket_types: each with its attributes and states inline.
    "ticket_types": StreamSource(("ticket_type",)),
    "ticket_states": StreamSource(("ticket_state_detailed",)),
    # GET /macros: timestamps are ISO-8601 strings in this endpoint already.
    "macros": StreamSource(("macro",)),
    # GET /away_status_reasons lists deleted reasons too (`deleted`: true).
    "away_status_reasons": StreamSource(("away_status_reason",)),
    "office_hours_schedules": StreamSource(("office_hours_schedule",)),
    "internal_articles": StreamSource(("internal_article_list_item",)),
    "content_snippets": StreamSource(("content_snippet",)),
    "calls": StreamSource(("call",)),
    # POST /calls/search answers calls with two more fields, declared inline in the spec's
    # response (not in a component): copied here.
    "call_transcripts": StreamSource(
        ("call",),
        add={
            "transcript": {
                "type": ["array", "null"],
                "items": {
                    "type": ["object", "null"],
                    "additionalProperties": True,
                    "properties": {},
                },
                "description": "The call transcript if available, otherwise an empty array.",
            },
            "transcript_status": _tap_field("string", "The status of the transcript if available."),
            "transcript_text": _tap_field(
                "string",
                "Added by the tap: the text of GET /calls/{id}/transcript, fetched when the "
                "search gave an empty transcript while transcription_url is set.",
            ),
        },
    ),
    # GET /conversations/{id}/handling_events: no id, so the key is the tap's (conversation_id,
    # timestamp, type, teammate_id).
    "handling_events": StreamSource(
        ("handling_event",),
        add={
            "conversation_id": _tap_field("string", "Added by the tap: the conversation."),
            "teammate_id": _tap_field(
                "string", "Added by the tap: teammate.id as a string, part of the key."
            ),
        },
    ),
    "collections": StreamSource(("collection",)),
    "help_centers": StreamSource(("help_center",)),
}

# Ids whose values come in either type: allowed in both. Keyed by (component, path inside it).
MIXED_TYPES: dict[tuple[str, str], tuple[str, ...]] = {
    # integer in 2.15: the Intercom-Version header is a setting.
    ("contact", "owner_id"): ("string", "integer"),
    # string in 2.15, and "String" in the 2.16 ticket search field table.
    ("ticket", "admin_assignee_id"): ("integer", "string"),
    ("ticket", "team_assignee_id"): ("integer", "string"),
    # string, but the GET /conversations/{id} examples return integers.
    ("conversation_part", "id"): ("string", "integer"),
    # integers whose spec examples are strings.
    ("article_list_item", "author_id"): ("integer", "string"),
    ("article_content", "author_id"): ("integer", "string"),
    ("collection", "help_center_id"): ("integer", "string"),
    ("collection", "order"): ("integer", "string"),
}

# Fields the spec's own response examples show but its component schemas do not declare.
# singer-sdk drops undeclared fields from records, so they are declared here (OpenAPI syntax,
# converted like the rest). Keyed by (component, path of the object inside it).
EXAMPLE_FIELDS: dict[tuple[str, str], dict[str, Any]] = {
    # GET /contacts/{id} example.
    ("contact", ""): {
        "enabled_push_messaging": {"type": "boolean"},
        "opted_in_subscription_types": {"$ref": "#/components/schemas/contact_subscription_types"},
        "opted_out_subscription_types": {"$ref": "#/components/schemas/contact_subscription_types"},
        "referrer": {"type": "string"},
        "utm_campaign": {"type": "string"},
        "utm_content": {"type": "string"},
        "utm_medium": {"type": "string"},
        "utm_source": {"type": "string"},
        "utm_term": {"type": "string"},
    },
    ("contact_location", ""): {
        "continent_code": {"type": "string"},
        "country_code": {"type": "string"},
    },
    ("contact_companies", ""): {"type": {"type": "string"}},
    ("contact_notes", ""): {"type": {"type": "string"}},
    ("contact_tags", ""): {"type": {"type": "string"}},
    ("contact_social_profiles", ""): {"type": {"type": "string"}},
    ("contact_subscription_types", ""): {"type": {"type": "string"}},
    # GET /conversations/{id} examples: both always present, shapes not shown (null and {}).
    ("conversation", ""): {"ticket": {"type": "object"}, "topics": {"type": "object"}},
    # GET /tickets/{id} example: the attribute list is under `data`, not `ticket_type_attributes`.
    ("ticket_type", ""): {"is_internal": {"type": "boolean"}},
    ("ticket_type_attribute_list", ""): {
        "data": {"type": "array", "items": {"$ref": "#/components/schemas/ticket_type_attribute"}}
    },
}


class SpecError(RuntimeError):
    """The spec is missing or does not look like Intercom's 2.16 description."""


def locate_spec(explicit: str | None = None) -> Path:
    """The spec file: the argument, else $INTERCOM_OPENAPI_SPEC, else the shared copy."""
    path = Path(explicit or os.environ.get(SPEC_ENV) or DEFAULT_SPEC)
    if not path.is_file():
        raise SpecError(
            f"Intercom OpenAPI spec not found at {path}; pass --spec or set {SPEC_ENV}."
        )
    return path


def load_spec(path: Path) -> dict[str, Any]:
    with path.open("rb") as handle:
        loader = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # the C loader: 1.3 MB of YAML
        spec: dict[str, Any] = yaml.load(handle, Loader=loader)  # noqa: S506 (a safe loader)
    version = str(spec.get("info", {}).get("version"))
    if version != SPEC_VERSION:
        raise SpecError(f"{path} is Intercom API version {version}, expected {SPEC_VERSION}.")
    return spec


@dataclass
class Conversion:
    """One stream's generation: the log of what the rules changed."""

    stream: str
    timestamps: list[str] = field(default_factory=list)
    free_form: list[str] = field(default_factory=list)
    mixed: list[str] = field(default_factory=list)
    conflicts: list[str] = field(default_factory=list)

    def prune(self, dropped: tuple[str, ...]) -> None:
        """Forget entries under dropped fields, and repeats (oneOf branches share fields)."""

        def keep(entries: list[str]) -> list[str]:
            inside = tuple(f"{d}{sep}" for d in dropped for sep in (".", "[]", " "))
            return list(dict.fromkeys(e for e in entries if not e.startswith(inside)))

        self.timestamps = keep(self.timestamps)
        self.free_form = keep(self.free_form)
        self.mixed = keep(self.mixed)
        self.conflicts = keep(self.conflicts)


def _join(path: str, name: str) -> str:
    return f"{path}.{name}" if path else name


class Converter:
    """Turns spec component schemas into nullable Singer schemas."""

    def __init__(self, spec: Mapping[str, Any]) -> None:
        self.components: Mapping[str, Any] = spec["components"]["schemas"]
        self.used_tables: set[tuple[str, str, str]] = set()

    def check_tables_used(self) -> None:
        """A table entry that matched nothing is a typo or a spec change: fail loudly."""
        unused = [("example", *key) for key in EXAMPLE_FIELDS] + [
            ("mixed", *key) for key in MIXED_TYPES
        ]
        stale = [key for key in unused if key not in self.used_tables]
        if stale:
            raise SpecError(f"table entries match no spec field: {stale}")

    def component(self, name: str, log: Conversion) -> Schema:
        if name not in self.components:
            raise SpecError(f"component {name!r} is not in the spec")
        return self._convert(self.components[name], "", name, "", log, (name,))

    def _deref(self, ref: str) -> tuple[str, Any]:
        prefix = "#/components/schemas/"
        if not ref.startswith(prefix):
            raise SpecError(f"unsupported $ref {ref}")
        name = ref[len(prefix) :]
        return name, self.components[name]

    def _convert(
        self,
        node: Any,
        path: str,
        comp: str,
        rel: str,
        log: Conversion,
        seen: tuple[str, ...],
    ) -> Schema:
        """Convert ``node``: at ``path`` in the stream, at ``rel`` inside component ``comp``."""
        if not isinstance(node, Mapping):
            return self._free_form(path, log)
        if "$ref" in node:
            name, target = self._deref(node["$ref"])
            if name in seen:  # a recursive component: stop with an open object
                return self._free_form(path, log)
            return self._convert(target, path, name, "", log, (*seen, name))

        name = path.rsplit(".", 1)[-1]
        if name in FREE_FORM_NAMES:
            return self._free_form(path, log)

        parts: list[Schema] = []
        for keyword in ("allOf", "oneOf", "anyOf"):
            for alternative in node.get(keyword, ()):
                parts.append(self._convert(alternative, path, comp, rel, log, seen))
        own = {k: v for k, v in node.items() if k not in ("allOf", "oneOf", "anyOf")}
        if parts and not (own.get("properties") or own.get("items")):
            result = parts[0]
            for other in parts[1:]:
                result = self.merge(result, other, path, log)
        else:
            result = self._convert_plain(own, path, comp, rel, log, seen)
            for other in parts:
                result = self.merge(result, other, path, log)

        mixed = MIXED_TYPES.get((comp, rel))
        if mixed is not None:
            self.used_tables.add(("mixed", comp, rel))
            result = {**result, "type": _nullable(*mixed)}
            log.mixed.append(f"{path} ({comp}.{rel}): {' | '.join(mixed)}")
        return result

    def _convert_plain(
        self,
        node: Mapping[str, Any],
        path: str,
        comp: str,
        rel: str,
        log: Conversion,
        seen: tuple[str, ...],
    ) -> Schema:
        declared = node.get("type")
        types = list(declared) if isinstance(declared, list) else [declared] if declared else []
        if not types:
            if "properties" in node or "additionalProperties" in node:
                types = ["object"]
            elif "items" in node:
                types = ["array"]
            else:
                return self._free_form(path, log)

        result: Schema = {"type": _nullable(*types)}
        if "object" in types:
            props = dict(node.get("properties") or {})
            extra = EXAMPLE_FIELDS.get((comp, rel), {})
            props.update({k: v for k, v in extra.items() if k not in props})
            if extra:
                self.used_tables.add(("example", comp, rel))
            if not props:
                return self._free_form(path, log)
            result["properties"] = {
                key: self._convert(value, _join(path, key), comp, _join(rel, key), log, seen)
                for key, value in props.items()
            }
            if node.get("additionalProperties") not in (None, False):
                result["additionalProperties"] = True
        if "array" in types:
            result["items"] = _open_items(
                self._convert(node.get("items", {}), f"{path}[]", comp, f"{rel}[]", log, seen)
            )
        fmt = node.get("format")
        if ({"integer", "number"} & set(types)) and (
            fmt in TIMESTAMP_FORMATS or (fmt is None and path.endswith("_at"))
        ):
            log.timestamps.append(path)
            others = [t for t in types if t not in ("integer", "number")]
            return {"type": _nullable("string", *others), "format": "date-time"}
        if fmt == "date-time" and "string" in types:
            result["format"] = "date-time"
        return result

    def _free_form(self, path: str, log: Conversion) -> Schema:
        log.free_form.append(path)
        return {"type": ["object", "null"], "additionalProperties": True}

    def merge(self, a: Schema, b: Schema, path: str, log: Conversion) -> Schema:
        """Union of two converted schemas: types, properties (recursively) and items."""
        merged: Schema = {"type": _nullable(*a.get("type", ()), *b.get("type", ()))}
        if "properties" in a or "properties" in b:
            props: dict[str, Schema] = dict(a.get("properties", {}))
            for key, value in b.get("properties", {}).items():
                props[key] = (
                    self.merge(props[key], value, _join(path, key), log) if key in props else value
                )
            merged["properties"] = props
        elif a.get("additionalProperties") or b.get("additionalProperties"):
            merged["additionalProperties"] = True
        if "items" in a and "items" in b:
            merged["items"] = self.merge(a["items"], b["items"], f"{path}[]", log)
        elif "items" in a or "items" in b:
            merged["items"] = a.get("items", b.get("items"))
        formats = {a.get("format"), b.get("format")}
        if formats == {"date-time"}:
            merged["format"] = "date-time"
        elif "date-time" in formats:
            # a timestamp in one alternative, a plain value in the other: keep the timestamp
            # only if no alternative is a non-timestamp string.
            plain = b if a.get("format") == "date-time" else a
            if "string" in plain.get("type", ()):
                log.conflicts.append(f"{path}: date-time in one alternative only; format dropped")
            else:
                merged["format"] = "date-time"
        return merged


def _open_items(items: Schema) -> Schema:
    """Free-form array items get an empty ``properties``: singer-sdk (0.54) conforms the
    objects of an array through their ``properties`` and fails on items without it."""
    if "object" in items.get("type", ()) and "properties" not in items:
        return {**items, "properties": {}}
    return items


def _walk_to(schema: Schema, dotted: str, stream: str) -> tuple[Schema, str]:
    """The object schema holding the last segment of ``dotted``, and that segment."""
    *parents, leaf = dotted.split(".")
    node = schema
    for part in parents:
        is_items = part.endswith("[]")
        child = node.get("properties", {}).get(part.removesuffix("[]"))
        if child is None:
            raise SpecError(f"{stream}: no field {part!r} on the way to {dotted!r}")
        node = child["items"] if is_items else child
    return node, leaf


def build_stream(
    converter: Converter, stream: str, source: StreamSource
) -> tuple[Schema, Conversion]:
    log = Conversion(stream)
    merged: Schema | None = None
    for name in source.components:
        converted = converter.component(name, log)
        merged = converted if merged is None else converter.merge(merged, converted, "", log)
    assert merged is not None
    schema = copy.deepcopy(merged)
    for dotted in source.drop:
        parent, leaf = _walk_to(schema, dotted, stream)
        if leaf not in parent.get("properties", {}):
            raise SpecError(f"{stream}: cannot drop {dotted!r}, the spec has no such field")
        del parent["properties"][leaf]
    log.prune(source.drop)
    for dotted, added in source.add.items():
        parent, leaf = _walk_to(schema, dotted, stream)
        parent.setdefault("properties", {})[leaf] = copy.deepcopy(added)
    return {
        "type": "object",
        "properties": schema.get("properties", {}),
        **copy.deepcopy(dict(source.annotations)),
    }, log


def build_all(spec: Mapping[str, Any]) -> dict[str, tuple[Schema, Conversion]]:
    converter = Converter(spec)
    results = {stream: build_stream(converter, stream, src) for stream, src in STREAMS.items()}
    converter.check_tables_used()
    return results


def render_json(schema: Schema) -> str:
    return json.dumps(schema, indent=2, sort_keys=True, ensure_ascii=False) + "\n"


def render_readme(results: Mapping[str, tuple[Schema, Conversion]]) -> str:
    lines = [
        "# Stream schemas",
        "",
        "Generated by `scripts/generate_schemas.py` from Intercom's OpenAPI "
        f"{SPEC_VERSION} description; do not edit by hand. Regenerate with "
        "`python scripts/generate_schemas.py`; `--check` fails when these files are stale.",
        "",
        "Every property is nullable; enums are dropped; timestamps (Unix seconds in the API) are "
        '`{"type": ["string", "null"], "format": "date-time"}` and the tap converts them from '
        "the schema; objects whose keys are data are free-form.",
        "",
        "| stream | spec components | tap-added fields | timestamps converted |",
        "|---|---|---|---|",
    ]
    for stream, (_, log) in results.items():
        src = STREAMS[stream]
        added = ", ".join(f"`{p}`" for p in src.add) or "-"
        comps = ", ".join(f"`{c}`" for c in src.components)
        if src.drop:
            comps += " (without " + ", ".join(f"`{d}`" for d in src.drop) + ")"
        lines.append(f"| {stream} | {comps} | {added} | {len(log.timestamps)} |")
    lines += ["", "## Timestamps converted from integer to date-time strings", ""]
    for stream, (_, log) in results.items():
        lines.append(f"- **{stream}**: " + (", ".join(f"`{p}`" for p in log.timestamps) or "none"))
    lines += ["", "## Free-form objects (keys are data, or a shape the spec does not give)", ""]
    for stream, (_, log) in results.items():
        if log.free_form:
            lines.append(f"- **{stream}**: " + ", ".join(f"`{p}`" for p in log.free_form))
    lines += ["", "## Fields declared from the spec's response examples (not its components)", ""]
    lines += [
        f"- `{comp}`{'.' + rel if rel else ''}: " + ", ".join(f"`{name}`" for name in fields)
        for (comp, rel), fields in EXAMPLE_FIELDS.items()
    ]
    mixed = [(s, m) for s, (_, log) in results.items() for m in log.mixed]
    if mixed:
        lines += ["", "## Fields allowed in more than one type", ""]
        lines += [f"- **{s}**: `{m}`" for s, m in mixed]
    conflicts = [(s, c) for s, (_, log) in results.items() for c in log.conflicts]
    if conflicts:
        lines += ["", "## Merge conflicts resolved", ""]
        lines += [f"- **{s}**: {c}" for s, c in conflicts]
    return "\n".join(lines) + "\n"


def render_all(spec: Mapping[str, Any]) -> tuple[dict[str, str], dict[str, Conversion]]:
    results = build_all(spec)
    files = {f"{stream}.json": render_json(schema) for stream, (schema, _) in results.items()}
    files["README.md"] = render_readme(results)
    return files, {stream: log for stream, (_, log) in results.items()}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0] if __doc__ else None)
    parser.add_argument("--check", action="store_true", help="exit 1 if files are out of date")
    parser.add_argument("--spec", help=f"path to the OpenAPI YAML (default ${SPEC_ENV})")
    parser.add_argument("--out", type=Path, default=SCHEMAS_DIR, help="output directory")
    parser.add_argument("--quiet", action="store_true", help="no generation log")
    args = parser.parse_args(argv)
    try:
        spec = load_spec(locate_spec(args.spec))
        files, logs = render_all(spec)
    except SpecError as exc:
        print(f"generate_schemas: {exc}", file=sys.stderr)
        return 2

    out: Path = args.out
    if args.check:
        stale = [
            name
            for name, text in files.items()
            if not (out / name).is_file() or (out / name).read_text(encoding="utf-8") != text
        ]
        extra = sorted(p.name for p in out.glob("*.json") if p.name not in files)
        for name in stale:
            print(f"generate_schemas: {out / name} is out of date", file=sys.stderr)
        for name in extra:
            print(f"generate_schemas: {out / name} has no stream in STREAMS", file=sys.stderr)
        if stale or extra:
            print("generate_schemas: run `python scripts/generate_schemas.py`", file=sys.stderr)
            return 1
        return 0

    out.mkdir(parents=True, exist_ok=True)
    for name, text in files.items():
        (out / name).write_text(text, encoding="utf-8")
    if not args.quiet:
        for log in logs.values():
            print(f"{log.stream}: {len(log.timestamps)} timestamps converted")
            for path in log.timestamps:
                print(f"  date-time  {path}")
            for item in log.mixed:
                print(f"  mixed      {item}")
            for item in log.conflicts:
                print(f"  conflict   {item}")
        print(f"wrote {len(files)} files to {out}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
