"""The singer-sdk's standard tap tests, run against the emulator.

The SDK's connection test stops each stream after one record, which leaves a companies scroll
open: the emulator here lets an idle scroll expire after one second, so the full sync that
follows can open its own after a short wait.
"""

from __future__ import annotations

import atexit
from typing import Any

from singer_sdk.testing import SuiteConfig, get_tap_test_class

from tap_intercom.tap import TapIntercom
from tests.e2e.conftest import TOKEN
from tests.emulator import Emulator, WorkspaceSpec

_EMULATOR = Emulator(
    WorkspaceSpec(seed=21, contacts=60, conversations=40, tickets=8, companies=12, parts_mean=3),
    token=TOKEN,
    scroll_expiry=1.0,
)
_EMULATOR.start()
atexit.register(_EMULATOR.stop)

CONFIG = {"access_token": TOKEN, "api_url": _EMULATOR.url, "start_date": "2000-01-01T00:00:00Z"}


def _catalog_selecting_everything() -> dict[str, Any]:
    """notes and events are off by default; the standard tests should cover them too."""
    catalog = TapIntercom(config=CONFIG).catalog_dict
    for entry in catalog["streams"]:
        for item in entry["metadata"]:
            if item["breadcrumb"] == []:
                item["metadata"]["selected"] = True
    return catalog


TestTapIntercom = get_tap_test_class(
    TapIntercom,
    config=CONFIG,
    catalog=_catalog_selecting_everything(),
    suite_config=SuiteConfig(ignore_no_records_for_streams=[]),
)
