"""Smoke test of the benchmark code (benchmarks/): every section on tiny sizes, our programs
only (no peer installs), into a temporary directory. Asserts the report's structure, never a
time: the figures themselves come from `benchmarks/run` (see BENCHMARKS.md)."""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from benchmarks import report, run_all, sections

SMOKE = sections.Sizes(
    contacts=40,
    conversations=20,
    companies=10,
    latencies=(5,),
    ours_repeat=1,
    peer_repeat={5: 1},
    changed_share=0.1,
    rate_limit_low=167,
    rate_contacts=20,
    rate_conversations=20,
    rate_latency=5,
    hydration_conversations=12,
    hydration_latency=10,
    hydration_repeat=1,
    ranges_contacts=40,
    ranges_latency=5,
    ranges_repeat=1,
    target_contacts=50,
    target_conversations=5,
    target_parts=3,
    target_repeat=1,
    memory_small=10,
    memory_large=40,
    memory_parts=2,
    large_contacts=60,
    large_conversations=20,
    large_parts=2,
    large_companies=10,
    large_latency=5,
    large_changed_share=0.1,
)


@pytest.fixture
def smoke_sizes(monkeypatch: pytest.MonkeyPatch, tmp_path: Path) -> Path:
    monkeypatch.setattr(run_all, "QUICK", SMOKE)
    # Unset, so that only `--out` can point the run (and its child processes) at tmp_path;
    # monkeypatch restores the variable afterwards.
    monkeypatch.delenv("BENCHMARKS_OUT", raising=False)
    return tmp_path


def test_every_section_reports_its_figures(smoke_sizes: Path) -> None:
    out = smoke_sizes
    assert run_all.main(["--quick", "--skip-peers", "--no-update", "--out", str(out)]) == 0
    # `--out` reached the children: their logs, inputs and work folders are all under it.
    assert os.environ["BENCHMARKS_OUT"] == str(out)
    assert {"logs", "inputs", "work"} <= {p.name for p in out.iterdir() if p.is_dir()}
    assert any((out / "logs").iterdir())
    report = (out / "report.md").read_text()
    for heading in (
        "## Goals",
        "## 1. Full sync",
        "## 2. Incremental cost",
        "## 3. Rate-limit utilisation",
        "## Hydration throughput (issue 4)",
        "## Search ranges (issue 17)",
        "## 4. Target throughput",
        "## 5. Memory",
        "## 6. Large workspace (issue 17)",
    ):
        assert heading in report
    results = json.loads((out / "report.json").read_text())["results"]
    rerender = ["--from-json", str(out / "report.json"), "--no-update"]
    assert run_all.main(rerender) == 0

    full = results["full_sync"]["latencies"]["5"]["ours"]
    assert full["failed"] == 0
    assert full["requests"] > 0
    assert sum(full["missing"].values()) == 0
    assert full["records"]["conversations"] == SMOKE.conversations
    assert results["full_sync"]["incremental"]["ours"]["requests"] > 0

    assert results["rate_limit"]["ok"]
    assert results["rate_limit"]["requests"] > 0
    assert set(results["hydration"]["rates"]) == {"1", "8"}
    assert all(len(r) == 1 for r in results["hydration"]["rates"].values())
    assert results["ranges"]["ok"]
    assert all(n[0] > 0 for n in results["ranges"]["requests"].values())

    target = results["target"]["inputs"]
    assert set(target) == {"contacts", "conversations + parts"}
    assert all(p["ours"]["ok"] and p["ours"]["records_per_s"] > 0 for p in target.values())

    large = results["large"]
    for run in ("full", "incremental"):
        assert large[run]["ok"]
        assert large[run]["requests"] > 0
        assert large[run]["tap_rss_mb"] > 0
        assert large[run]["target_rss_mb"] > 0
    assert large["full"]["requests"] > large["incremental"]["requests"]

    for program in ("tap", "target"):
        memory = results["memory"][program]
        assert memory["10"]["ok"]
        assert memory["40"]["ok"]
        assert memory["40"]["max_rss_mb"] > 0


def test_figures_go_between_the_markers(tmp_path: Path) -> None:
    page = tmp_path / "BENCHMARKS.md"
    page.write_text(f"# B\n\nintro\n\n{report.MARK_START}\nold\n{report.MARK_END}\n\nnotes\n")
    report.update_benchmarks_md("# Benchmarks\n\nnew figures\n", page)
    text = page.read_text()
    assert "new figures" in text
    assert "old" not in text
    assert text.startswith("# B\n\nintro")
    assert text.rstrip().endswith("notes")


def test_window_counts_keep_only_the_windows_the_run_covered() -> None:
    from benchmarks.common import window_counts

    # Requests start at t=103 and end at t=131: 167 in each of the windows 110 and 120.
    samples = [(100.0, 0), (103.5, 20), (109.9, 90), (111.0, 200), (119.9, 257)]
    samples += [(121.0, 400), (129.9, 424), (130.5, 450), (131.5, 460), (135.0, 460)]
    full, touched, partial = window_counts(samples)
    assert full == [167, 167]
    assert touched == 4
    assert partial == 460 - 334
    assert window_counts([]) == ([], 0, 0)


def test_goal_text_and_check_come_from_one_number() -> None:
    from benchmarks import goals

    assert goals.FULL_SYNC_SPEEDUP.text == "≥ 8×"  # issue 17 raised it from 5×
    assert goals.LARGE_PEAK_RSS_MB.text == "≤ 300 MB"
    assert goals.RATE_429_SHARE.text == "≤ 1 %"
    assert goals.RATE_UTILISATION.text == "≥ 90 %"
    moved = goals.Goal(2.5, at_most=True)
    assert moved.text == "≤ 2.5×"
    assert moved.met(2.5)
    assert not moved.met(2.6)
    assert goals.Goal(0.9, percent=True).met(0.9)
