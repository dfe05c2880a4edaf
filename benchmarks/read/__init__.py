"""Benchmarks of the read side (intercom-archive) on a large generated archive."""
