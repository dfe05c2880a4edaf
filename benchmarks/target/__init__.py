"""Benchmark of target-sqlite-archive through its CLI."""
