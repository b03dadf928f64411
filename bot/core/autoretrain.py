"""Retrains that run themselves: a schedule (a cron line in a zone) or a feedback trigger.

A schedule fires at each of its runs; a trigger fires once the model's dataset has `threshold`
feedback examples more than it had when the trigger last fired (or was created). Either way a
fire starts an ordinary retrain, in the channel the schedule was made in, as its creator.

Each fire is claimed in the store before it starts anything (one instance wins), and the claim
names the job the fire will create (`fire_job_id`, the same on every instance). A process that
dies between the claim and the job leaves the claim `pending`; whoever finds it later looks for
that job before starting it, so a fire starts at most one job and never none.
"""

from __future__ import annotations

import hashlib
import secrets
from dataclasses import dataclass, replace
from datetime import datetime
from enum import StrEnum
from typing import Any

from bot.core.options import RetrainOptions
from bot.core.recurrence import Recurrence

__all__ = ["AutoKind", "AutoRetrain", "fire_job_id", "new_auto_id"]


class AutoKind(StrEnum):
    SCHEDULE = "schedule"
    TRIGGER = "trigger"


@dataclass(frozen=True, slots=True)
class AutoRetrain:
    """One schedule or trigger, as stored."""

    id: str
    kind: AutoKind
    model_id: str
    options: RetrainOptions
    creator: str
    channel: str
    created_at: datetime
    team_id: str | None = None
    enterprise_id: str | None = None
    recurrence: Recurrence | None = None  # schedules
    next_run: datetime | None = None  # schedules: the run the next fire is for
    threshold: int | None = None  # triggers: feedback examples more than `baseline`
    baseline: int | None = None  # triggers: the count at creation or at the last fire
    fired_at: datetime | None = None
    last_job_id: str | None = None
    pending: str | None = None  # the key of a claimed fire not yet carried out
    claimed_at: datetime | None = None  # when `pending` was claimed
    refusal: str | None = None  # why the last fire was refused, as said in the channel

    def with_changes(self, **changes: Any) -> AutoRetrain:
        return replace(self, **changes)


def new_auto_id(kind: AutoKind) -> str:
    """A short ID people type in `/retrain unschedule`, e.g. `sch-4kq9tm`."""
    alphabet = "abcdefghijkmnpqrstuvwxyz23456789"  # no 0/o, 1/l
    tail = "".join(secrets.choice(alphabet) for _ in range(6))
    return f"{'sch' if kind is AutoKind.SCHEDULE else 'trg'}-{tail}"


def fire_job_id(auto_id: str, fire_key: str) -> str:
    """The ID of the job a fire starts: the same on every instance for the same fire."""
    return hashlib.sha256(f"{auto_id}/{fire_key}".encode()).hexdigest()[:16]
