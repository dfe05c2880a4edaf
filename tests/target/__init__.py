"""Tests of target-sqlite-archive."""
