from __future__ import annotations

from collections.abc import Iterator

import pytest

from tests.emulator import Emulator, WorkspaceSpec

TOKEN = "e2e-token-0123456789abcdef"


def small_spec(seed: int = 7) -> WorkspaceSpec:
    return WorkspaceSpec(
        seed=seed,
        admins=6,
        teams=3,
        tags=12,
        segments=4,
        companies=40,
        contacts=240,
        conversations=160,
        tickets=30,
        articles=6,
        collections=3,
        parts_mean=6,
        cluster_size=420,
    )


@pytest.fixture
def emulator() -> Iterator[Emulator]:
    with Emulator(small_spec(), token=TOKEN, scroll_expiry=2.0) as emu:
        yield emu


def tap_config(emu: Emulator, **extra: object) -> dict[str, object]:
    return {
        "access_token": TOKEN,
        "api_url": emu.url,
        "start_date": "2000-01-01T00:00:00Z",
        "lookback_window_seconds": 600,
        **extra,
    }
