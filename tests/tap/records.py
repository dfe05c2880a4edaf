"""Synthetic Intercom records and search pages shared by the tap's tests."""

from __future__ import annotations

from typing import Any

import requests_mock

from tests.tap.conftest import (
    API,
    RATE_HEADERS,
)

WINDOW_KEYS = ("window_start", "window_end", "cursor", "last_id", "ranges")


LOOKBACK = 1800


def part(cid: str, n: int, created_at: int) -> dict[str, Any]:
    return {
        "type": "conversation_part",
        "id": f"p{n}",
        "part_type": "comment",
        "body": f"part {n} of {cid}",
        "created_at": created_at,
        "updated_at": created_at,
    }


def full_conversation(
    cid: str, updated_at: int, parts: int = 2, count: int | None = None
) -> dict[str, Any]:
    return {
        "type": "conversation",
        "id": cid,
        "created_at": updated_at - 500,
        "updated_at": updated_at,
        "title": f"conversation {cid}",
        "statistics": {"count_conversation_parts": parts if count is None else count},
        "conversation_parts": {
            "type": "conversation_part.list",
            "conversation_parts": [part(cid, n, updated_at - n) for n in range(parts)],
            "total_count": parts,
        },
    }


def listed(cid: str, updated_at: int) -> dict[str, Any]:
    return {"type": "conversation", "id": cid, "updated_at": updated_at}


def search_page(
    records: list[dict[str, Any]], cursor: str | None, key: str = "conversations"
) -> dict[str, Any]:
    pages: dict[str, Any] = {"type": "pages", "per_page": 150}
    if cursor:
        pages["next"] = {"per_page": 150, "starting_after": cursor}
    return {"type": "conversation.list", key: records, "pages": pages, "total_count": 99}


def mock_hydration(api: requests_mock.Mocker, conversations: list[dict[str, Any]]) -> None:
    for conv in conversations:
        api.get(f"{API}/conversations/{conv['id']}", json=conv, headers=RATE_HEADERS)
