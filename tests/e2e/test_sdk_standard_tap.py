"""The singer-sdk's standard tap tests, run against the emulator.

The SDK's connection test stops each stream after one record, which leaves a companies scroll
open: the emulator here lets an idle scroll expire after one second, so the full sync that
follows can open its own after a short wait.

The SDK builds its test class from a config when this module is imported, before any fixture
runs; building the tap makes no request, so the config names the emulator only once a fixture
has started it (the SDK's runner reads this same dict when it syncs).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from singer_sdk.testing import SuiteConfig, get_tap_test_class

from tap_intercom.tap import TapIntercom
from tests.catalog import select_streams
from tests.e2e.conftest import TOKEN
from tests.emulator import Emulator, WorkspaceSpec

# api_url is the emulator's, set by the `emulator` fixture before the SDK's runner syncs.
CONFIG: dict[str, Any] = {
    "access_token": TOKEN,
    "api_url": "http://127.0.0.1:9",
    "start_date": "2000-01-01T00:00:00Z",
}

# notes and events are off by default; the standard tests should cover them too.
_StandardTests = get_tap_test_class(
    TapIntercom,
    config=CONFIG,
    catalog=select_streams(TapIntercom(config=CONFIG).catalog_dict, None),
    # reconcile_runs holds records only in a reconcile run (tests/reconcile covers it).
    suite_config=SuiteConfig(ignore_no_records_for_streams=["reconcile_runs"]),
)


class TestTapIntercom(_StandardTests):  # type: ignore[misc,valid-type]
    @pytest.fixture(scope="class", autouse=True)
    @classmethod
    def emulator(cls) -> Iterator[Emulator]:
        emulator = Emulator(
            WorkspaceSpec(
                seed=21, contacts=60, conversations=40, tickets=8, companies=12, parts_mean=3
            ),
            token=TOKEN,
            scroll_expiry=1.0,
        )
        emulator.start()
        CONFIG["api_url"] = emulator.url
        try:
            yield emulator
        finally:
            emulator.stop()
