"""Reliability: faults end to end, bad configuration and input, SQLite failures, secrets,
and loading into PostgreSQL."""
