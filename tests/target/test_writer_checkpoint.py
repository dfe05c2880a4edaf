"""When the writer process checkpoints the WAL after a COMMIT (writer.checkpoint_due)."""

from __future__ import annotations

from target_sqlite_archive.writer import CHECKPOINT_AFTER_BYTES, checkpoint_due


def test_no_job_waiting_checkpoints_at_once() -> None:
    # The target is preparing the next job: the checkpoint's I/O costs it no wait.
    assert checkpoint_due(1, job_waiting=False)


def test_a_job_waiting_is_committed_first() -> None:
    # Its pages would otherwise be copied to the file now and again after its own COMMIT.
    assert not checkpoint_due(CHECKPOINT_AFTER_BYTES - 1, job_waiting=True)


def test_the_wal_is_bounded_when_jobs_keep_waiting() -> None:
    assert checkpoint_due(CHECKPOINT_AFTER_BYTES, job_waiting=True)
