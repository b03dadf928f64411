"""What a job still owes Slack, derived from the job alone, in one place.

The deliverer posts what `due_replies` names, in that order, and records each key in
`Job.reported` once Slack confirms it, so a reply is never owed twice. `pending` says whether
a job still needs a process at all (Einstein to watch, or Slack to tell); the store keeps it
beside the job, so the query for unfinished work is a column, not a second copy of these rules.

Reply keys: a status ("QUEUED", "SUCCEEDED", ...), `APPROVED`, an alert ("STALLED#1"),
`REMINDER` (the approvers', half-way to expiry, owed only while the job still awaits them),
`PICTURES` (learning curve and confusion matrix after a success) and `FAILURE_TEXT` (a failure
message too long for the reply, attached whole). A refused retrain has no thread: its key
"REJECTED" records that the requester was told privately (`due_private`).

Once the thread told a training's end, its requester may also be owed a DM with the result
(`due_direct`): `DM_RESULT` records that it was sent, `DM_NONE` that the requester did not ask
for one (`/retrain notify`), so either way the job ends. A thread that is itself in the
requester's DM owes no second copy.

A job whose workspace uninstalled the app (`UNINSTALLED` in `reported`) owes nothing at all.
"""

from __future__ import annotations

from bot.core.jobs import Job, JobStatus
from bot.core.machine import REMINDER, UNINSTALLED, alert_key

__all__ = [
    "APPROVED",
    "DM_NONE",
    "DM_RESULT",
    "FAILURE_INLINE_LIMIT",
    "FAILURE_TEXT",
    "MOVED",
    "PICTURES",
    "awaits_result",
    "card_owed",
    "due_direct",
    "due_private",
    "due_replies",
    "moved_to_dm",
    "owes_slack",
    "pending",
]

APPROVED = "APPROVED"
PICTURES = "PICTURES"
FAILURE_TEXT = "FAILURE_TEXT"
DM_RESULT = "DM_RESULT"
DM_NONE = "DM_NONE"
MOVED = "MOVED"  # the requester was told that the thread moved to their DM
# Longer failure messages are cut in the reply (Slack's section limit) and attached whole.
FAILURE_INLINE_LIMIT = 2500

# Milestones in the order the thread tells them; each is owed once the job was seen in it.
_MILESTONES = (JobStatus.AWAITING_APPROVAL, APPROVED, JobStatus.QUEUED, JobStatus.RUNNING)
# Final states that end the thread with a reply (a refused retrain has no thread).
_THREAD_FINALS = frozenset(JobStatus) - {
    JobStatus.AWAITING_APPROVAL,
    JobStatus.SUBMITTING,
    JobStatus.QUEUED,
    JobStatus.RUNNING,
    JobStatus.REJECTED,
}


def _milestones(job: Job) -> set[str]:
    reached: set[str] = set(job.reached)
    if job.status in _MILESTONES:
        reached.add(job.status)
    if job.approver is not None and job.status != JobStatus.DECLINED:
        reached.add(APPROVED)
    return reached


def due_replies(job: Job) -> tuple[str, ...]:
    """Thread replies the job still owes, in posting order; empty until the card exists."""
    if job.parent_ts is None or UNINSTALLED in job.reported:
        return ()
    reached = _milestones(job)
    due = [key for key in _MILESTONES if key in reached and key not in job.reported]
    if job.status not in _THREAD_FINALS:
        if _reminder_owed(job):
            due.append(REMINDER)
        key = alert_key(job)
        if key is not None and key not in job.reported:
            due.append(key)
        return tuple(due)
    if awaits_result(job):
        return tuple(due)  # the success reply carries the metrics: it waits for them
    if job.status not in job.reported:
        return (*due, job.status)
    if job.status == JobStatus.SUCCEEDED and PICTURES not in job.reported:
        return (*due, PICTURES)
    too_long = len(job.failure_msg or "") > FAILURE_INLINE_LIMIT
    if job.is_failed and too_long and FAILURE_TEXT not in job.reported:
        return (*due, FAILURE_TEXT)
    return tuple(due)


def _reminder_owed(job: Job) -> bool:
    # Approved, declined or expired first: a reminder would only confuse.
    return (
        job.status == JobStatus.AWAITING_APPROVAL
        and REMINDER in job.reached
        and REMINDER not in job.reported
    )


def due_private(job: Job) -> tuple[str, ...]:
    """What the requester is still to be told privately: why Einstein refused the retrain,
    or where its thread went (`MOVED`: to their DM, once the card is there)."""
    if UNINSTALLED in job.reported:
        return ()
    if job.status == JobStatus.REJECTED and JobStatus.REJECTED not in job.reported:
        return (JobStatus.REJECTED,)
    if moved_to_dm(job) and job.parent_ts is not None and MOVED not in job.reported:
        return (MOVED,)
    return ()


def moved_to_dm(job: Job) -> bool:
    """Whether the job's thread moved to the requester's DM (DM ids start with D)."""
    return job.channel != job.origin_channel and job.channel.startswith("D")


def due_direct(job: Job) -> tuple[str, ...]:
    """The requester's DM with the result, once the thread told the end; empty when settled."""
    if job.status not in _THREAD_FINALS or job.status not in job.reported:
        return ()
    if UNINSTALLED in job.reported:
        return ()
    if job.channel.startswith("D") or DM_RESULT in job.reported or DM_NONE in job.reported:
        return ()  # the thread is in a DM already (DM ids start with D), or it is settled
    return (DM_RESULT,)


def awaits_result(job: Job) -> bool:
    """A succeeded training whose metrics have not been read yet (its reply waits for them)."""
    return (
        job.status == JobStatus.SUCCEEDED
        and job.result is None
        and JobStatus.SUCCEEDED not in job.reported
    )


def card_owed(job: Job) -> bool:
    """The card is posted once Einstein took the retrain (or it waits for approval)."""
    return (
        job.parent_ts is None
        and job.status not in (JobStatus.SUBMITTING, JobStatus.REJECTED)
        and UNINSTALLED not in job.reported
    )


def owes_slack(job: Job) -> bool:
    return (
        card_owed(job) or bool(due_replies(job)) or bool(due_private(job)) or bool(due_direct(job))
    )


def pending(job: Job) -> bool:
    """Whether the job still needs a process: Einstein to watch or Slack to tell."""
    return not job.is_final or awaits_result(job) or owes_slack(job)
