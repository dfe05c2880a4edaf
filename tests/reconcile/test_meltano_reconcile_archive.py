"""meltano.yml gives each environment's tap its loader's database as reconcile_archive, so the
weekly reconcile checks conversations and tickets against the archive it writes."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]


def _config(environment: dict[str, Any], kind: str, name: str) -> dict[str, Any]:
    plugins = environment.get("config", {}).get("plugins", {}).get(kind, [])
    return next((p.get("config", {}) for p in plugins if p["name"] == name), {})


def test_every_reconciling_environment_reads_the_archive_its_loader_writes() -> None:
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    checked = []
    for environment in project["environments"]:
        tap = _config(environment, "extractors", "tap-intercom")
        loader = _config(environment, "loaders", "target-sqlite-archive")
        if tap.get("follow"):
            continue  # a follower never reconciles
        assert tap.get("reconcile_archive") == loader.get("database"), environment["name"]
        checked.append(environment["name"])
    assert {"demo", "prod"} <= set(checked)
