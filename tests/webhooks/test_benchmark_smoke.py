"""Smoke test of benchmarks/webhooks.py on a tiny size: the code runs and loses nothing.
Asserts structure, never a time (the figures are in BENCHMARKS.md)."""

from __future__ import annotations

from benchmarks import webhooks


def test_receiver_benchmark_runs() -> None:
    result = webhooks.measure("smoke", 120, 2, 3, 2.0)
    assert result.acknowledged == result.notifications == result.queued == 120
    assert result.lost == 0
    assert result.commits >= 1
    assert result.p99_ms >= result.p50_ms > 0
