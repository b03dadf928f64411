"""Einstein's transitions: what it reports of a training, and the bot's own outcomes of asking.

`observe` applies a report; `submitted` is the first one, confirming a retrain; `reject` is a
retrain refused or never confirmed, `lose` a training Einstein no longer knows, `unanswered` a
status check without a usable answer, and `with_result` a succeeded training's report.
"""

from __future__ import annotations

from datetime import datetime

from bot.core.jobs import ACTIVE_STATUSES, Job, JobStatus, Result
from bot.core.machine.guard import require
from bot.einstein.models import FAILED_STATUSES, Training

__all__ = ["lose", "observe", "reject", "submitted", "unanswered", "with_result"]

_REPORTED = {
    "QUEUED": JobStatus.QUEUED,
    "RUNNING": JobStatus.RUNNING,
    "SUCCEEDED": JobStatus.SUCCEEDED,
}
_REPORTED |= {name: JobStatus(name) for name in FAILED_STATUSES}
_FOLLOWED = frozenset({JobStatus.QUEUED, JobStatus.RUNNING})


def observe(job: Job, training: Training, *, now: datetime) -> Job:
    """The job after Einstein reported `training`; unchanged fields keep their values."""
    status = _REPORTED.get(training.status)
    if status is None:
        # Unknown values are treated as still running, never as success.
        status = JobStatus.RUNNING if job.status != JobStatus.SUBMITTING else JobStatus.QUEUED
    progress = 1.0 if status == JobStatus.SUCCEEDED else max(0.0, min(1.0, training.progress))
    running_since = job.running_since
    if status == JobStatus.RUNNING and running_since is None:
        running_since = now
    moved = status != job.status or progress != job.progress or job.last_progress_at is None
    queue_position = training.queue_position if status == JobStatus.QUEUED else None
    first_position = job.first_queue_position
    if status == JobStatus.QUEUED and JobStatus.QUEUED not in job.reached:
        first_position = queue_position
    return job.with_changes(
        last_contact_at=now,
        last_progress_at=now if moved else job.last_progress_at,
        last_error=None,
        status=status,
        progress=progress,
        queue_position=queue_position,
        reached=job.reached | {status} if status in _FOLLOWED else job.reached,
        first_queue_position=first_position,
        epochs=training.epochs or job.epochs,
        epochs_done=training.epochs_done if training.epochs_done is not None else job.epochs_done,
        failure_msg=training.failure_msg or job.failure_msg,
        running_since=running_since,
        finished_at=now
        if status not in ACTIVE_STATUSES and job.finished_at is None
        else job.finished_at,
        updated_at=now,
    )


def submitted(job: Job, training: Training, *, now: datetime) -> Job:
    """Einstein confirmed the retrain (or a status check found the training it started)."""
    require(job, frozenset({JobStatus.SUBMITTING}), "be confirmed")
    return observe(job, training, now=now)


def reject(job: Job, *, reason: str, now: datetime) -> Job:
    """Einstein refused the retrain, or never confirmed it: nothing runs, nothing is posted."""
    require(job, frozenset({JobStatus.SUBMITTING}), "be refused")
    return job.with_changes(
        status=JobStatus.REJECTED, failure_msg=reason, finished_at=now, updated_at=now
    )


def lose(job: Job, *, now: datetime) -> Job:
    """Einstein no longer knows the training."""
    require(job, _FOLLOWED, "be lost")
    return job.with_changes(status=JobStatus.LOST, finished_at=now, updated_at=now)


def unanswered(job: Job, *, error: str, now: datetime) -> Job:
    """A status check got no usable answer: the silence counts from the first one."""
    return job.with_changes(last_error=error, last_contact_at=job.last_contact_at or now)


def with_result(job: Job, result: Result) -> Job:
    """The success report (metrics, comparison) of a succeeded training."""
    require(job, frozenset({JobStatus.SUCCEEDED}), "carry a result")
    return job.with_changes(result=result)
