"""People's transitions: an approval asked, given, declined or run out, the approvers' reminder,
a stop, and the app's removal from the job's workspace."""

from __future__ import annotations

from datetime import datetime

from bot.core.jobs import ACTIVE_STATUSES, Job, JobStatus
from bot.core.machine.guard import require

__all__ = [
    "REMINDER",
    "UNINSTALLED",
    "approve",
    "await_approval",
    "cancel",
    "decline",
    "expire",
    "remind",
    "reminder_at",
    "uninstalled",
]

# The approvers' reminder, half-way to an approval's expiry: in `reached` once due, in
# `reported` once posted, so it goes out once whichever process is following the job.
REMINDER = "REMINDER"
# In `reported`: the app was uninstalled from the job's workspace, so nothing is owed there.
UNINSTALLED = "UNINSTALLED"


def await_approval(job: Job, *, expires_at: datetime, note: str) -> Job:
    """A protected model: the retrain waits for a second person until `expires_at`."""
    require(job, frozenset({JobStatus.SUBMITTING}), "wait for approval")
    return job.with_changes(
        status=JobStatus.AWAITING_APPROVAL,
        approval_expires_at=expires_at,
        decision_note=note,
        reached=job.reached | {JobStatus.AWAITING_APPROVAL},
    )


_AWAITING = frozenset({JobStatus.AWAITING_APPROVAL})


def approve(job: Job, *, by: str, now: datetime) -> Job:
    """A second person approved: the retrain is submitted next."""
    require(job, _AWAITING, "be approved")
    return job.with_changes(status=JobStatus.SUBMITTING, approver=by, updated_at=now)


def decline(job: Job, *, by: str, reason: str | None, now: datetime) -> Job:
    """The approver said no: nothing is submitted."""
    require(job, _AWAITING, "be declined")
    return job.with_changes(
        status=JobStatus.DECLINED,
        approver=by,
        decision_note=reason,
        finished_at=now,
        updated_at=now,
    )


def expire(job: Job, *, now: datetime) -> Job:
    """Nobody approved in time; unchanged while there is time left."""
    require(job, _AWAITING, "expire")
    if job.approval_expires_at is None or now < job.approval_expires_at:
        return job
    return job.with_changes(status=JobStatus.EXPIRED, finished_at=now, updated_at=now)


def reminder_at(job: Job) -> datetime | None:
    """When the approvers are reminded: half-way from the request to the approval's expiry;
    None once the reminder is due (or when nothing awaits approval)."""
    expires = job.approval_expires_at
    if job.status != JobStatus.AWAITING_APPROVAL or expires is None or REMINDER in job.reached:
        return None
    return job.created_at + (expires - job.created_at) / 2


def remind(job: Job, *, now: datetime) -> Job:
    """Half the approval time has passed: the reminder is owed; unchanged before that."""
    require(job, _AWAITING, "remind its approvers")
    due = reminder_at(job)
    if due is None or now < due:
        return job
    return job.with_changes(reached=job.reached | {REMINDER})


def cancel(job: Job, *, by: str, now: datetime) -> Job:
    """People stopped following it; Einstein has no cancel call, so its training may go on."""
    require(job, ACTIVE_STATUSES, "be stopped")
    return job.with_changes(
        status=JobStatus.CANCELLED,
        finished_at=now,
        updated_at=now,
        failure_msg=f"stopped by <@{by}>",
    )


def uninstalled(job: Job, *, now: datetime) -> Job:
    """The app was uninstalled from the job's workspace: nothing can be said there any more,
    so nothing is owed, and an active job is no longer followed (its training may go on)."""
    reported = job.reported | {UNINSTALLED}
    if job.status not in ACTIVE_STATUSES:
        return job.with_changes(reported=reported)
    return job.with_changes(
        status=JobStatus.CANCELLED,
        finished_at=now,
        updated_at=now,
        failure_msg="the app was uninstalled from its Slack workspace",
        reported=reported,
    )
