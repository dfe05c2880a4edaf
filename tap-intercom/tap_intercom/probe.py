"""`tap-intercom --test`: one cheap request per selected stream, naming those it cannot read.

A token can lack the scope of one stream only, and a sync meets that stream last: the probe
asks every selected stream's endpoint for one record (or nothing: a 404 on a made-up id has
passed the scope check too), so the answer names all of them at once.
"""

from __future__ import annotations

from collections.abc import Callable, Iterable
from dataclasses import dataclass, field
from typing import Any

from tap_intercom import search
from tap_intercom.errors import AccessTokenRejected, IntercomError, StreamUnavailable


@dataclass(frozen=True)
class Probe:
    """The one request that shows whether a stream's endpoint can be read."""

    method: str
    path: str
    params: tuple[tuple[str, Any], ...] = ()
    body: dict[str, Any] | None = field(default=None, compare=False, hash=False)


# A search that matches little: records updated in the first second of 1970.
_SEARCH_BODY = search.search_body(search.second_query(search.Range(0, 1)), per_page=1, cursor=None)


def probe_for(stream: Any) -> Probe:
    """The stream's own `probe`, its parent's for a child stream (same endpoint and scope),
    else its search or list endpoint asked for one record."""
    own = getattr(stream, "probe", None)
    if isinstance(own, Probe):
        return own
    search_path = getattr(stream, "search_path", None)
    if search_path:
        return Probe("POST", search_path, body=_SEARCH_BODY)
    path = getattr(stream, "path", None)
    if path:
        return Probe("GET", path, (("per_page", 1),))
    parent = getattr(stream, "parent_stream_type", None)
    if parent is not None:
        return probe_for(parent)  # the class's attributes suffice
    msg = f"stream '{stream.name}' has no endpoint to probe"
    raise TypeError(msg)


@dataclass
class Outcome:
    """What the probes found, per stream: None when it can be read, else why not."""

    streams: dict[str, str | None] = field(default_factory=dict)
    requests: int = 0

    @property
    def unreadable(self) -> dict[str, str]:
        return {name: why for name, why in self.streams.items() if why is not None}


def run(
    streams: Iterable[tuple[str, Probe | str]],
    send: Callable[[Probe], object],
) -> Outcome:
    """Send each distinct probe once; a string instead of a probe is a reason known without
    a request (e.g. the API version lacks the endpoint).

    A rejected token or an unreachable API raises: no stream could be read.
    """
    outcome = Outcome()
    answers: dict[Probe, str | None] = {}
    for name, probe in streams:
        if isinstance(probe, str):
            outcome.streams[name] = probe
            continue
        if probe not in answers:
            outcome.requests += 1
            answers[probe] = _ask(probe, send)
        outcome.streams[name] = answers[probe]
    return outcome


def _ask(probe: Probe, send: Callable[[Probe], object]) -> str | None:
    try:
        send(probe)
    except AccessTokenRejected:
        raise
    except StreamUnavailable as exc:
        return f"missing scope: {exc.scope}" if exc.scope else str(exc)
    except IntercomError as exc:
        if exc.status is not None and 400 <= exc.status < 500:
            return None  # answered after the token and scope checks (e.g. 404 on a made-up id)
        raise
    return None
