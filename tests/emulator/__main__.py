"""``python -m tests.emulator``: serve a generated workspace until SIGTERM or SIGINT.

Prints exactly one line, ``EMULATOR_URL=http://127.0.0.1:PORT``, once the server accepts
connections.
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
import threading
from dataclasses import fields
from types import FrameType

from tests.emulator import Emulator
from tests.emulator.server import DEFAULT_TOKEN
from tests.emulator.webhooks import DEFAULT_APP_ID, DEFAULT_SECRET, WebhookSettings
from tests.emulator.workspace import WorkspaceSpec

SIZE_FIELDS = tuple(
    f.name for f in fields(WorkspaceSpec) if f.type in ("int", int) and f.name != "seed"
)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(prog="python -m tests.emulator", description=__doc__)
    parser.add_argument("--port", type=int, default=0, help="0 picks a free port")
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--anchor", type=int, default=None, help="unix seconds; default now")
    parser.add_argument("--timezone", default=None)
    for name in SIZE_FIELDS:
        parser.add_argument(f"--{name.replace('_', '-')}", type=int, default=None)
    parser.add_argument("--latency-ms", type=int, default=0)
    parser.add_argument("--rate-limit", type=int, default=10_000, help="requests per 10 s")
    parser.add_argument("--search-lag", type=float, default=0.0, help="seconds")
    parser.add_argument("--scroll-expiry", type=float, default=60.0, help="seconds")
    parser.add_argument("--token", default=DEFAULT_TOKEN)
    parser.add_argument(
        "--webhook-url",
        default=None,
        help="deliver signed notifications of mutations here (secret: $INTERCOM_CLIENT_SECRET"
        " or the emulator's default)",
    )
    parser.add_argument("--webhook-app-id", default=DEFAULT_APP_ID)
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    sizes = {n: getattr(args, n) for n in SIZE_FIELDS if getattr(args, n, None) is not None}
    spec = WorkspaceSpec(seed=args.seed, anchor=args.anchor, **sizes)
    if args.timezone:
        spec.timezone = args.timezone
    stop = threading.Event()

    def on_signal(signum: int, frame: FrameType | None) -> None:
        stop.set()

    signal.signal(signal.SIGTERM, on_signal)
    signal.signal(signal.SIGINT, on_signal)
    with Emulator(
        spec,
        token=args.token,
        rate_limit=args.rate_limit,
        search_lag=args.search_lag,
        scroll_expiry=args.scroll_expiry,
        latency_ms=args.latency_ms,
        port=args.port,
        webhooks=WebhookSettings(
            url=args.webhook_url,
            secret=os.environ.get("INTERCOM_CLIENT_SECRET") or DEFAULT_SECRET,
            app_id=args.webhook_app_id,
        )
        if args.webhook_url
        else None,
    ) as emu:
        sys.stdout.write(f"EMULATOR_URL={emu.url}\n")
        sys.stdout.flush()
        stop.wait()
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
