"""TapIntercom: its settings, the shared client, and the run with its summary."""

from __future__ import annotations

import json
import os
import re
import sys
import time
from concurrent.futures import ThreadPoolExecutor
from functools import cached_property
from importlib.metadata import version
from typing import Any, ClassVar

import click
from singer_sdk import Stream
from singer_sdk.exceptions import ConfigValidationError
from singer_sdk.helpers.capabilities import (
    CapabilitiesEnum,
    PluginCapabilities,
    TapCapabilities,
)
from singer_sdk.tap_base import CliTestOptionValue
from typing_extensions import override

from tap_intercom import DISTRIBUTION, drain, follow, probe, state
from tap_intercom.client import IntercomClient
from tap_intercom.concurrency import sync_at_once
from tap_intercom.config_schema import AUTO_MAX_WORKERS, CONFIG_SCHEMA
from tap_intercom.errors import AccessTokenRejected, IntercomError, RunStopped, WrongURL
from tap_intercom.ratelimit import bulk_thread
from tap_intercom.reconcile import Report
from tap_intercom.sdk_hooks import SdkTap
from tap_intercom.settings import (
    SettingError,
    Settings,
    environment_numbers,
    unknown_settings,
    validate,
)
from tap_intercom.stream_types import STREAM_TYPES
from tap_intercom.streams.base import IntercomStream
from tap_intercom.streams.reconcile_runs import ReconcileRunsStream

#: Threads of the page pool per range of a search read at once (see TapIntercom.page_pool): a
#: contacts page holds about ten lists.
PAGE_POOL_WORKERS = 8


class TapIntercom(SdkTap):
    """Singer tap for the Intercom REST API."""

    name = "tap-intercom"
    package_name = DISTRIBUTION
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
        #: Streams that began a sync, and those skipped because their list answered 404.
        self.attempted: set[str] = set()
        self.not_found: set[str] = set()
        # Unknown settings of the config, each with the known one closest to it.
        self.unknown_settings: dict[str, str | None] = {}
        super().__init__(*args, validate_config=validate_config, **kwargs)
        if validate_config:
            _ = self.settings  # fail on a bad setting before the first request

    @override
    def warn_unknown_settings(self) -> None:
        """A warning per unknown setting, naming the closest known one."""
        self.append_builtin_config(self.config_jsonschema)
        # The --about settings list, the SDK's own (stream_maps, flattening_*, ...) included.
        self.unknown_settings = unknown_settings(
            dict(self.config), self.config_jsonschema["properties"]
        )
        for key, close in self.unknown_settings.items():
            hint = f"; did you mean '{close}'?" if close else ""
            self.logger.warning("Unknown setting '%s' is ignored%s", key, hint)

    @override
    def explain_config_error(self, message: str) -> str:
        """A config error without the bad value when that value is the token, and with the
        misspelled key when a required setting is missing.

        jsonschema's messages quote the value: a token handed over wrapped in an object or a
        list (as some secret stores do) would be printed whole.
        """
        error = _without_secret(message, self.config.get("access_token"))
        missing = re.match(r"'(\w+)' is a required property", error)
        typo = [k for k, close in self.unknown_settings.items() if missing and close == missing[1]]
        return f"{error} (the config has '{typo[0]}': misspelled?)" if typo else error

    @classmethod
    @override
    def numbers_from_environment(cls, schema: dict[str, Any], prefix: str) -> dict[str, Any]:
        """Numbers parsed here: the SDK passes a decimal on as a string (which then fails the
        schema check) and raises a traceback on a bad whole number; a bad value is one line
        naming the variable."""
        try:
            return environment_numbers(schema, prefix, os.environ)
        except SettingError as exc:
            raise ConfigValidationError("Config validation failed", errors=[str(exc)]) from None

    @override
    def load_state(self, state_dict: dict[str, Any]) -> None:
        """Start from Meltano's wrapped state too; warn when the bookmarks belong to another
        tap; stop in one line on a bookmark that is not a date."""
        start = state.start_state(state_dict, [*self.streams, drain.STATE_KEY])
        if start.only_foreign:
            self.logger.warning(
                "The state has bookmarks only for streams this tap does not have (%s): "
                "another tap's state? They are ignored and every stream starts from start_date.",
                ", ".join(start.foreign),
            )
        elif start.foreign:
            self.logger.info(
                "The state's bookmarks for unknown streams are ignored: %s",
                ", ".join(start.foreign),
            )
        super().load_state(start.state)

    @cached_property
    def settings(self) -> Settings:
        try:
            return validate(
                dict(self.config), default_user_agent=f"tap-intercom/{version(DISTRIBUTION)}"
            )
        except SettingError as exc:
            raise ConfigValidationError("Config validation failed", errors=[str(exc)]) from None

    @cached_property
    def client(self) -> IntercomClient:
        return IntercomClient(self.settings, str(self.config["access_token"]))

    @override
    def discover_streams(self) -> list[Stream]:
        return [stream_type(self) for stream_type in STREAM_TYPES]

    def skip_stream(
        self, stream: str, reason: str, *, scope: str | None = None, not_found: bool = False
    ) -> None:
        """A stream that cannot be read: warn now, list it in the summary, keep the run going."""
        if not_found:
            self.not_found.add(stream)
        hint = f" (missing scope: {scope})" if scope else ""
        self.skipped[stream] = reason + hint
        self.logger.warning("Skipping stream '%s'%s: %s", stream, hint, reason)

    @cached_property
    def reconcile_report(self) -> Report | None:
        """The figures of this run's reconcile pass (None without `reconcile`); made when the
        run starts, which is the pass's start."""
        settings = self.settings
        if not settings.reconcile:
            return None
        return Report(started_at=time.time(), margin_seconds=settings.reconcile_margin_seconds)

    @cached_property
    def hydration_pool(self) -> ThreadPoolExecutor:
        """The threads that hydrate conversations and tickets (and complete contacts' lists),
        shared by those streams: `hydration_workers` caps them, `auto` leaves the flow to the
        rate budget."""
        return ThreadPoolExecutor(
            max_workers=self.settings.hydration_workers or AUTO_MAX_WORKERS,
            thread_name_prefix="hydration",
            initializer=bulk_thread,
        )

    @cached_property
    def page_pool(self) -> ThreadPoolExecutor:
        """The threads for requests a stream's next page waits on (contacts' full tags and
        companies lists). They are not bulk: their requests go with the streams' own, before
        the hydration backlog, in the same budget (a contacts page whose lists queued behind
        conversations' hydrations took three times as long). Each range of a search read at
        once (`search_ranges`) has its page's lists in flight. A `hydration_workers` number
        caps them too."""
        wanted = PAGE_POOL_WORKERS * self.settings.search_ranges
        workers = min(wanted, self.settings.hydration_workers or wanted)
        return ThreadPoolExecutor(max_workers=workers, thread_name_prefix="page")

    @override  # type: ignore[misc]  # final in the SDK
    def sync_all(self) -> None:
        """The run: one sync (SdkTap.sync_all); with `webhook_queue`, plus the queue's drain,
        or in follow mode drains until SIGTERM with that same sync as the safety net
        (tap_intercom/follow.py)."""
        if self.settings.webhook_queue is None:
            super().sync_all()
        else:
            follow.run(self, super().sync_all)

    @override
    def sync_streams(self, streams: list[Stream]) -> None:
        """Every top-level stream at once, then reconcile_runs alone: its figures are final
        only once every other stream has synced."""
        _ = self.reconcile_report  # the pass starts now
        last = [s for s in streams if s.name == ReconcileRunsStream.name]
        self._sync_at_once([s for s in streams if s.name != ReconcileRunsStream.name])
        report = self.reconcile_report
        if report is not None:
            report.finished_at = time.time()
        for stream in last:
            stream.sync()
            stream.finalize_state_progress_markers()

    def _sync_at_once(self, streams: list[Stream]) -> None:
        try:
            failures = sync_at_once(
                streams, on_failure=self.client.stop, answered=self.client.answered
            )
        finally:
            for pool in ("hydration_pool", "page_pool"):
                if pool in self.__dict__:
                    self.__dict__.pop(pool).shutdown(wait=False, cancel_futures=True)
        if not failures:
            return
        # The failure that stopped the run, not a stream it stopped (which may end first).
        first = next((f for f in failures if not isinstance(f, RunStopped)), failures[0])
        for other in failures:
            # The first failure ends the run in one line (invoke). Another stream's own failure
            # before it stopped is worth a warning; a rejected token, or a target that has gone
            # (a broken pipe), fails every stream alike.
            if isinstance(other, RunStopped | AccessTokenRejected | BrokenPipeError) or (
                other is first
            ):
                continue
            where = f" in stream '{other.stream}'" if isinstance(other, IntercomError) else ""
            self.logger.warning(
                "Stream failure%s, besides the one that stopped the run: %s", where, other
            )
        raise first

    @override
    def end_run(self) -> None:
        self.log_summary()
        report = self.reconcile_report
        if report is not None:
            self.logger.info("Reconcile summary:\n%s", report.table())

    @override
    def stop_streams(self) -> None:
        if "client" in self.__dict__:
            self.client.stop()

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
        if client and client.budget.latency is not None:
            self.logger.info(
                "Run summary: up to %d requests in flight at once; answers took %.0f ms lately",
                client.budget.most_in_flight,
                client.budget.latency * 1000,
            )
        if self.skipped:
            for stream, reason in sorted(self.skipped.items()):
                self.logger.warning("Run summary: stream '%s' was skipped: %s", stream, reason)
        else:
            self.logger.info("Run summary: no stream was skipped")
        if self.not_found and self.not_found >= self.attempted:
            raise WrongURL(self.wrong_url_message(f"every stream ({len(self.attempted)})"))

    def wrong_url_message(self, what: str, detail: str = "") -> str:
        """The closing line when 404s say that the base URL is not Intercom's API."""
        detail = f" ({detail})" if detail else ""
        return (
            f"{what} answered 404 Not Found{detail}: {self.settings.base_url} does not look "
            "like Intercom's API; check api_url (the API's base URL, e.g. "
            "https://api.intercom.io) or region"
        )

    # `--test`: probe every selected stream.

    def probe_streams(self) -> probe.Outcome:
        """One cheap request per selected stream (see probe.py); logs what each can read."""
        selected = [s for s in self.streams.values() if s.selected]
        planned: list[tuple[str, probe.Probe | str]] = []
        for stream in selected:
            reason = stream.unavailable_reason() if isinstance(stream, IntercomStream) else None
            planned.append((stream.name, reason or probe.probe_for(stream)))

        def send(request: probe.Probe) -> object:
            return self.client.request(
                request.method, request.path, params=dict(request.params), json_body=request.body
            )

        outcome = probe.run(planned, send)
        for name, why in outcome.streams.items():
            if why is None:
                self.logger.info("Test: stream '%s' can be read", name)
            else:
                self.logger.warning("Test: stream '%s' cannot be read (%s)", name, why)
        return outcome

    @classmethod
    @override
    def cb_test(cls, ctx: click.Context, param: click.Option, value: str) -> None:
        """`--test` probes each selected stream (of --catalog, else the default selection)
        instead of syncing a record of each: every missing scope is named, not the first."""
        if value != CliTestOptionValue.All.value:
            super().cb_test(ctx, param, value)
            return
        config = ctx.params.get("config")
        catalog = ctx.params.get("catalog")
        try:
            tap = cls(
                config=config.config if config else {},
                catalog=json.load(catalog) if catalog else None,
                parse_env_config=bool(config and config.parse_env),
                validate_config=True,
            )
            outcome = tap.probe_streams()
        except IntercomError as exc:
            cls.logger.error("Test failed: %s", exc)
            ctx.exit(1)
        unreadable = outcome.unreadable
        if unreadable:
            cls.logger.error(
                "Test failed: %d of %d selected streams cannot be read: %s",
                len(unreadable),
                len(outcome.streams),
                "; ".join(f"{name} ({why})" for name, why in unreadable.items()),
            )
            ctx.exit(1)
        cls.logger.info(
            "Test passed: all %d selected streams can be read (%d requests)",
            len(outcome.streams),
            outcome.requests,
        )
        ctx.exit()

    @classmethod
    @override
    def get_singer_command(cls) -> click.Command:
        command = super().get_singer_command()
        for option in command.params:
            if option.name == "catalog":
                option.is_eager = True  # read before --test's callback, which needs it
        return command

    @classmethod
    @override
    def invoke(cls, *args: Any, **kwargs: Any) -> None:
        """Run the sync; known failures end in one clear line and exit code 1."""
        try:
            super().invoke(*args, **kwargs)
        except (AccessTokenRejected, WrongURL) as exc:
            cls.logger.error("%s", exc)
            sys.exit(1)
        except IntercomError as exc:
            where = f" in stream '{exc.stream}'" if exc.stream else ""
            cls.logger.error("The sync stopped%s: %s", where, exc)
            sys.exit(1)
        except state.StateError as exc:
            cls.logger.error("%s", exc)
            sys.exit(1)


def _without_secret(message: str, secret: object) -> str:
    """A config error message with the value of a non-string token (and its parts) left out."""
    if secret is None or isinstance(secret, str):
        return message  # a string token is never quoted: its schema type matches
    if "access_token" in message:
        return "config['access_token'] must be a string (the value is not shown)"
    return message
