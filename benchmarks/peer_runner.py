"""Run singer-io's tap-intercom 2.2.5 against the emulator.

    benchmarks/.venv-peer-tap/bin/python benchmarks/peer_runner.py --api-url URL -- \
        --config C --catalog K [--state S]
    benchmarks/.venv-peer-tap/bin/python benchmarks/peer_runner.py --api-url URL -- \
        --config C --discover

Runs inside the peer's own virtual environment (it needs only the peer's installed package).
The peer hard-codes `self.base_url = 'https://api.intercom.io'` in `IntercomClient.__init__`;
this wraps that constructor to point the instance at the emulator, then calls the peer's own
`main()` unchanged. Nothing else of the peer is altered: its requests, pacing (its own
`@utils.ratelimit(1000, 60)`), retries and output are its own.
"""

from __future__ import annotations

import argparse
import functools
import importlib
import sys
import typing as t


def patch_base_url(api_url: str) -> None:
    """Point every `IntercomClient` the peer creates at `api_url`."""
    client_module: t.Any = importlib.import_module("tap_intercom.client")
    original = client_module.IntercomClient.__init__

    @functools.wraps(original)
    def __init__(self: t.Any, *args: t.Any, **kwargs: t.Any) -> None:
        original(self, *args, **kwargs)
        self.base_url = api_url.rstrip("/")

    client_module.IntercomClient.__init__ = __init__


def main(argv: list[str] | None = None) -> None:
    argv = list(sys.argv[1:] if argv is None else argv)
    split = argv.index("--") if "--" in argv else len(argv)
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--api-url", required=True)
    args = parser.parse_args(argv[:split])
    patch_base_url(args.api_url)
    tap: t.Any = importlib.import_module("tap_intercom")
    sys.argv = ["tap-intercom", *argv[split + 1 :]]
    tap.main()


if __name__ == "__main__":
    main()
