"""TapIntercom: settings, the shared client, the streams, and how a run ends."""

from __future__ import annotations

import sys
from functools import cached_property
from importlib.metadata import version
from typing import Any, ClassVar

from singer_sdk import Stream, Tap
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.helpers.capabilities import (
    CapabilitiesEnum,
    PluginCapabilities,
    TapCapabilities,
)
from typing_extensions import override

from tap_intercom.client import IntercomClient
from tap_intercom.errors import AccessTokenRejected, IntercomError
from tap_intercom.settings import CONFIG_SCHEMA, SettingError, Settings, validate
from tap_intercom.streams.companies import CompaniesStream
from tap_intercom.streams.contacts import ContactsStream, EventsStream, NotesStream
from tap_intercom.streams.conversations import (
    ConversationPartsStream,
    ConversationsStream,
    DeletedConversationsStream,
)
from tap_intercom.streams.help_center import ArticlesStream, CollectionsStream, HelpCentersStream
from tap_intercom.streams.tickets import TicketPartsStream, TicketsStream
from tap_intercom.streams.workspace import (
    AdminsStream,
    DataAttributesStream,
    SegmentsStream,
    SubscriptionTypesStream,
    TagsStream,
    TeamsStream,
)

STREAM_TYPES: list[type[Stream]] = [
    AdminsStream,
    TeamsStream,
    TagsStream,
    SegmentsStream,
    SubscriptionTypesStream,
    DataAttributesStream,
    CompaniesStream,
    ContactsStream,
    NotesStream,
    EventsStream,
    ConversationsStream,
    ConversationPartsStream,
    DeletedConversationsStream,
    TicketsStream,
    TicketPartsStream,
    ArticlesStream,
    CollectionsStream,
    HelpCentersStream,
]


class TapIntercom(Tap):
    """Singer tap for the Intercom REST API."""

    name = "tap-intercom"
    package_name = "tap-intercom"
    config_jsonschema = CONFIG_SCHEMA
    # BATCH is left out: batch files would bypass the per-page state of the incremental streams.
    capabilities: ClassVar[list[CapabilitiesEnum]] = [
        TapCapabilities.CATALOG,
        TapCapabilities.STATE,
        TapCapabilities.DISCOVER,
        PluginCapabilities.ACTIVATE_VERSION,
        PluginCapabilities.ABOUT,
        PluginCapabilities.STREAM_MAPS,
        PluginCapabilities.FLATTENING,
        PluginCapabilities.STRUCTURED_LOGGING,
    ]

    def __init__(self, *args: Any, validate_config: bool = True, **kwargs: Any) -> None:
        self.skipped: dict[str, str] = {}
        super().__init__(*args, validate_config=validate_config, **kwargs)
        if validate_config:
            _ = self.settings  # fail on a bad setting before the first request

    @override
    def _validate_config(self, *, raise_errors: bool = True) -> list[str]:
        """The SDK's schema checks, without the bad value when that value is the token.

        jsonschema's messages quote the value: a token handed over wrapped in an object or a
        list (as some secret stores do) would be printed whole.
        """
        token = self._config.get("access_token")
        try:
            errors = super()._validate_config(raise_errors=raise_errors)
        except ConfigValidationError as exc:
            raise ConfigValidationError(
                str(exc),
                errors=[_without_secret(error, token) for error in exc.errors],
                schema=exc.schema,
            ) from None
        return [_without_secret(error, token) for error in errors]

    @cached_property
    def settings(self) -> Settings:
        try:
            return validate(
                dict(self.config), default_user_agent=f"tap-intercom/{version('tap-intercom')}"
            )
        except SettingError as exc:
            raise ConfigValidationError("Config validation failed", errors=[str(exc)]) from None

    @cached_property
    def client(self) -> IntercomClient:
        return IntercomClient(self.settings, str(self.config["access_token"]))

    @override
    def discover_streams(self) -> list[Stream]:
        return [stream_type(self) for stream_type in STREAM_TYPES]

    def skip_stream(self, stream: str, reason: str, *, scope: str | None = None) -> None:
        """A stream that cannot be read: warn now, list it in the summary, keep the run going."""
        hint = f" (missing scope: {scope})" if scope else ""
        self.skipped[stream] = reason + hint
        self.logger.warning("Skipping stream '%s'%s: %s", stream, hint, reason)

    def log_summary(self) -> None:
        client = self.__dict__.get("client")
        requests = client.request_count if client else 0
        retries = client.retries if client else 0
        limited = client.statuses.get(429, 0) if client else 0
        self.logger.info(
            "Run summary: %d requests, %d retried, %d answered 429",
            requests,
            retries,
            limited,
        )
        if self.skipped:
            for stream, reason in sorted(self.skipped.items()):
                self.logger.warning("Run summary: stream '%s' was skipped: %s", stream, reason)
        else:
            self.logger.info("Run summary: no stream was skipped")

    @classmethod
    @override
    def invoke(cls, *args: Any, **kwargs: Any) -> None:
        """Run the sync; known failures end in one clear line and exit code 1."""
        try:
            super().invoke(*args, **kwargs)
        except AccessTokenRejected as exc:
            cls.logger.error("%s", exc)
            sys.exit(1)
        except IntercomError as exc:
            where = f" in stream '{exc.stream}'" if exc.stream else ""
            cls.logger.error("The sync stopped%s: %s", where, exc)
            sys.exit(1)


def _without_secret(message: str, secret: object) -> str:
    """A config error message with the value of a non-string token (and its parts) left out."""
    if secret is None or isinstance(secret, str):
        return message  # a string token is never quoted: its schema type matches
    if "access_token" in message:
        return "config['access_token'] must be a string (the value is not shown)"
    return message
