"""The project around the two programs: packaging, meltano.yml, the README, a real Meltano run."""

from __future__ import annotations

import json
import os
import shutil
import sqlite3
import subprocess
import sys
import uuid
import zipfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from tap_intercom.tap import TapIntercom
from tap_intercom.timestamps import iso
from tests.emulator import Emulator, WorkspaceSpec

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
MELTANO = ROOT / ".venv-meltano" / "bin" / "meltano"
sys.path.insert(0, str(ROOT / "scripts"))
import readme_settings  # noqa: E402  (a script, not a package)


def _meltano_plugins() -> dict[str, dict[str, Any]]:
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    plugins = project["plugins"]["extractors"] + project["plugins"]["loaders"]
    return {plugin["name"]: plugin for plugin in plugins}


@pytest.mark.parametrize("plugin", readme_settings.PLUGINS)
def test_meltano_yml_settings_agree_with_about(plugin: str) -> None:
    about = readme_settings.about(plugin)
    declared = {s["name"]: s for s in _meltano_plugins()[plugin]["settings"]}
    own = readme_settings.own_settings(plugin)
    assert set(declared) == set(own)
    for name, spec in own.items():
        setting = declared[name]
        secret = bool(spec.get("secret"))
        assert bool(setting.get("sensitive")) == secret, name
        assert (setting.get("kind") == "password") == secret, name
        if "default" in spec:
            assert setting.get("value") == spec["default"], name
    assert set(_meltano_plugins()[plugin]["capabilities"]) <= set(about["capabilities"])


def test_the_reconcile_schedule_runs_the_daily_job_with_the_same_state() -> None:
    """Meltano's state id is {env}:{extractor}-to-{loader}: the reconcile must run the very
    plugins of the daily job (not inherited ones), switched by its schedule's env alone."""
    project = yaml.safe_load((ROOT / "meltano.yml").read_text())
    schedules = {s["name"]: s for s in project["schedules"]}
    daily, weekly = schedules["intercom-daily"], schedules["intercom-reconcile-weekly"]
    assert weekly["job"] == daily["job"]
    assert weekly["env"] == {"TAP_INTERCOM_RECONCILE": "true"}
    assert "TAP_INTERCOM_RECONCILE" not in (daily.get("env") or {})
    extractors = project["plugins"]["extractors"]
    assert not [p for p in extractors if p.get("inherit_from") == "tap-intercom"]
    assert "reconcile" in {s["name"] for s in _meltano_plugins()["tap-intercom"]["settings"]}


def test_readme_documents_every_setting_and_only_those() -> None:
    readme = (ROOT / "README.md").read_text()
    assert readme_settings.render(readme) == readme, "run scripts/readme_settings.py"
    for plugin in readme_settings.PLUGINS:
        section = readme.split(f"<!-- settings:{plugin} -->")[1].split("<!-- /settings")[0]
        documented = {line.split("`")[1] for line in section.splitlines() if line.startswith("| `")}
        assert documented == set(readme_settings.own_settings(plugin))


def test_meltano_selection_and_the_readme_stream_table_agree_with_the_tap() -> None:
    """meltano.yml selects exactly the streams the tap selects by default; the README's
    stream table has a row for every stream, marked off by default exactly for the others."""
    streams = TapIntercom(config={"access_token": "x"}, validate_config=False).streams
    by_default = {name for name, stream in streams.items() if stream.selected_by_default}
    selected = {rule.removesuffix(".*") for rule in _meltano_plugins()["tap-intercom"]["select"]}
    assert selected == by_default
    table = (ROOT / "README.md").read_text().split("## Streams")[1].split("\n\n")[1]
    rows = {
        line.split("|")[1].strip(): line
        for line in table.splitlines()
        if line.startswith("| ") and not line.startswith("| stream")
    }
    names = {row.split(" *(")[0] for row in rows}
    assert names == set(streams)
    off = {row.split(" *(")[0] for row in rows if "*(off by default)*" in row}
    assert off == set(streams) - by_default


def test_readme_has_exactly_the_two_commands_and_ci_runs_the_test_one() -> None:
    readme = (ROOT / "README.md").read_text()
    block = readme.split("## The two commands")[1].split("```sh")[1].split("```")[0]
    commands = [line.split("#")[0].strip() for line in block.strip().splitlines()]
    assert commands == ["scripts/demo", "scripts/test"]
    ci = (ROOT / ".ci" / "run").read_text()
    assert "scripts/test" in ci


def test_schemas_ship_inside_a_wheel_built_from_a_copied_tree(tmp_path: Path) -> None:
    tree = tmp_path / "tree"
    shutil.copytree(ROOT / "tap-intercom", tree / "tap-intercom", ignore=_build_junk)
    shutil.copytree(ROOT / "schemas", tree / "schemas")
    subprocess.run(
        [
            BIN / "python",
            "-m",
            "pip",
            "wheel",
            "--no-deps",
            "-q",
            "-w",
            tmp_path / "dist",
            tree / "tap-intercom",
        ],
        check=True,
        capture_output=True,
    )
    wheel = next((tmp_path / "dist").glob("archivist_tap_intercom-*.whl"))
    names = zipfile.ZipFile(wheel).namelist()
    shipped = {Path(n).name for n in names if n.startswith("tap_intercom/schemas/")}
    assert {p.name for p in (ROOT / "schemas").glob("*.json")} <= shipped

    # Installed from that wheel (not editable, no repository beside it), the tap finds them.
    site = tmp_path / "site"
    subprocess.run(
        [BIN / "python", "-m", "pip", "install", "--no-deps", "-q", "--target", site, wheel],
        check=True,
        capture_output=True,
    )
    probe = (
        "import tap_intercom, json; from tap_intercom.schemas import schema_dir; "
        "from tap_intercom.tap import TapIntercom; "
        "print(json.dumps([tap_intercom.__file__, str(schema_dir()), "
        "sorted(TapIntercom(config={'access_token': 'x'}, validate_config=False).streams)]))"
    )
    out = subprocess.run(
        [BIN / "python", "-c", probe],
        env={**os.environ, "PYTHONPATH": str(site)},
        cwd=tmp_path,
        check=True,
        capture_output=True,
        text=True,
    )
    module, directory, streams = json.loads(out.stdout.strip().splitlines()[-1])
    assert module.startswith(str(site))
    assert directory.startswith(str(site))
    assert "conversations" in streams
    assert "contacts" in streams


def test_schemas_found_from_the_editable_install() -> None:
    from tap_intercom.schemas import schema_dir

    assert Path(str(schema_dir())) == ROOT / "schemas"


def _build_junk(directory: str, names: list[str]) -> set[str]:
    return {n for n in names if n in {"__pycache__", "build", "dist"} or n.endswith(".egg-info")}


def _meltano(*args: str, env: dict[str, str]) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [str(MELTANO), *args], cwd=ROOT, env=env, capture_output=True, text=True, timeout=900
    )


@pytest.mark.slow
@pytest.mark.skipif(not MELTANO.exists(), reason="scripts/bootstrap installs .venv-meltano")
def test_meltano_run_loads_the_archive_and_the_second_run_is_incremental(tmp_path: Path) -> None:
    spec = WorkspaceSpec(seed=5, contacts=200, conversations=120, tickets=20, companies=20)
    suffix = f"pytest-{uuid.uuid4().hex[:8]}"
    state_id = f"demo:tap-intercom-to-target-sqlite-archive:{suffix}"
    database = tmp_path / "archive.sqlite"
    with Emulator(spec, token="meltano-test-token", scroll_expiry=2.0) as emu:
        env = {
            **os.environ,
            "MELTANO_SEND_ANONYMOUS_USAGE_STATS": "false",
            "TAP_INTERCOM_API_URL": emu.url,
            "TAP_INTERCOM_ACCESS_TOKEN": "meltano-test-token",
            "TARGET_SQLITE_ARCHIVE_DATABASE": str(database),
            "INTERCOM_ARCHIVE_DATABASE": str(database),
        }
        installed = _meltano("install", env=env)
        assert installed.returncode == 0, installed.stderr[-3000:]
        run = (
            "--environment=demo",
            "run",
            "--state-id-suffix",
            suffix,
            "tap-intercom",
            "target-sqlite-archive",
            "intercom-archive:views",  # the job's last task, as in meltano.yml
        )
        try:
            first = _meltano(*run, env=env)
            assert first.returncode == 0, first.stderr[-3000:]
            truth = emu.truth()
            with sqlite3.connect(database) as archive:
                for stream in ("contacts", "conversations", "tickets", "companies", "admins"):
                    # Live rows: a deleted conversation's tombstone leaves a row marked deleted.
                    ids = {
                        r[0]
                        for r in archive.execute(
                            f'SELECT id FROM "{stream}" WHERE _sdc_deleted_at IS NULL'  # noqa: S608
                        )
                    }
                    assert ids == set(map(str, truth[stream])), stream
                views = {
                    r[0]
                    for r in archive.execute("SELECT name FROM sqlite_master WHERE type = 'view'")
                }
                assert "conversations_enhanced" in views
                deleted = {
                    r[0]
                    for r in archive.execute(
                        "SELECT id FROM conversations WHERE _sdc_deleted_at IS NOT NULL"
                    )
                }
                assert deleted == set(map(str, truth["deleted_conversations"]))
            stored = json.loads(
                _meltano("--environment=demo", "state", "get", state_id, env=env).stdout
            )
            bookmark = stored["singer_state"]["bookmarks"]["conversations"]
            assert bookmark["replication_key_value"]
            assert bookmark["window_end"] is None

            changed = emu.workspace.update("conversations", count=5)
            emu.reset_stats()
            second = _meltano(*run, env=env)
            assert second.returncode == 0, second.stderr[-3000:]
            hydrations = emu.stats()["routes"].get("GET /conversations/{id}", {})
            # Incremental thanks to Meltano's stored state: only what changed (and the short
            # lookback of the first run's last minutes) is fetched again.
            assert sum(hydrations.values()) < len(truth["conversations"]) / 2
            now_true = emu.truth()["conversations"]
            with sqlite3.connect(database) as archive:
                for rid in changed:
                    (updated,) = archive.execute(
                        "SELECT updated_at FROM conversations WHERE id = ?", (rid,)
                    ).fetchone()
                    assert updated == iso(now_true[rid])
        finally:
            _meltano("--environment=demo", "state", "clear", "--force", state_id, env=env)


def test_readme_hub_definition_agrees_with_meltano_yml() -> None:
    readme = (ROOT / "README.md").read_text()
    block = readme.split("<!-- hub-definition -->")[1].split("<!-- /hub-definition -->")[0]
    pasted = yaml.safe_load(block.split("```yaml")[1].split("```")[0])["plugins"]
    hub = {p["name"]: p for p in pasted["extractors"] + pasted["loaders"]}
    assert set(hub) == set(_meltano_plugins())
    for name, plugin in _meltano_plugins().items():
        assert hub[name]["capabilities"] == plugin["capabilities"], name
        assert hub[name]["executable"] == plugin["executable"], name
        assert hub[name]["pip_url"].endswith(f"#subdirectory={plugin['pip_url'][5:]}"), name
        for mine, ours in zip(hub[name]["settings"], plugin["settings"], strict=True):
            for key in ("name", "kind", "sensitive", "value"):
                assert mine.get(key) == ours.get(key), (name, mine["name"], key)
