"""What an Intercom error response becomes: the exception classes and their messages."""

from __future__ import annotations

from typing import Any

from tap_intercom import errors


def _error_body(code: str, message: str) -> dict[str, Any]:
    return {"type": "error.list", "errors": [{"code": code, "message": message}]}


def test_classify_401() -> None:
    exc = errors.classify(401, _error_body("unauthorized", "Access Token Invalid"), "/admins")
    assert isinstance(exc, errors.AccessTokenRejected)
    assert "the access token was rejected" in str(exc)
    assert exc.status == 401


def test_classify_403_names_the_scope() -> None:
    body = _error_body("forbidden", "You do not have the required scope (read_admins)")
    exc = errors.classify(403, body, "/admins")
    assert isinstance(exc, errors.StreamUnavailable)
    assert exc.scope == "read_admins"
    assert "/admins" in str(exc)


def test_classify_403_plan_restricted_uses_the_code() -> None:
    body = _error_body("api_plan_restricted", "Active subscription needed.")
    exc = errors.classify(403, body, "/tickets/search")
    assert isinstance(exc, errors.StreamUnavailable)
    assert exc.scope == "api_plan_restricted"


def test_classify_404_and_others() -> None:
    assert isinstance(errors.classify(404, None, "/conversations/1"), errors.NotFound)
    version = errors.classify(400, _error_body("intercom_version_invalid", "x"), "/p")
    assert isinstance(version, errors.StreamUnavailable)
    other = errors.classify(400, "garbage", "/p")
    assert type(other) is errors.IntercomError
    assert "no error body" in str(other)
