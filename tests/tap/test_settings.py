"""Settings: every invalid value fails before the first request, naming the setting."""

from __future__ import annotations

import datetime
from typing import Any

import pytest
import requests_mock
from singer_sdk.exceptions import ConfigValidationError

from tap_intercom.settings import (
    REGION_URLS,
    SettingError,
    parse_start_date,
    validate,
    version_tuple,
)
from tap_intercom.tap import TapIntercom
from tests.tap.conftest import API, TOKEN, catalog_for, make_config

UA = "tap-intercom/9.9.9"

INVALID = [
    pytest.param({"access_token": None}, "access_token", id="missing-access_token"),
    pytest.param({"access_token": "   "}, "access_token", id="blank-access_token"),
    pytest.param({"start_date": "yesterday"}, "start_date", id="start_date-yesterday"),
    pytest.param({"page_size": 0}, "page_size", id="page_size-0"),
    pytest.param({"page_size": 500}, "page_size", id="page_size-500"),
    pytest.param({"region": "mars", "api_url": None}, "region", id="region-mars"),
    pytest.param({"api_url": "ftp://x"}, "api_url", id="api_url-ftp"),
    pytest.param({"hydration_workers": 0}, "hydration_workers", id="hydration_workers-0"),
    pytest.param({"api_version": "latest"}, "api_version", id="api_version-latest"),
    pytest.param({"max_retries": 0}, "max_retries", id="max_retries-0"),
    pytest.param({"request_timeout": 0.5}, "request_timeout", id="request_timeout-0.5"),
    pytest.param({"rate_limit_headroom": 1}, "rate_limit_headroom", id="headroom-1"),
    pytest.param(
        {"lookback_window_seconds": -1}, "lookback_window_seconds", id="lookback-negative"
    ),
]


def _construct_and_sync(config: dict[str, Any]) -> None:
    tap = TapIntercom(config=config, catalog=catalog_for("admins", "conversations"))
    tap.sync_all()


@pytest.mark.parametrize(("overrides", "setting"), INVALID)
def test_invalid_setting_fails_before_any_request_naming_it(
    overrides: dict[str, Any], setting: str
) -> None:
    config = make_config(**overrides)
    with requests_mock.Mocker() as mocker:
        mocker.get(requests_mock.ANY, json={})
        mocker.post(requests_mock.ANY, json={})
        with pytest.raises(ConfigValidationError) as caught:
            _construct_and_sync(config)
        assert mocker.call_count == 0
    text = " ".join(caught.value.errors)
    assert setting in text
    assert TOKEN not in text


@pytest.mark.parametrize(("overrides", "setting"), INVALID)
def test_validate_names_the_setting(overrides: dict[str, Any], setting: str) -> None:
    with pytest.raises(SettingError, match=setting):
        validate(make_config(**overrides), default_user_agent=UA)


@pytest.mark.parametrize("token", [TOKEN + "\n", " " + TOKEN, TOKEN[:5] + "\r\n" + TOKEN[5:]])
def test_a_token_that_cannot_be_a_header_is_refused_without_echoing_it(token: str) -> None:
    """http.client refuses such a header value with a ValueError that quotes it in full (the
    token) and the SDK would print it with a traceback: refuse it up front instead."""
    with pytest.raises(SettingError, match="access_token") as caught:
        validate(make_config(access_token=token), default_user_agent=UA)
    assert TOKEN not in str(caught.value)
    assert TOKEN[:5] not in str(caught.value)


def test_access_token_is_never_in_a_setting_error() -> None:
    with pytest.raises(SettingError) as caught:
        validate(make_config(page_size=0), default_user_agent=UA)
    assert TOKEN not in str(caught.value)


@pytest.mark.parametrize(("region", "url"), sorted(REGION_URLS.items()))
def test_region_picks_the_base_url(region: str, url: str) -> None:
    settings = validate(make_config(api_url=None, region=region), default_user_agent=UA)
    assert settings.base_url == url


def test_region_urls_are_intercoms_hosts() -> None:
    assert REGION_URLS == {
        "us": "https://api.intercom.io",
        "eu": "https://api.eu.intercom.io",
        "au": "https://api.au.intercom.io",
    }


def test_default_region_is_us() -> None:
    settings = validate({"access_token": TOKEN}, default_user_agent=UA)
    assert settings.base_url == "https://api.intercom.io"


def test_api_url_overrides_region_and_loses_trailing_slash() -> None:
    settings = validate(make_config(region="eu", api_url=API + "/"), default_user_agent=UA)
    assert settings.base_url == API


def test_api_url_overrides_even_an_invalid_region() -> None:
    settings = validate(make_config(region="mars"), default_user_agent=UA)
    assert settings.base_url == API


def test_defaults() -> None:
    settings = validate({"access_token": TOKEN, "api_url": API}, default_user_agent=UA)
    assert settings.api_version == "2.16"
    assert settings.page_size == 150
    assert settings.hydration_workers is None  # auto: the rate budget sizes the flow
    assert settings.max_retries == 8
    assert settings.lookback_seconds == 1800
    assert settings.user_agent == UA
    assert settings.start_date is None
    assert settings.rate_limit_headroom == pytest.approx(0.05)


def test_settings_repr_holds_no_token() -> None:
    settings = validate(make_config(), default_user_agent=UA)
    assert TOKEN not in repr(settings)


def test_configured_user_agent_wins() -> None:
    settings = validate(make_config(user_agent="acme-sync/1"), default_user_agent=UA)
    assert settings.user_agent == "acme-sync/1"


@pytest.mark.parametrize("size", [1, 150])
def test_page_size_bounds_are_inclusive(size: int) -> None:
    assert validate(make_config(page_size=size), default_user_agent=UA).page_size == size


def test_booleans_are_not_numbers() -> None:
    with pytest.raises(SettingError, match="page_size"):
        validate(make_config(page_size=True), default_user_agent=UA)


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2024-05-01", datetime.datetime(2024, 5, 1, tzinfo=datetime.UTC)),
        ("2024-05-01T12:30:00Z", datetime.datetime(2024, 5, 1, 12, 30, tzinfo=datetime.UTC)),
        (
            "2024-05-01T12:30:00+02:00",
            datetime.datetime(2024, 5, 1, 10, 30, tzinfo=datetime.UTC),
        ),
    ],
)
def test_start_date_forms(value: str, expected: datetime.datetime) -> None:
    assert parse_start_date(value) == expected


def test_version_tuple_orders_numerically() -> None:
    assert version_tuple("2.9") < version_tuple("2.16")


@pytest.mark.parametrize(
    "token",
    [
        pytest.param({"value": TOKEN}, id="object"),
        pytest.param([TOKEN], id="list"),
        pytest.param(735_112_987_654, id="number"),
    ],
)
def test_a_token_of_the_wrong_type_is_not_echoed(token: Any) -> None:
    """The SDK's JSON-schema message quotes the bad value: for a token handed over wrapped in
    an object (as some secret stores do) that is the token itself."""
    with pytest.raises(ConfigValidationError) as caught:
        TapIntercom(config=make_config(access_token=token))
    text = " ".join(caught.value.errors)
    assert "access_token" in text
    assert TOKEN not in text
    assert "735112987654" not in text


@pytest.mark.parametrize(
    ("value", "expected"),
    [("auto", None), ("AUTO", None), (None, None), (12, 12), ("12", 12), (1, 1), (32, 32)],
)
def test_hydration_workers_is_auto_or_a_hard_cap(value: Any, expected: int | None) -> None:
    settings = validate(make_config(hydration_workers=value), default_user_agent=UA)
    assert settings.hydration_workers == expected


@pytest.mark.parametrize("value", [0, 33, "many", "1.5", True, 2.0])
def test_hydration_workers_names_itself_when_wrong(value: Any) -> None:
    with pytest.raises(SettingError, match="hydration_workers: must be auto or a whole number"):
        validate(make_config(hydration_workers=value), default_user_agent=UA)
