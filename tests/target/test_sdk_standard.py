"""The singer-sdk's standard target tests, against a fresh archive file per test process."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

import pytest
from singer_sdk.testing import get_target_test_class

from target_sqlite_archive.target import TargetSqliteArchive

# One file per test process: the SDK's suite shares one config across its tests, and
# pytest-xdist runs them in two processes at once. The SDK reads this dict when each test
# builds its runner, after the `database` fixture has named the file.
CONFIG: dict[str, Any] = {}

_StandardTests = get_target_test_class(TargetSqliteArchive, config=CONFIG)


class TestTargetSqliteArchive(_StandardTests):  # type: ignore[misc,valid-type]
    @pytest.fixture(scope="class", autouse=True)
    @classmethod
    def database(cls, tmp_path_factory: pytest.TempPathFactory) -> Iterator[str]:
        path = str(tmp_path_factory.mktemp("sdk-standard") / "archive.sqlite")
        CONFIG["database"] = path
        try:
            yield path
        finally:
            CONFIG.clear()
