"""A followed retrain as a value: its status, what Einstein reported and what Slack was told.

`Job` is frozen. How it changes lives in `bot.core.machine` (every transition, Einstein's and
people's), and what it still owes Slack in `bot.core.owed`; both are pure functions of the job,
so after a restart the same rules decide what happens next.
"""

from __future__ import annotations

import dataclasses
from dataclasses import dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

from bot.core.options import RetrainOptions
from bot.einstein.models import FAILED_STATUSES

__all__ = [
    "ACTIVE_STATUSES",
    "FAILED",
    "FINAL_STATUSES",
    "Job",
    "JobStatus",
    "LabelScore",
    "Result",
    "utcnow",
]


class JobStatus(StrEnum):
    """Every state a job can be in: Einstein's training states and the bot's own around them.

    A `StrEnum`: a status equals its name and is stored as that name.
    """

    AWAITING_APPROVAL = "AWAITING_APPROVAL"  # a protected model: a second person must approve
    SUBMITTING = "SUBMITTING"  # stored; Einstein has not yet confirmed the retrain
    QUEUED = "QUEUED"
    RUNNING = "RUNNING"
    SUCCEEDED = "SUCCEEDED"
    FAILED = "FAILED"
    KILLED = "KILLED"
    FAILED_WITH_RETRIES = "FAILED_WITH_RETRIES"
    REJECTED = "REJECTED"  # Einstein refused the retrain; nothing was posted in the channel
    LOST = "LOST"  # Einstein no longer knows the training
    CANCELLED = "CANCELLED"  # people stopped following it
    DECLINED = "DECLINED"  # the approver said no
    EXPIRED = "EXPIRED"  # nobody approved in time


ACTIVE_STATUSES = frozenset(
    {JobStatus.AWAITING_APPROVAL, JobStatus.SUBMITTING, JobStatus.QUEUED, JobStatus.RUNNING}
)
FINAL_STATUSES = frozenset(JobStatus) - ACTIVE_STATUSES
# Einstein's failures, and LOST: the thread reply of each is broadcast to the channel.
FAILED = frozenset(
    {JobStatus.FAILED, JobStatus.KILLED, JobStatus.FAILED_WITH_RETRIES, JobStatus.LOST}
)
if {str(s) for s in FAILED - {JobStatus.LOST}} != FAILED_STATUSES:  # pragma: no cover
    raise AssertionError("JobStatus must name every failure state Einstein reports")


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
    # bot.core.compare.Comparison.to_dict() of the metrics before and after, when there were both.
    comparison: dict[str, Any] | None = None
    # The headline metrics that fell by more than RETRAIN_REGRESSION_ALERT points: (name, points).
    regressed: tuple[tuple[str, float], ...] = ()

    def to_dict(self) -> dict[str, Any]:
        # Not `dataclasses.asdict`, which copies the comparison through and through at each of
        # a finished job's writes (0.1 ms a write): only the label scores need turning into dicts.
        data = {field.name: getattr(self, field.name) for field in dataclasses.fields(self)}
        data["weakest"] = [{"label": s.label, "f1": s.f1} for s in self.weakest]
        return data

    @classmethod
    def from_dict(cls, data: dict[str, Any]) -> Result:
        data = dict(data)
        data["weakest"] = tuple(LabelScore(**item) for item in data.get("weakest", ()))
        data["regressed"] = tuple((str(n), float(p)) for n, p in data.get("regressed", ()))
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
    # The Slack workspace and Enterprise Grid org the job was asked for in (`bot.core.workspaces`).
    team_id: str | None = None
    enterprise_id: str | None = None  # the Enterprise Grid org of `team_id`, if any
    response_url: str | None = None
    status: JobStatus = JobStatus.SUBMITTING
    progress: float = 0.0
    queue_position: int | None = None
    epochs: int | None = None
    epochs_done: int | None = None
    failure_msg: str | None = None
    parent_ts: str | None = None
    # The thread replies Slack confirmed, by key ("QUEUED", "PICTURES", "STALLED#1", ...).
    reported: frozenset[str] = field(default_factory=frozenset)
    # The milestones Einstein was seen in: each one is owed its reply, even once the training
    # has moved on, so a backlog in Slack never hides a state from the thread.
    reached: frozenset[str] = field(default_factory=frozenset)
    first_queue_position: int | None = None  # the position the "queued" reply announces
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
    # Which of `channel` and `origin_channel` are private (direct messages aside), so the read
    # commands show the job only to their members; None until Slack has said
    # (`bot.access.visibility`).
    private_channels: frozenset[str] | None = None
    started_by: str | None = None  # the schedule or trigger that started it (its ID)
    # Posts Slack refused for good in `channel` (not a member, no such channel) since the job
    # came there; after `machine.MOVE_AFTER` the thread moves to the requester's DM.
    refusals: int = 0

    @property
    def is_final(self) -> bool:
        return self.status in FINAL_STATUSES

    @property
    def is_failed(self) -> bool:
        return self.status in FAILED

    def with_changes(self, **changes: Any) -> Job:
        return dataclasses.replace(self, **changes)
