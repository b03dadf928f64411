"""The job's alert: Einstein silent too long, a running training not moving, or a training
queued too long; and the reply key of each alert and of the recovery that follows it."""

from __future__ import annotations

from datetime import datetime

from bot.core.jobs import Job, JobStatus

__all__ = [
    "QUEUED_LONG",
    "RECOVERED",
    "STALLED",
    "UNREACHABLE",
    "alert_key",
    "assess",
    "queued_long_said",
]

STALLED = "STALLED"
QUEUED_LONG = "QUEUED_LONG"  # still in Einstein's queue after `queue_stall_after`
UNREACHABLE = "UNREACHABLE"
RECOVERED = "RECOVERED"


def queued_long_said(job: Job) -> bool:
    """Whether the thread already said the training is still queued."""
    return any(key.startswith(f"{QUEUED_LONG}#") for key in job.reported)


def alert_key(job: Job) -> str | None:
    """The reply key of the job's current alert or recovery, e.g. `STALLED#1`."""
    if job.condition_seq == 0:
        return None
    return f"{job.condition or RECOVERED}#{job.condition_seq}"


def assess(
    job: Job,
    *,
    now: datetime,
    stall_after: float,
    unreachable_after: float,
    queue_stall_after: float = float("inf"),
) -> Job:
    """Set the job's alert: Einstein silent too long, a running training not moving, or a
    training queued too long.

    An alert that clears before it was announced is withdrawn instead of followed by a
    recovery nobody needs. The queue alert is said once per job, and is followed by no
    recovery: the "training started" reply says how long it waited.
    """
    condition: str | None = None
    if job.is_final:
        condition = None
    elif job.last_contact_at and (now - job.last_contact_at).total_seconds() > unreachable_after:
        condition = UNREACHABLE
    elif (
        job.status == JobStatus.RUNNING
        and job.last_progress_at
        and (now - job.last_progress_at).total_seconds() > stall_after
    ):
        condition = STALLED
    elif (
        job.status == JobStatus.QUEUED
        and job.last_progress_at  # set when it was queued; a queue position is no progress
        and (now - job.last_progress_at).total_seconds() > queue_stall_after
        and not queued_long_said(job)
    ):
        condition = QUEUED_LONG
    if condition == job.condition:
        return job
    if condition is None and job.condition == QUEUED_LONG and queued_long_said(job):
        return job  # said once; it ends with the "started" reply, not with a recovery
    if condition is None and alert_key(job) not in job.reported:
        return job.with_changes(condition=None, condition_seq=max(0, job.condition_seq - 1))
    return job.with_changes(condition=condition, condition_seq=job.condition_seq + 1)
