"""Run singer-io's tap-intercom (2.2.5, PyPI) against the emulator, for side-by-side benchmarks.

That tap hard-codes ``https://api.intercom.io``; this shim points it at ``--base-url`` and then
hands the remaining arguments to its ``main``. Run it with the interpreter of a separate
virtualenv that has ``tap-intercom==2.2.5`` installed (its package is also called
``tap_intercom``, so it must not share an environment with ours), by path::

    /tmp/peervenv/bin/python tests/emulator/run_peer.py --base-url "$EMULATOR_URL" \\
        -c config.json --catalog catalog.json > out.jsonl

``config.json`` needs ``access_token`` (the emulator's token), ``start_date`` and
``user_agent``. Checked by hand with 2.2.5: all 11 of its streams sync against the emulator.
"""

from __future__ import annotations

import importlib
import sys
from typing import Any


def main(argv: list[str]) -> int:
    if len(argv) < 2 or argv[0] != "--base-url":
        sys.stderr.write("usage: run_peer.py --base-url URL <tap-intercom arguments>\n")
        return 2
    base_url, rest = argv[1].rstrip("/"), argv[2:]
    client = importlib.import_module("tap_intercom.client")
    original = client.IntercomClient.__init__

    def init(self: Any, *args: Any, **kwargs: Any) -> None:
        original(self, *args, **kwargs)
        self.base_url = base_url

    client.IntercomClient.__init__ = init
    sys.argv = [sys.argv[0], *rest]
    tap = importlib.import_module("tap_intercom")
    result: int | None = tap.main()
    return result or 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
