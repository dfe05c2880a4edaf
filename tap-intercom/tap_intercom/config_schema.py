"""The tap's settings as the SDK declares them: the JSON schema behind `--about`, Meltano's
settings and the SDK's first check, with the defaults the typed model (settings.py) shares."""

from __future__ import annotations

from singer_sdk import typing as th

REGION_URLS = {
    "us": "https://api.intercom.io",
    "eu": "https://api.eu.intercom.io",
    "au": "https://api.au.intercom.io",
}
DEFAULT_API_VERSION = "2.16"
# Intercom's documented search-index delay is "a few minutes"; half an hour of overlap costs one
# or two extra search pages per run and absorbs it with a wide margin.
DEFAULT_LOOKBACK_SECONDS = 1800
MAX_PAGE_SIZE = 150
# As long as the lookback: a record written this recently may be missing from a lagging listing.
DEFAULT_RECONCILE_MARGIN_SECONDS = DEFAULT_LOOKBACK_SECONDS
# Follow mode: a drain every second keeps the archive a few seconds behind at the cost of one
# cheap read of the local queue file; the safety-net search sync runs hourly.
DEFAULT_DRAIN_INTERVAL_SECONDS = 1.0
DEFAULT_SYNC_INTERVAL_SECONDS = 3600

AUTO = "auto"
# Ranges of a long search window read at once (see search.split_points).
DEFAULT_SEARCH_RANGES = 4
MAX_SEARCH_RANGES = 8
MAX_HYDRATION_WORKERS = 32
# Threads of the auto hydration pool: the rate budget decides how many of them have a request
# in flight (about rate x latency); the rest wait for a place in its flow.
AUTO_MAX_WORKERS = 64

CONFIG_SCHEMA = th.PropertiesList(
    th.Property(
        "access_token",
        th.StringType,
        required=True,
        secret=True,
        title="Access token",
        description="Intercom access token (private app token or OAuth token). Never logged.",
    ),
    th.Property(
        "region",
        th.StringType,
        default="us",
        allowed_values=sorted(REGION_URLS),
        title="Region",
        description="Where the workspace is hosted: us, eu or au. Ignored when api_url is set.",
    ),
    th.Property(
        "api_url",
        th.StringType,
        title="API base URL",
        description=(
            "Base URL of the API, e.g. a local emulator. When set it overrides region. No default."
        ),
    ),
    th.Property(
        "api_version",
        th.StringType,
        default=DEFAULT_API_VERSION,
        title="API version",
        description=(
            "Value of the Intercom-Version header. Streams whose endpoints this version lacks "
            "are skipped with a warning."
        ),
    ),
    th.Property(
        "start_date",
        th.DateTimeType,
        title="Start date",
        description=(
            "ISO 8601 date or date-time. The first run of an incremental stream reads records "
            "updated from here on; without it, from the beginning."
        ),
    ),
    th.Property(
        "lookback_window_seconds",
        th.IntegerType,
        default=DEFAULT_LOOKBACK_SECONDS,
        title="Lookback window (seconds)",
        description=(
            "Every incremental run re-reads this many seconds before the last bookmark, so "
            "records that Intercom's search index showed late are not missed."
        ),
    ),
    th.Property(
        "page_size",
        th.IntegerType,
        default=MAX_PAGE_SIZE,
        title="Page size",
        description="Records per list or search page, 1 to 150.",
    ),
    th.Property(
        "hydration_workers",
        th.CustomType({"type": ["integer", "string"]}),
        default=AUTO,
        title="Hydration workers",
        description=(
            "Concurrent GET /conversations/{id} and /tickets/{id} requests, all inside the one "
            "shared rate budget. `auto`: as many as the budget and the observed latency keep "
            f"busy (about rate x latency, at most {AUTO_MAX_WORKERS}); a number from 1 to "
            f"{MAX_HYDRATION_WORKERS} is a hard cap (also on the threads that read contacts' "
            "full tag and company lists)."
        ),
    ),
    th.Property(
        "search_ranges",
        th.IntegerType,
        default=DEFAULT_SEARCH_RANGES,
        title="Search ranges",
        description=(
            "A long contact search window (a first sync) is read as up to this many ranges of "
            "updated_at at once, each at least 30 days and with its own cursor in the state, "
            "inside the one rate budget (conversations and tickets are paced by their "
            f"hydration and read in one pass). 1 to {MAX_SEARCH_RANGES}; 1 reads every window "
            "in one pass."
        ),
    ),
    th.Property(
        "request_timeout",
        th.NumberType,
        default=60,
        title="Request timeout (seconds)",
        description="Seconds to wait for a response before the request is retried.",
    ),
    th.Property(
        "max_retries",
        th.IntegerType,
        default=8,
        title="Maximum tries",
        description=(
            "Tries of one request on 429, 5xx, connection errors, timeouts and empty or "
            "truncated bodies before the run stops with an error."
        ),
    ),
    th.Property(
        "user_agent",
        th.StringType,
        title="User agent",
        description="User-Agent header. Defaults to tap-intercom/<version>.",
    ),
    th.Property(
        "rate_limit_headroom",
        th.NumberType,
        default=0.05,
        title="Rate-limit headroom",
        description=(
            "Share of each 10-second rate-limit window left unused (0 to 0.9), for other "
            "clients of the same app. The tap waits for the next window instead of spending it."
        ),
    ),
    th.Property(
        "reconcile",
        th.BooleanType,
        default=False,
        title="Reconcile",
        description=(
            "Instead of their incremental windows, list every contact, conversation and ticket "
            "(each conversation and ticket fetched again with its parts), so the target marks "
            "what Intercom no longer holds; bookmarks stay as they were. Costs about "
            "contacts/150 + conversations + tickets requests (with reconcile_archive, about "
            "total/150 per entity). The reconcile_runs stream reports it."
        ),
    ),
    th.Property(
        "reconcile_archive",
        th.StringType,
        title="Reconcile archive",
        description=(
            "Path of the archive target-sqlite-archive writes (its database). A reconcile then "
            "reads it (read-only) and fetches only the conversations and tickets it lacks, "
            "holds older, or holds short of parts, and checks by id the archived ones "
            "Intercom no longer lists: about total/150 requests per entity. Without it (or if "
            "it cannot be read) every conversation and ticket is fetched again. No default."
        ),
    ),
    th.Property(
        "reconcile_archive_encryption_key",
        th.StringType,
        secret=True,
        title="Reconcile archive encryption key",
        description=(
            "The key of an encrypted reconcile_archive (the target's encryption_key); needs "
            "the tap's encrypted-archive extra (sqlcipher3). Never logged."
        ),
    ),
    th.Property(
        "reconcile_margin_seconds",
        th.IntegerType,
        default=DEFAULT_RECONCILE_MARGIN_SECONDS,
        title="Reconcile margin (seconds)",
        description=(
            "A reconcile leaves unmarked the rows written this many seconds before it started "
            "(Intercom's listings can lag, like its search index); the next reconcile checks them."
        ),
    ),
    th.Property(
        "webhook_queue",
        th.StringType,
        title="Webhook queue",
        description=(
            "Path of the intercom-webhooks receiver's queue file. When set, every run also "
            "fetches each item notified since the last run by id (one GET per item) into its "
            "stream, deletions and merges as tombstones. No default."
        ),
    ),
    th.Property(
        "follow",
        th.BooleanType,
        default=False,
        title="Follow the webhook queue",
        description=(
            "With webhook_queue: run until SIGTERM, draining the queue every "
            "drain_interval_seconds and running the normal incremental sync every "
            "sync_interval_seconds as the safety net."
        ),
    ),
    th.Property(
        "drain_interval_seconds",
        th.NumberType,
        default=DEFAULT_DRAIN_INTERVAL_SECONDS,
        title="Drain interval (seconds)",
        description="In follow mode, seconds between two drains of the webhook queue, 0.1 to 3600.",
    ),
    th.Property(
        "sync_interval_seconds",
        th.IntegerType,
        default=DEFAULT_SYNC_INTERVAL_SECONDS,
        title="Safety-net sync interval (seconds)",
        description=(
            "In follow mode, seconds between two runs of the normal incremental sync, which "
            "catches changes whose webhooks were lost; 1 to 604800."
        ),
    ),
).to_dict()
