"""Smoke tests of benchmarks/webhooks.py and benchmarks/follow.py on tiny sizes: the code runs
and loses nothing.
Asserts structure, never a time (the figures are in BENCHMARKS.md)."""

from __future__ import annotations

from benchmarks import follow, webhooks


def test_receiver_benchmark_runs() -> None:
    result = webhooks.measure("smoke", 120, 2, 3, 2.0)
    assert result.acknowledged == result.notifications == result.queued == 120
    assert result.lost == 0
    assert result.commits >= 1
    assert result.p99_ms >= result.p50_ms > 0


def test_follow_benchmark_runs() -> None:
    """benchmarks/follow.py on a tiny workspace: every change reaches the archive, the figures
    are all there."""
    result = follow.measure(20, 2.0, 0, follow.QUICK)
    assert result.changes == result.committed == 20
    assert result.p95_s >= result.p50_s >= 0
    assert result.max_s >= result.p95_s
    assert 0 < result.gets_by_id <= result.requests
    assert result.gets_per_item > 0
    assert result.left_per_window <= result.limit_per_window
