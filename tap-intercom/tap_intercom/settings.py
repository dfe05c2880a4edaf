"""The tap's settings as one typed model, and checks that name the bad setting (their JSON
schema for the SDK is config_schema.py).

Pure: nothing here does I/O, so every rule is unit-tested directly.
"""

from __future__ import annotations

import datetime
import difflib
import re
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field
from decimal import Decimal

from tap_intercom.config_schema import (
    AUTO,
    DEFAULT_API_VERSION,
    DEFAULT_DRAIN_INTERVAL_SECONDS,
    DEFAULT_LOOKBACK_SECONDS,
    DEFAULT_RECONCILE_MARGIN_SECONDS,
    DEFAULT_SEARCH_RANGES,
    DEFAULT_SYNC_INTERVAL_SECONDS,
    MAX_HYDRATION_WORKERS,
    MAX_PAGE_SIZE,
    MAX_SEARCH_RANGES,
    REGION_URLS,
)
from tap_intercom.timestamps import parse_iso


class SettingError(ValueError):
    """A setting is invalid; the message names it and never includes a secret."""


@dataclass(frozen=True)
class Settings:
    """The validated settings the tap runs on (the token is kept out of repr)."""

    base_url: str
    api_version: str
    start_date: datetime.datetime | None
    lookback_seconds: int
    page_size: int
    #: None is `auto`: the rate budget sizes the flow.
    hydration_workers: int | None
    request_timeout: float
    max_retries: int
    user_agent: str
    rate_limit_headroom: float
    reconcile: bool = False
    reconcile_margin_seconds: int = DEFAULT_RECONCILE_MARGIN_SECONDS
    #: The archive a reconcile checks conversations and tickets against (archive mode).
    reconcile_archive: str | None = None
    reconcile_archive_encryption_key: str | None = field(default=None, repr=False)
    webhook_queue: str | None = None
    follow: bool = False
    drain_interval_seconds: float = DEFAULT_DRAIN_INTERVAL_SECONDS
    sync_interval_seconds: int = DEFAULT_SYNC_INTERVAL_SECONDS
    #: Ranges of a long search window read at once (search.split_points).
    search_ranges: int = DEFAULT_SEARCH_RANGES


_VERSION_RE = re.compile(r"^\d+\.\d+$")
# Printable ASCII without spaces: what an HTTP header value can carry after "Bearer ".
_TOKEN_RE = re.compile(r"\A[!-~]+\Z")


def version_tuple(version: str) -> tuple[int, int]:
    major, minor = version.split(".")
    return int(major), int(minor)


def parse_start_date(value: str) -> datetime.datetime:
    """ISO 8601 date or date-time; naive values are UTC."""
    try:
        return parse_iso(value)
    except ValueError:
        msg = f"start_date: {value!r} is not an ISO 8601 date or date-time"
        raise SettingError(msg) from None


def _int_in(config: dict, name: str, default: int, low: int, high: int) -> int:
    value = config.get(name, default)
    if value is None:
        return default
    if isinstance(value, bool) or not isinstance(value, int) or not low <= value <= high:
        msg = f"{name}: must be a whole number from {low} to {high}, got {value!r}"
        raise SettingError(msg)
    return value


def _number_in(config: dict, name: str, default: float, low: float, high: float) -> float:
    value = config.get(name, default)
    if value is None:
        return default
    # Config files are read with decimals (Meltano writes numbers that way): any real number.
    if isinstance(value, bool) or not isinstance(value, int | float | Decimal):
        msg = f"{name}: must be a number from {low} to {high}, got {value!r}"
        raise SettingError(msg)
    if not low <= float(value) <= high:
        msg = f"{name}: must be a number from {low} to {high}, got {float(value)}"
        raise SettingError(msg)
    return float(value)


def _bool(config: dict, name: str, default: bool) -> bool:
    """A boolean, also as the strings the environment gives (true/false, 1/0, yes/no)."""
    value = config.get(name, default)
    if value is None:
        return default
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in {"true", "1", "yes", "false", "0", "no"}:
        return value.strip().lower() in {"true", "1", "yes"}
    msg = f"{name}: must be true or false, got {value!r}"
    raise SettingError(msg)


def _workers(config: dict) -> int | None:
    """`auto` (None) or a whole number from 1 to MAX_HYDRATION_WORKERS, also as a digit string
    (Meltano passes a setting from the environment as a string)."""
    value = config.get("hydration_workers", AUTO)
    if value is None or (isinstance(value, str) and value.strip().lower() == AUTO):
        return None
    if isinstance(value, str) and value.strip().isascii() and value.strip().isdigit():
        value = int(value)
    if (
        isinstance(value, bool)
        or not isinstance(value, int)
        or not 1 <= value <= MAX_HYDRATION_WORKERS
    ):
        msg = (
            f"hydration_workers: must be {AUTO} or a whole number from 1 to "
            f"{MAX_HYDRATION_WORKERS}, got {value!r}"
        )
        raise SettingError(msg)
    return value


def validate(config: dict, *, default_user_agent: str) -> Settings:
    """Check every setting and return them parsed, or raise SettingError naming the bad one."""
    token = config.get("access_token")
    if not isinstance(token, str) or not token.strip():
        msg = "access_token: is required (an Intercom access token)"
        raise SettingError(msg)
    if not _TOKEN_RE.match(token):
        # http.client would refuse the header with an error that quotes the whole token.
        msg = "access_token: must not contain spaces, line breaks or control characters"
        raise SettingError(msg)

    api_url = config.get("api_url")
    if api_url:
        if not isinstance(api_url, str) or not re.match(r"^https?://[^/\s]+", api_url):
            msg = f"api_url: must be an http(s) URL, got {api_url!r}"
            raise SettingError(msg)
        base_url = api_url.rstrip("/")
    else:
        region = config.get("region") or "us"
        if region not in REGION_URLS:
            msg = f"region: must be one of {', '.join(sorted(REGION_URLS))}, got {region!r}"
            raise SettingError(msg)
        base_url = REGION_URLS[region]

    api_version = str(config.get("api_version") or DEFAULT_API_VERSION)
    if not _VERSION_RE.match(api_version):
        msg = f"api_version: must look like 2.16, got {api_version!r}"
        raise SettingError(msg)

    start_date = config.get("start_date")
    reconcile = _bool(config, "reconcile", False)
    queue, follow = _webhook_queue(config, reconcile=reconcile)
    return Settings(
        base_url=base_url,
        api_version=api_version,
        start_date=parse_start_date(str(start_date)) if start_date else None,
        lookback_seconds=_int_in(
            config, "lookback_window_seconds", DEFAULT_LOOKBACK_SECONDS, 0, 30 * 86400
        ),
        page_size=_int_in(config, "page_size", MAX_PAGE_SIZE, 1, MAX_PAGE_SIZE),
        hydration_workers=_workers(config),
        request_timeout=_number_in(config, "request_timeout", 60.0, 1.0, 600.0),
        max_retries=_int_in(config, "max_retries", 8, 1, 50),
        user_agent=str(config.get("user_agent") or default_user_agent),
        rate_limit_headroom=_number_in(config, "rate_limit_headroom", 0.05, 0.0, 0.9),
        reconcile=reconcile,
        reconcile_margin_seconds=_int_in(
            config, "reconcile_margin_seconds", DEFAULT_RECONCILE_MARGIN_SECONDS, 0, 7 * 86400
        ),
        reconcile_archive=_optional_text(config, "reconcile_archive", "the archive's path"),
        reconcile_archive_encryption_key=_optional_text(
            config, "reconcile_archive_encryption_key", "the archive's encryption key"
        ),
        webhook_queue=queue,
        follow=follow,
        drain_interval_seconds=_number_in(
            config, "drain_interval_seconds", DEFAULT_DRAIN_INTERVAL_SECONDS, 0.1, 3600.0
        ),
        sync_interval_seconds=_int_in(
            config, "sync_interval_seconds", DEFAULT_SYNC_INTERVAL_SECONDS, 1, 7 * 86400
        ),
        search_ranges=_int_in(config, "search_ranges", DEFAULT_SEARCH_RANGES, 1, MAX_SEARCH_RANGES),
    )


def _optional_text(config: dict, name: str, what: str) -> str | None:
    """A text setting that may be unset; empty is unset (Meltano gives an unset variable as
    ''). The message never shows the value (it may be a secret)."""
    value = config.get(name)
    if value is None or value == "":
        return None
    if not isinstance(value, str) or "\x00" in value:
        msg = f"{name}: must be {what} as a text"
        raise SettingError(msg)
    return value


def _webhook_queue(config: dict, *, reconcile: bool) -> tuple[str | None, bool]:
    """webhook_queue and follow, checked together: following needs a queue, and a follower
    never reconciles (a pass's version is its start, which a run of days would make stale)."""
    queue = config.get("webhook_queue")
    if queue is not None and (not isinstance(queue, str) or not queue.strip()):
        msg = f"webhook_queue: must be the path of the receiver's queue file, got {queue!r}"
        raise SettingError(msg)
    follow = _bool(config, "follow", False)
    if follow and not queue:
        msg = "follow: needs webhook_queue (the receiver's queue file) to follow"
        raise SettingError(msg)
    if follow and reconcile:
        msg = "follow: a follower does not reconcile; run the reconcile as its own scheduled job"
        raise SettingError(msg)
    return queue or None, follow


def unknown_settings(config: Mapping[str, object], known: Iterable[str]) -> dict[str, str | None]:
    """Each setting the tap does not know, with the closest known one (or None)."""
    names = sorted(set(known))
    return {
        key: next(iter(difflib.get_close_matches(key, names, n=1)), None)
        for key in sorted(set(config) - set(names))
    }


def environment_numbers(
    schema: Mapping[str, object], prefix: str, environ: Mapping[str, str]
) -> dict[str, int | float]:
    """Integer and decimal settings read from `<PREFIX><NAME>` variables.

    The SDK passes decimals from the environment on as strings (which then fail the schema
    check) and raises a traceback on a bad integer; this parses both or names the variable.
    """
    properties = schema.get("properties")
    parsed: dict[str, int | float] = {}
    for name, spec in (properties if isinstance(properties, dict) else {}).items():
        types = spec.get("type") if isinstance(spec, dict) else None
        kinds = set(types) if isinstance(types, list) else {types}
        variable = prefix + name.upper().replace("-", "_")
        text = environ.get(variable)
        if text is None or not kinds & {"integer", "number"}:
            continue
        try:
            parsed[name] = int(text) if "number" not in kinds else float(text)
        except ValueError:
            kind = "a decimal number" if "number" in kinds else "a whole number"
            msg = f"{name}: {variable} must be {kind}, got {text!r}"
            raise SettingError(msg) from None
    return parsed
