"""Walking list pages: cursors, links, and where a walk stops."""

from __future__ import annotations

import logging
from typing import Any

import pytest

from tap_intercom import pagination


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"pages": {"next": {"starting_after": "c9"}}}, "c9"),
        ({"pages": {"next": None}}, None),
        ({"pages": {"next": {"starting_after": ""}}}, None),
        ({"pages": {}}, None),
        ({}, None),
    ],
)
def test_next_cursor(body: dict[str, Any], expected: str | None) -> None:
    assert pagination.next_cursor(body) == expected


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ({"pages": {"next": {"starting_after": "abc"}}}, ("cursor", {"starting_after": "abc"})),
        (
            {"pages": {"next": "https://api.intercom.io/articles?page=3&per_page=50"}},
            ("link", {"page": "3", "per_page": "50"}),
        ),
        ({"pages": {"next": None}}, None),
        ({"pages": {"next": ""}}, None),
        ({"pages": {"next": {"starting_after": None}}}, None),
        ({"pages": "nonsense"}, None),
        ({"data": []}, None),
    ],
)
def test_next_page(body: dict[str, Any], expected: Any) -> None:
    assert pagination.next_page(body) == expected


class FakeGetter:
    def __init__(self, pages: list[dict[str, Any]]) -> None:
        self.pages = pages
        self.calls: list[tuple[str, dict[str, Any] | None]] = []

    def get(self, path: str, params: dict[str, Any] | None = None) -> dict[str, Any]:
        self.calls.append((path, dict(params) if params is not None else None))
        return self.pages[len(self.calls) - 1]


def _walk(getter: FakeGetter, caplog: pytest.LogCaptureFixture) -> list[list[dict[str, Any]]]:
    logger = logging.getLogger("tests.pagination")
    with caplog.at_level(logging.WARNING):
        return list(
            pagination.walk(getter, "/x", params={"per_page": 2}, records_key="data", logger=logger)
        )


def test_walk_follows_cursors_and_stops_on_empty_page(caplog: pytest.LogCaptureFixture) -> None:
    getter = FakeGetter(
        [
            {"data": [{"id": 1}], "pages": {"next": {"starting_after": "a"}}},
            {"data": [{"id": 2}], "pages": {"next": {"starting_after": "b"}}},
            {"data": [], "pages": {"next": {"starting_after": "c"}}},
        ]
    )
    assert _walk(getter, caplog) == [[{"id": 1}], [{"id": 2}]]
    assert getter.calls == [
        ("/x", {"per_page": 2}),
        ("/x", {"per_page": 2, "starting_after": "a"}),
        ("/x", {"per_page": 2, "starting_after": "b"}),
    ]


def test_walk_stops_without_a_cursor(caplog: pytest.LogCaptureFixture) -> None:
    getter = FakeGetter([{"data": [{"id": 1}], "pages": {"next": None}}])
    assert _walk(getter, caplog) == [[{"id": 1}]]
    assert len(getter.calls) == 1


def test_walk_stops_on_a_repeated_cursor_with_a_warning(
    caplog: pytest.LogCaptureFixture,
) -> None:
    getter = FakeGetter(
        [
            {"data": [{"id": 1}], "pages": {"next": {"starting_after": "a"}}},
            {"data": [{"id": 2}], "pages": {"next": {"starting_after": "a"}}},
            {"data": [{"id": 3}], "pages": {"next": None}},
        ]
    )
    assert _walk(getter, caplog) == [[{"id": 1}], [{"id": 2}]]
    assert len(getter.calls) == 2
    assert any("repeated" in r.getMessage() for r in caplog.records)


def test_walk_follows_links_replacing_the_query(caplog: pytest.LogCaptureFixture) -> None:
    getter = FakeGetter(
        [
            {"data": [{"id": 1}], "pages": {"next": "https://h/x?page=2&per_page=2"}},
            {"data": [{"id": 2}], "pages": {"next": None}},
        ]
    )
    assert _walk(getter, caplog) == [[{"id": 1}], [{"id": 2}]]
    assert getter.calls[1] == ("/x", {"page": "2", "per_page": "2"})
