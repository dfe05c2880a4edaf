"""Conversation QA results (monitor evaluations, scorecards): only the search returns them.

POST /conversations/search gives `monitor_evaluations` and `scorecards` when asked
(`include_monitors`, `include_scorecards`); GET /conversations/{id} never does, and its record
replaces the searched one. So the QA fields are carried from the search record into the
hydrated one, and a refresh by GET asks the search for them too (`qa_query`). Pure: no I/O.
"""

from __future__ import annotations

from typing import Any

QA_FIELDS = ("monitor_evaluations", "scorecards")
#: The query string that asks the conversation search for the QA fields.
QA_PARAMS = "include_monitors=true&include_scorecards=true"


def merge_qa(hydrated: dict[str, Any], listed: dict[str, Any]) -> dict[str, Any]:
    """The hydrated record with the searched record's QA fields (absent ones become [])."""
    for field in QA_FIELDS:
        value = listed.get(field)
        hydrated[field] = value if isinstance(value, list) else []
    return hydrated


def qa_query(ids: list[str]) -> dict[str, Any]:
    """A search query for conversations by id (one request for up to a page of them)."""
    return {"field": "id", "operator": "IN", "value": ids}
