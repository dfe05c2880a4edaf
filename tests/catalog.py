"""Stream selection in a Singer catalog: the one helper the tests and benchmarks share."""

from __future__ import annotations

import copy
from collections.abc import Iterable
from typing import Any


def select_streams(catalog: dict[str, Any], streams: Iterable[str] | None) -> dict[str, Any]:
    """A copy of `catalog` with exactly `streams` selected, or every stream when None.

    Selection is the stream-level metadata entry (empty breadcrumb); fields keep their
    discovered inclusion, so every field of a selected stream is synced. A name the catalog
    does not hold raises, so a typo never silently syncs nothing.
    """
    selected = copy.deepcopy(catalog)
    known = {entry["tap_stream_id"] for entry in selected["streams"]}
    wanted = known if streams is None else set(streams)
    unknown = wanted - known
    if unknown:
        raise ValueError(f"no such streams in the catalog: {sorted(unknown)}")
    for entry in selected["streams"]:
        for item in entry["metadata"]:
            if item["breadcrumb"] == []:
                item["metadata"]["selected"] = entry["tap_stream_id"] in wanted
    return selected
