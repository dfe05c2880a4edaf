"""404s: a missing list skips its stream, a missing item is skipped and counted, and 404s from
the run's first request or from every stream say that the base URL is wrong."""

from __future__ import annotations

import logging

import pytest
import requests_mock

from tap_intercom.errors import WrongURL
from tap_intercom.tap import TapIntercom
from tests.tap.conftest import API, NOW, make_config, run_tap, run_tap_failing

NOT_FOUND = {"type": "error.list", "errors": [{"code": "not_found", "message": "Not Found"}]}
ADMINS = {"type": "admin.list", "admins": [{"type": "admin", "id": "1", "name": "A"}]}
TEAMS = {"type": "team.list", "teams": [{"type": "team", "id": "9", "name": "S"}]}


def _warnings(caplog: pytest.LogCaptureFixture) -> list[str]:
    return [r.getMessage() for r in caplog.records if r.levelno >= logging.WARNING]


def test_a_list_answering_404_skips_its_stream_and_the_run_goes_on(
    api: requests_mock.Mocker, caplog: pytest.LogCaptureFixture
) -> None:
    api.get(f"{API}/admins", json=ADMINS)
    api.get(f"{API}/tags", status_code=404, json=NOT_FOUND)
    api.get(f"{API}/teams", json=TEAMS)
    with caplog.at_level(logging.INFO):
        run = run_tap(["admins", "tags", "teams"])
    assert [r["id"] for r in run.records("admins")] == ["1"]
    assert [r["id"] for r in run.records("teams")] == ["9"]
    assert not run.records("tags")
    assert not run.of("ACTIVATE_VERSION", "tags")
    skips = [m for m in _warnings(caplog) if m.startswith("Skipping stream 'tags'")]
    assert len(skips) == 1
    assert "/tags" in skips[0]
    assert "/tags was not found" in run.tap.skipped["tags"]
    assert any(m.startswith("Run summary: stream 'tags' was skipped") for m in _warnings(caplog))


def test_a_404_on_the_first_request_means_the_url_is_wrong(api: requests_mock.Mocker) -> None:
    api.get(f"{API}/admins", status_code=404, json=NOT_FOUND)
    api.get(f"{API}/teams", json=TEAMS)
    error, _ = run_tap_failing(["admins", "teams"])
    assert isinstance(error, WrongURL)
    assert "first request" in str(error)
    assert API in str(error)
    assert "api_url" in str(error)
    assert [r.path for r in api.request_history] == ["/admins"]


def test_a_404_on_a_later_page_of_a_list_still_stops_the_run(
    api: requests_mock.Mocker,
) -> None:
    """Only a list that never answered is missing; a vanished cursor is a failure."""
    api.get(f"{API}/admins", json=ADMINS)
    api.get(
        f"{API}/articles",
        [
            {"json": {"data": [{"id": "a1"}], "pages": {"next": {"starting_after": "x"}}}},
            {"status_code": 404, "json": NOT_FOUND},
        ],
    )
    error, _ = run_tap_failing(["admins", "articles"])
    assert not isinstance(error, WrongURL)
    assert getattr(error, "stream", None) == "articles"


def test_a_404_on_one_parent_skips_that_parent_and_counts_it(
    api: requests_mock.Mocker,
) -> None:
    api.post(
        f"{API}/contacts/search",
        json={"data": [{"id": c, "updated_at": NOW - 5} for c in ("c1", "c2", "c3")]},
    )
    api.get(f"{API}/contacts/c1/notes", json={"data": [{"id": "n1", "created_at": NOW}]})
    api.get(f"{API}/contacts/c2/notes", status_code=404, json=NOT_FOUND)
    api.get(f"{API}/contacts/c3/notes", json={"data": [{"id": "n3", "created_at": NOW}]})
    run = run_tap(["contacts", "notes"])
    assert [n["id"] for n in run.records("notes")] == ["n1", "n3"]
    assert run.tap.streams["notes"].missing_parents == 1  # type: ignore[attr-defined]
    assert "notes" not in run.tap.skipped


def test_every_stream_skipped_for_404_fails_the_run_at_its_end() -> None:
    """With streams synced at once, the first answer may come from another stream's 404: the
    rule that holds in any order is that no stream at all could be listed."""
    tap = TapIntercom(config=make_config())
    tap.attempted = {"admins", "tags"}
    tap.skip_stream("admins", "/admins was not found", not_found=True)
    tap.log_summary()  # one stream could still be listed
    tap.skip_stream("tags", "/tags was not found", not_found=True)
    with pytest.raises(WrongURL, match="every stream \\(2\\) answered 404"):
        tap.log_summary()


def test_a_child_whose_first_parents_all_answer_404_lacks_its_endpoint(
    api: requests_mock.Mocker,
) -> None:
    ids = [f"c{n}" for n in range(8)]
    api.post(
        f"{API}/contacts/search",
        json={"data": [{"id": c, "updated_at": NOW - 5} for c in ids]},
    )
    for contact_id in ids:
        api.get(f"{API}/contacts/{contact_id}/notes", status_code=404, json=NOT_FOUND)
    run = run_tap(["contacts", "notes"])
    assert [r["id"] for r in run.records("contacts")] == ids
    asked = [r.path for r in api.request_history if r.path.endswith("/notes")]
    assert len(asked) == 5
    assert "lacks the endpoint" in run.tap.skipped["notes"]
