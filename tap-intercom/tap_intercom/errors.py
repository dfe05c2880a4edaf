"""What an Intercom error response means for the run.

Messages name the request path and Intercom's own error code and text, never a header, a token
or the configuration.
"""

from __future__ import annotations

import re

_SCOPE_RE = re.compile(r"\(([a-z_]+)\)")


class IntercomError(Exception):
    """An API failure that ends the stream or the run."""

    def __init__(self, message: str, *, status: int | None = None, code: str = "") -> None:
        super().__init__(message)
        self.status = status
        self.code = code
        #: The stream that met the failure, set on the way out.
        self.stream: str | None = None


class AccessTokenRejected(IntercomError):
    """401: no stream can be read; the run stops."""


class StreamUnavailable(IntercomError):
    """403 (missing scope or plan) or a version that lacks the endpoint: skip the stream."""

    def __init__(
        self, message: str, *, scope: str | None = None, status: int | None = None, code: str = ""
    ) -> None:
        super().__init__(message, status=status, code=code)
        self.scope = scope


class NotFound(IntercomError):
    """404: on one item (e.g. a conversation deleted since it was listed) skip that item; on a
    whole list (a version, plan or region without the endpoint) skip the stream."""


class Gone(NotFound):
    """410 on one item: a merged contact (Intercom 2.17+), whose ``Link`` header names the
    contact it went into (``rel="canonical"``)."""

    def __init__(
        self, message: str, *, link: str | None = None, status: int | None = None, code: str = ""
    ) -> None:
        super().__init__(message, status=status, code=code)
        self.link = link


class WrongURL(IntercomError):
    """404 on the run's first request, or on every stream: the base URL is not Intercom's API."""


class RunStopped(IntercomError):
    """Another stream's failure has stopped the run: this stream stops at its next request."""


class RetriesExhausted(IntercomError):
    """A retriable failure outlasted every try."""


class RetriableResponse(Exception):
    """429, 5xx or an unreadable 200 body: try again (internal to the client)."""


class RateLimited(RetriableResponse):
    """429: the server did not serve the request, so even a non-replayable one may be retried."""


def first_error(body: object) -> tuple[str, str]:
    """Intercom's (code, message) from an error.list body, or empty strings."""
    if isinstance(body, dict):
        errors = body.get("errors")
        if isinstance(errors, list) and errors and isinstance(errors[0], dict):
            return str(errors[0].get("code") or ""), str(errors[0].get("message") or "")
    return "", ""


def missing_scope(message: str) -> str | None:
    """The scope named in Intercom's 403 text, e.g. 'read_admins'."""
    match = _SCOPE_RE.search(message)
    return match.group(1) if match else None


def classify(status: int, body: object, path: str, link: str | None = None) -> IntercomError:
    """The exception for a final (non-retriable) error status (``link``: its Link header)."""
    code, message = first_error(body)
    detail = f"{code}: {message}" if code or message else "no error body"
    if status == 401:
        return AccessTokenRejected(
            f"the access token was rejected by Intercom ({detail}); check access_token "
            "and that the app is installed on the workspace",
            status=status,
            code=code,
        )
    if status == 403:
        return StreamUnavailable(
            f"{path} is forbidden ({detail})",
            scope=missing_scope(message) or (code or None),
            status=status,
            code=code,
        )
    if status == 404:
        return NotFound(f"{path} was not found ({detail})", status=status, code=code)
    if status == 410:
        return Gone(f"{path} is gone ({detail})", link=link, status=status, code=code)
    if status == 400 and code == "intercom_version_invalid":
        return StreamUnavailable(
            f"{path} is not available in this API version ({detail})", status=status, code=code
        )
    return IntercomError(f"{path} failed with HTTP {status} ({detail})", status=status, code=code)
