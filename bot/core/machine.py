"""The one state machine: every way a job changes, whether Einstein or a person causes it.

Each transition is a pure function from a job (and what happened) to the next job. Einstein's
reports go through `observe`; the bot's own outcomes through `submitted`, `reject`, `lose` and
`unanswered`; people's decisions through `await_approval`, `approve`, `decline`, `expire` and
`cancel` (and the time they take through `remind`), and the app's removal from the job's
workspace through `uninstalled`; Slack's confirmations through `card_posted`
and `posted`, its refusals of a channel through `refused` and `move` (to the requester's DM).
A transition that does not apply to the job's status raises `TransitionError` instead of guessing.

    AWAITING_APPROVAL ──approve──▶ SUBMITTING ──submitted──▶ QUEUED ──▶ RUNNING ──▶ SUCCEEDED
          │ decline / expire            │ reject                 └───────┴──▶ FAILED, KILLED,
          ▼                             ▼                                      FAILED_WITH_RETRIES
    DECLINED / EXPIRED               REJECTED            any active ──cancel──▶ CANCELLED
                                                         QUEUED/RUNNING ──lose──▶ LOST
"""

from __future__ import annotations

from datetime import datetime

from bot.core.jobs import ACTIVE_STATUSES, Job, JobStatus, Result
from bot.einstein.models import FAILED_STATUSES, Training
from bot.errors import BotError

__all__ = [
    "MOVE_AFTER",
    "QUEUED_LONG",
    "RECOVERED",
    "REMINDER",
    "STALLED",
    "UNINSTALLED",
    "UNREACHABLE",
    "TransitionError",
    "alert_key",
    "approve",
    "assess",
    "await_approval",
    "cancel",
    "card_posted",
    "decline",
    "expire",
    "lose",
    "move",
    "observe",
    "posted",
    "queued_long_said",
    "refused",
    "reject",
    "remind",
    "reminder_at",
    "submitted",
    "unanswered",
    "uninstalled",
    "with_result",
]

STALLED = "STALLED"
# The approvers' reminder, half-way to an approval's expiry: in `reached` once due, in
# `reported` once posted, so it goes out once whichever process is following the job.
REMINDER = "REMINDER"
QUEUED_LONG = "QUEUED_LONG"  # still in Einstein's queue after `queue_stall_after`
# In `reported`: the app was uninstalled from the job's workspace, so nothing is owed there.
UNINSTALLED = "UNINSTALLED"
# Refused posts in a channel the bot cannot enter before the thread moves to the requester's DM.
MOVE_AFTER = 3
UNREACHABLE = "UNREACHABLE"
RECOVERED = "RECOVERED"
_REPORTED = {
    "QUEUED": JobStatus.QUEUED,
    "RUNNING": JobStatus.RUNNING,
    "SUCCEEDED": JobStatus.SUCCEEDED,
}
_REPORTED |= {name: JobStatus(name) for name in FAILED_STATUSES}
_FOLLOWED = frozenset({JobStatus.QUEUED, JobStatus.RUNNING})


class TransitionError(BotError):
    """A transition was asked of a job whose status does not allow it."""


def _require(job: Job, allowed: frozenset[JobStatus], what: str) -> None:
    if job.status not in allowed:
        raise TransitionError(f"job {job.id} cannot {what} while {job.status}")


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
    _require(job, frozenset({JobStatus.SUBMITTING}), "be confirmed")
    return observe(job, training, now=now)


def reject(job: Job, *, reason: str, now: datetime) -> Job:
    """Einstein refused the retrain, or never confirmed it: nothing runs, nothing is posted."""
    _require(job, frozenset({JobStatus.SUBMITTING}), "be refused")
    return job.with_changes(
        status=JobStatus.REJECTED, failure_msg=reason, finished_at=now, updated_at=now
    )


def lose(job: Job, *, now: datetime) -> Job:
    """Einstein no longer knows the training."""
    _require(job, _FOLLOWED, "be lost")
    return job.with_changes(status=JobStatus.LOST, finished_at=now, updated_at=now)


def unanswered(job: Job, *, error: str, now: datetime) -> Job:
    """A status check got no usable answer: the silence counts from the first one."""
    return job.with_changes(last_error=error, last_contact_at=job.last_contact_at or now)


def with_result(job: Job, result: Result) -> Job:
    """The success report (metrics, comparison) of a succeeded training."""
    _require(job, frozenset({JobStatus.SUCCEEDED}), "carry a result")
    return job.with_changes(result=result)


def await_approval(job: Job, *, expires_at: datetime, note: str) -> Job:
    """A protected model: the retrain waits for a second person until `expires_at`."""
    _require(job, frozenset({JobStatus.SUBMITTING}), "wait for approval")
    return job.with_changes(
        status=JobStatus.AWAITING_APPROVAL,
        approval_expires_at=expires_at,
        decision_note=note,
        reached=job.reached | {JobStatus.AWAITING_APPROVAL},
    )


_AWAITING = frozenset({JobStatus.AWAITING_APPROVAL})


def approve(job: Job, *, by: str, now: datetime) -> Job:
    """A second person approved: the retrain is submitted next."""
    _require(job, _AWAITING, "be approved")
    return job.with_changes(status=JobStatus.SUBMITTING, approver=by, updated_at=now)


def decline(job: Job, *, by: str, reason: str | None, now: datetime) -> Job:
    """The approver said no: nothing is submitted."""
    _require(job, _AWAITING, "be declined")
    return job.with_changes(
        status=JobStatus.DECLINED,
        approver=by,
        decision_note=reason,
        finished_at=now,
        updated_at=now,
    )


def expire(job: Job, *, now: datetime) -> Job:
    """Nobody approved in time; unchanged while there is time left."""
    _require(job, _AWAITING, "expire")
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
    _require(job, _AWAITING, "remind its approvers")
    due = reminder_at(job)
    if due is None or now < due:
        return job
    return job.with_changes(reached=job.reached | {REMINDER})


def cancel(job: Job, *, by: str, now: datetime) -> Job:
    """People stopped following it; Einstein has no cancel call, so its training may go on."""
    _require(job, ACTIVE_STATUSES, "be stopped")
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


def card_posted(job: Job, *, ts: str) -> Job:
    return job.with_changes(parent_ts=ts)


def posted(job: Job, *keys: str) -> Job:
    """Slack confirmed these thread replies (or found them already there)."""
    return job.with_changes(reported=job.reported | set(keys))


def refused(job: Job) -> Job:
    """Slack refused a post in the job's channel for good (not a member, no such channel)."""
    return job.with_changes(refusals=job.refusals + 1)


def move(job: Job, *, channel: str) -> Job:
    """The card and thread go to `channel` (the requester's DM); the command's channel stays
    `origin_channel`. A card posted in the old channel is left there and a new one posted."""
    return job.with_changes(channel=channel, refusals=0, parent_ts=None)


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
