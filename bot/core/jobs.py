"""A followed training as a value, and the pure rules of what changes and what to say.

A `Job` is frozen; `observe` takes the job and Einstein's latest training object and returns the
new job. Which thread replies are due is derived from the job alone (`due_replies`), so after a
restart the same rules decide what is still owed to the thread, and a reply recorded in
`reported` is never owed again.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from bot.core.options import RetrainOptions
from bot.einstein.models import FAILED_STATUSES, Metrics, Training

__all__ = [
    "ACTIVE_STATUSES",
    "FINAL_STATUSES",
    "Job",
    "Result",
    "alert_key",
    "assess",
    "due_replies",
    "observe",
    "summarize_result",
]

# Statuses of our own around Einstein's QUEUED/RUNNING/SUCCEEDED/FAILED/KILLED/FAILED_WITH_RETRIES.
SUBMITTING = "SUBMITTING"  # stored; Einstein has not yet confirmed the retrain
REJECTED = "REJECTED"  # Einstein refused the retrain; nothing was posted in the channel
LOST = "LOST"  # Einstein no longer knows the training
CANCELLED = "CANCELLED"  # people stopped following it
AWAITING_APPROVAL = "AWAITING_APPROVAL"  # a protected model: a second person must approve
DECLINED = "DECLINED"  # the approver said no
EXPIRED = "EXPIRED"  # nobody approved in time
APPROVED = "APPROVED"  # the reply key announcing the approval

ACTIVE_STATUSES = frozenset({AWAITING_APPROVAL, SUBMITTING, "QUEUED", "RUNNING"})
FINAL_STATUSES = (
    frozenset({"SUCCEEDED", REJECTED, LOST, CANCELLED, DECLINED, EXPIRED}) | FAILED_STATUSES
)
# Statuses that earn a thread reply; a skipped one (QUEUED→SUCCEEDED between polls) is not owed.
_MILESTONES = (AWAITING_APPROVAL, "QUEUED", "RUNNING")
_THREAD_FINALS = frozenset({"SUCCEEDED", LOST, CANCELLED, DECLINED, EXPIRED}) | FAILED_STATUSES


def utcnow() -> datetime:
    return datetime.now(UTC)


@dataclass(frozen=True, slots=True)
class LabelScore:
    label: str
    f1: float


@dataclass(frozen=True, slots=True)
class Result:
    """What the success reply reports, kept in the store so a restart can still say it."""

    test_accuracy: float | None = None
    macro_f1: float | None = None
    weakest: tuple[LabelScore, ...] = ()
    labels: int | None = None
    examples: int | None = None
    train_split_size: int | None = None
    test_split_size: int | None = None
    epochs_done: int | None = None
    epochs: int | None = None
    early_stopping: bool | None = None
    training_time: str | None = None
    metrics_error: str | None = None
    # bot.compare.Comparison.to_dict() of the metrics before and after, when there were both.
    comparison: dict[str, Any] | None = None

    def to_dict(self) -> dict[str, Any]:
        return dataclasses.asdict(self)

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Result:
        data = dict(data)
        data["weakest"] = tuple(LabelScore(**item) for item in data.get("weakest", ()))
        known = {f.name for f in dataclasses.fields(cls)}
        return cls(**{k: v for k, v in data.items() if k in known})


@dataclass(frozen=True, slots=True)
class Job:
    """One retrain the bot accepted and follows until its end."""

    id: str
    model_id: str
    options: RetrainOptions
    requester: str
    channel: str  # where the card and thread live
    origin_channel: str  # where the command was typed
    created_at: datetime
    team_id: str | None = None
    response_url: str | None = None
    status: str = SUBMITTING
    progress: float = 0.0
    queue_position: int | None = None
    epochs: int | None = None
    epochs_done: int | None = None
    failure_msg: str | None = None
    parent_ts: str | None = None
    reported: frozenset[str] = field(default_factory=frozenset)
    running_since: datetime | None = None
    finished_at: datetime | None = None
    updated_at: datetime | None = None
    result: Result | None = None
    # For "no silent jobs": when Einstein last answered, when the training last moved, and the
    # current alert (STALLED or UNREACHABLE) with a sequence number that keys its announcement.
    last_contact_at: datetime | None = None
    last_progress_at: datetime | None = None
    last_error: str | None = None
    condition: str | None = None
    condition_seq: int = 0
    # The model's metricsData (JSON) before the retrain, for the before/after comparison.
    baseline: str | None = None
    # Protected models: who approved (or declined), until when approval may come, and a note:
    # while awaiting, who may approve under which rule; once declined, the reason given.
    approver: str | None = None
    decision_note: str | None = None
    approval_expires_at: datetime | None = None

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    @property
    def is_failed(self) -> bool:
        return self.status in FAILED_STATUSES or self.status == LOST

    def with_changes(self, **changes: Any) -> Job:
        return dataclasses.replace(self, **changes)


def observe(job: Job, training: Training, *, now: datetime) -> Job:
    """The job after Einstein reported `training`; unchanged fields keep their values."""
    status = training.status
    if status not in {"QUEUED", "RUNNING", "SUCCEEDED"} and status not in FAILED_STATUSES:
        # Unknown values are treated as still running, never as success.
        status = "RUNNING" if job.status != SUBMITTING else "QUEUED"
    progress = 1.0 if status == "SUCCEEDED" else max(0.0, min(1.0, training.progress))
    running_since = job.running_since
    if status == "RUNNING" and running_since is None:
        running_since = now
    moved = status != job.status or progress != job.progress or job.last_progress_at is None
    return job.with_changes(
        last_contact_at=now,
        last_progress_at=now if moved else job.last_progress_at,
        last_error=None,
        status=status,
        progress=progress,
        queue_position=training.queue_position if status == "QUEUED" else None,
        epochs=training.epochs or job.epochs,
        epochs_done=training.epochs_done if training.epochs_done is not None else job.epochs_done,
        failure_msg=training.failure_msg or job.failure_msg,
        running_since=running_since,
        finished_at=now
        if status in FINAL_STATUSES and job.finished_at is None
        else job.finished_at,
        updated_at=now,
    )


PICTURES = "PICTURES"  # the learning curve and confusion matrix, after the success reply
FAILURE_TEXT = "FAILURE_TEXT"  # a failure message too long for the reply, as a file
# Longer failure messages are cut in the reply (Slack's section limit) and attached whole.
FAILURE_INLINE_LIMIT = 2500
STALLED = "STALLED"
UNREACHABLE = "UNREACHABLE"
RECOVERED = "RECOVERED"


def alert_key(job: Job) -> str | None:
    """The reply key of the job's current alert or recovery, e.g. `STALLED#1`."""
    if job.condition_seq == 0:
        return None
    return f"{job.condition or RECOVERED}#{job.condition_seq}"


def assess(job: Job, *, now: datetime, stall_after: float, unreachable_after: float) -> Job:
    """Set the job's alert: Einstein silent too long, or a running training not moving.

    An alert that clears before it was announced is withdrawn instead of followed by a
    recovery nobody needs.
    """
    condition: str | None = None
    if job.is_final:
        condition = None
    elif job.last_contact_at and (now - job.last_contact_at).total_seconds() > unreachable_after:
        condition = UNREACHABLE
    elif (
        job.status == "RUNNING"
        and job.last_progress_at
        and (now - job.last_progress_at).total_seconds() > stall_after
    ):
        condition = STALLED
    if condition == job.condition:
        return job
    if condition is None and alert_key(job) not in job.reported:
        return job.with_changes(condition=None, condition_seq=max(0, job.condition_seq - 1))
    return job.with_changes(condition=condition, condition_seq=job.condition_seq + 1)


def due_replies(job: Job) -> tuple[str, ...]:
    """Thread replies the job still owes, in posting order; empty until the card exists."""
    if job.parent_ts is None:
        return ()
    if job.status in _THREAD_FINALS:
        if job.status not in job.reported:
            return (job.status,)
        if job.status == "SUCCEEDED" and PICTURES not in job.reported:
            return (PICTURES,)
        too_long = len(job.failure_msg or "") > FAILURE_INLINE_LIMIT
        if job.is_failed and too_long and FAILURE_TEXT not in job.reported:
            return (FAILURE_TEXT,)
        return ()
    due: list[str] = []
    if job.approver is not None and APPROVED not in job.reported:
        due.append(APPROVED)
    if job.status in _MILESTONES and job.status not in job.reported:
        due.append(job.status)
    key = alert_key(job)
    if key is not None and key not in job.reported:
        due.append(key)
    return tuple(due)


def summarize_result(
    training: Training,
    metrics: Metrics | None,
    *,
    metrics_error: str | None = None,
    comparison: dict[str, Any] | None = None,
) -> Result:
    """Condense the final training object and the model's metrics into the success report."""
    stats = training.train_stats
    data = metrics.metrics_data if metrics else None
    weakest: tuple[LabelScore, ...] = ()
    if data is not None:
        scores = sorted(data.label_f1().items(), key=lambda item: (item[1], item[0]))
        weakest = tuple(LabelScore(label, f1) for label, f1 in scores[:3])
    return Result(
        test_accuracy=data.test_accuracy if data else None,
        macro_f1=data.effective_macro_f1 if data else None,
        weakest=weakest,
        labels=stats.labels if stats else None,
        examples=stats.examples if stats else None,
        train_split_size=stats.train_split_size if stats else None,
        test_split_size=stats.test_split_size if stats else None,
        epochs_done=training.epochs_done,
        epochs=training.epochs,
        early_stopping=(
            training.early_stopping
            if training.early_stopping is not None
            else (stats.early_stopping if stats else None)
        ),
        training_time=(stats.training_time or stats.total_time) if stats else None,
        metrics_error=metrics_error,
        comparison=comparison,
    )
