"""One HTTP session for the whole tap: auth, version, base URL, budget, retries, error classes."""

from __future__ import annotations

import json
import logging
import threading
import time
from collections import Counter
from collections.abc import Mapping
from typing import Any
from urllib.parse import urlsplit

import backoff
import requests
from requests.adapters import HTTPAdapter
from urllib3.exceptions import NewConnectionError

from tap_intercom.errors import (
    IntercomError,
    RateLimited,
    RetriableResponse,
    RetriesExhausted,
    RunStopped,
    classify,
)
from tap_intercom.ratelimit import MAX_IN_FLIGHT, RateBudget
from tap_intercom.settings import Settings

LOGGER = logging.getLogger("tap-intercom")

_RETRIABLE = (
    RetriableResponse,
    requests.exceptions.ConnectionError,
    requests.exceptions.Timeout,
    requests.exceptions.ChunkedEncodingError,
    requests.exceptions.ContentDecodingError,
)
# Until the API has answered once, a host that cannot be reached is a wrong api_url or region
# (or no network), not a blip: the first connection gets this long and is not retried.
FIRST_CONNECT_TIMEOUT = 5.0


class _BearerAuth(requests.auth.AuthBase):
    """Adds the token at send time, so it is never part of a stored header dict we log."""

    def __init__(self, token: str) -> None:
        self._token = token

    def __call__(self, request: requests.PreparedRequest) -> requests.PreparedRequest:
        request.headers["Authorization"] = f"Bearer {self._token}"
        return request

    def __repr__(self) -> str:
        return "_BearerAuth(<redacted>)"


class IntercomClient:
    """Sends requests within the shared rate budget and returns parsed JSON bodies."""

    def __init__(self, settings: Settings, access_token: str) -> None:
        self.settings = settings
        self.base_url = settings.base_url
        self.budget = RateBudget(settings.rate_limit_headroom)
        self.session = requests.Session()
        self.session.auth = _BearerAuth(access_token)
        self.session.headers.update(
            {
                "Intercom-Version": settings.api_version,
                "Accept": "application/json",
                "User-Agent": settings.user_agent,
            }
        )
        # One connection per request the budget lets be in flight at once.
        pool = MAX_IN_FLIGHT
        adapter = HTTPAdapter(pool_connections=pool, pool_maxsize=pool, max_retries=0)
        self.session.mount("http://", adapter)
        self.session.mount("https://", adapter)
        self._lock = threading.Lock()
        #: Whether any response has arrived; until then a failed connection ends the run.
        self.connected = False
        self.requests_by_path: Counter[str] = Counter()
        self.statuses: Counter[int] = Counter()
        #: The status of the first response of the run: a 404 there means a wrong base URL.
        self.first_status: int | None = None
        self.retries = 0
        self._stopped = threading.Event()
        #: Set once the API has answered (any status).
        self.answered = threading.Event()

    @property
    def stopped(self) -> bool:
        """True once the run was stopped (a stream's failure, a 401, SIGTERM)."""
        return self._stopped.is_set()

    def stop(self) -> None:
        """Refuse every request from now on (RunStopped): a stream's failure ends the run."""
        self._stopped.set()

    # Public API

    def get(
        self, path: str, params: Mapping[str, Any] | None = None, *, replay: bool = True
    ) -> dict[str, Any]:
        return self.request("GET", path, params=params, replay=replay)

    def post(self, path: str, body: Mapping[str, Any]) -> dict[str, Any]:
        return self.request("POST", path, json_body=body)

    def get_text(self, path: str) -> str:
        """A GET answered in text/plain (a call transcript): its text."""
        url = f"{self.base_url}{path}"
        prepared = self.session.prepare_request(requests.Request("GET", url))
        prepared.headers["Accept"] = "text/plain"
        return str(self.send(prepared)[_TEXT])

    def request(
        self,
        method: str,
        path: str,
        *,
        params: Mapping[str, Any] | None = None,
        json_body: Mapping[str, Any] | None = None,
        replay: bool = True,
    ) -> dict[str, Any]:
        """One logical request: retried on transient failures, classified on final errors.

        `replay=False` is for requests that change server state even when their answer is lost
        (a companies scroll page advances the scroll): only a 429, which the server did not
        serve, is retried; any other failure raises RetriesExhausted at once.
        """
        url = path if path.startswith("http") else f"{self.base_url}{path}"
        prepared = self.session.prepare_request(
            requests.Request(method, url, params=params, json=json_body)
        )
        return self.send(prepared, replay=replay)

    def send(self, prepared: requests.PreparedRequest, *, replay: bool = True) -> dict[str, Any]:
        """Send a prepared request with retries; return its JSON body."""
        path = urlsplit(prepared.url or "").path

        def log_retry(details: Any) -> None:
            with self._lock:
                self.retries += 1
            LOGGER.warning(
                "Retrying %s %s in %.1fs (try %d of %d): %s",
                prepared.method,
                path,
                details.get("wait") or 0.0,
                details["tries"],
                self.settings.max_retries,
                _describe(details.get("exception")),
            )

        def give_up(details: Any) -> None:
            # A warning: the caller decides whether this ends the run (its error line says so)
            # or is recovered (a companies scroll restarts).
            LOGGER.warning(
                "Giving up on %s %s after %d tries", prepared.method, path, details["tries"]
            )

        sender = backoff.on_exception(
            backoff.expo,
            _RETRIABLE if replay else RateLimited,
            max_tries=self.settings.max_retries,
            giveup=self._never_connected,
            factor=0.5,
            max_value=30,
            on_backoff=log_retry,
            on_giveup=give_up,
            logger=None,
        )(self._send_once)
        try:
            return sender(prepared, path)
        except _RETRIABLE as exc:
            if self._never_connected(exc):
                raise IntercomError(
                    f"{prepared.method} {path}: {_describe(exc)}; check api_url (or region) "
                    "and the network"
                ) from None
            if not replay and not isinstance(exc, RateLimited):
                raise RetriesExhausted(
                    f"{prepared.method} {path} failed and cannot be replayed: {_describe(exc)}"
                ) from None
            raise RetriesExhausted(
                f"{prepared.method} {path} failed {self.settings.max_retries} times: "
                f"{_describe(exc)}"
            ) from None

    # Internals

    def _send_once(self, prepared: requests.PreparedRequest, path: str) -> dict[str, Any]:
        self._refuse_if_stopped()
        self.budget.acquire()
        if self._stopped.is_set():
            self.budget.release(None)
            self._refuse_if_stopped()
        headers = None
        rate_limited = False
        read = self.settings.request_timeout
        timeout = (read if self.connected else min(FIRST_CONNECT_TIMEOUT, read), read)
        started = time.monotonic()
        try:
            response = self.session.send(prepared, timeout=timeout)
            self.connected = True
            headers = response.headers
            rate_limited = response.status_code == 429
            with self._lock:
                first = self.first_status is None
                if first:
                    self.first_status = response.status_code
                    self.answered.set()
            if response.status_code == 401 or (first and response.status_code == 404):
                # No stream can be read with this token, or at this URL (see
                # IntercomStream.get_records): no other thread's request may go once this
                # answer frees the budget.
                self._stopped.set()
        finally:
            self.budget.release(
                headers, rate_limited=rate_limited, elapsed=time.monotonic() - started
            )
        with self._lock:
            self.requests_by_path[path] += 1
            self.statuses[response.status_code] += 1
        status = response.status_code
        if status == 429:
            raise RateLimited("HTTP 429")
        if status >= 500:
            raise RetriableResponse(f"HTTP {status}")
        if status < 400 and _wants_text(prepared) and _is_text(response) and response.content:
            # A text/plain answer to a request for text (its length was checked by urllib3) is
            # data, not a broken JSON body; an empty one is still retried below. A JSON request
            # answered in text stays a broken answer: taken as data it would end a list early.
            return {_TEXT: response.content.decode(response.encoding or "utf-8", "replace")}
        body = _parse_body(response)
        if status >= 400:
            raise classify(status, body, path, response.headers.get("Link"))
        if not isinstance(body, dict):
            raise RetriableResponse(f"HTTP {status} with an empty or truncated body")
        return body

    def _never_connected(self, exc: BaseException) -> bool:
        return not self.connected and _could_not_connect(exc)

    def _refuse_if_stopped(self) -> None:
        if self._stopped.is_set():
            msg = "the run stopped on another stream's failure"
            raise RunStopped(msg)

    @property
    def request_count(self) -> int:
        return sum(self.requests_by_path.values())


# The key under which send() returns a text/plain body.
_TEXT = "text/plain"


def _wants_text(prepared: requests.PreparedRequest) -> bool:
    return prepared.headers.get("Accept") == "text/plain"


def _is_text(response: requests.Response) -> bool:
    return (response.headers.get("Content-Type") or "").lower().startswith("text/plain")


def _parse_body(response: requests.Response) -> Any:
    try:
        return json.loads(response.content) if response.content else None
    except ValueError:
        return None


def _could_not_connect(exc: BaseException) -> bool:
    """No connection was made at all (refused, unresolvable, no answer to connect): not a
    connection that broke after it was made."""
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return True
    if isinstance(exc, requests.exceptions.ConnectionError) and exc.args:
        return isinstance(getattr(exc.args[0], "reason", None), NewConnectionError)
    return False


def _describe(exc: BaseException | None) -> str:
    """A short reason for a failure; never the request (its headers hold the token)."""
    if exc is None:
        return "unknown error"
    if isinstance(exc, requests.exceptions.ConnectTimeout):
        return f"could not connect to {_where(exc)} (no answer to the connection)"
    if isinstance(exc, requests.exceptions.Timeout):
        return "timed out"
    if isinstance(exc, requests.exceptions.ConnectionError):
        return f"could not connect to {_where(exc)}"
    return str(exc) or type(exc).__name__


def _where(exc: BaseException) -> str:
    # The host and port only (never a query string or credentials), so that an unreachable
    # api_url or region is named.
    request = getattr(exc, "request", None)
    parts = urlsplit(getattr(request, "url", None) or "")
    if not parts.hostname:
        return "the API"
    return f"{parts.hostname}:{parts.port}" if parts.port else parts.hostname
