"""Jobs as table rows and back: the one mapping between `Job` and `retrain_jobs`.

Every time is stored in UTC (a database that returns naive times gets them read as UTC), options
and results as JSON, and the sets of states (`reported`, `reached`) fenced with commas, so a
LIKE for ",FAILED," never matches FAILED_WITH_RETRIES. `pending` is written from
`bot.core.owed.pending(job)` with every row.
"""

from __future__ import annotations

import json
from datetime import UTC, datetime
from typing import Any

from bot.core.jobs import Job, JobStatus, Result
from bot.core.options import RetrainOptions
from bot.core.owed import pending

__all__ = ["as_utc", "to_job", "to_row", "utc_now"]


def utc_now() -> datetime:
    return datetime.now(UTC)


def as_utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def to_row(job: Job) -> dict[str, Any]:
    return {
        "id": job.id,
        "model_id": job.model_id,
        "options": json.dumps(job.options.to_dict(), sort_keys=True),
        "requester": job.requester,
        "channel": job.channel,
        "origin_channel": job.origin_channel,
        "team_id": job.team_id,
        "enterprise_id": job.enterprise_id,
        "response_url": job.response_url,
        "status": job.status,
        "progress": job.progress,
        "queue_position": job.queue_position,
        "epochs": job.epochs,
        "epochs_done": job.epochs_done,
        "failure_msg": job.failure_msg,
        "parent_ts": job.parent_ts,
        # Fenced with commas so FAILED is not found inside FAILED_WITH_RETRIES.
        "reported": _fenced(job.reported),
        "reached": _fenced(job.reached),
        "first_queue_position": job.first_queue_position,
        "pending": pending(job),
        "result": json.dumps(job.result.to_dict()) if job.result else None,
        "created_at": as_utc(job.created_at),
        "running_since": as_utc(job.running_since),
        "finished_at": as_utc(job.finished_at),
        "updated_at": as_utc(job.updated_at),
        "last_contact_at": as_utc(job.last_contact_at),
        "last_progress_at": as_utc(job.last_progress_at),
        "last_error": job.last_error,
        "condition": job.condition,
        "condition_seq": job.condition_seq,
        "baseline": job.baseline,
        "approver": job.approver,
        "decision_note": job.decision_note,
        "started_by": job.started_by,
        "approval_expires_at": as_utc(job.approval_expires_at),
        "private_channels": (
            None if job.private_channels is None else _fenced(job.private_channels)
        ),
        "refusals": job.refusals,
    }


def to_job(row: Any) -> Job:
    created_at = as_utc(row["created_at"])
    assert created_at is not None
    return Job(
        id=row["id"],
        model_id=row["model_id"],
        options=RetrainOptions.from_dict(json.loads(row["options"])),
        requester=row["requester"],
        channel=row["channel"],
        origin_channel=row["origin_channel"],
        team_id=row["team_id"],
        enterprise_id=row["enterprise_id"],
        response_url=row["response_url"],
        status=JobStatus(row["status"]),
        progress=row["progress"],
        queue_position=row["queue_position"],
        epochs=row["epochs"],
        epochs_done=row["epochs_done"],
        failure_msg=row["failure_msg"],
        parent_ts=row["parent_ts"],
        reported=_unfenced(row["reported"]),
        reached=_unfenced(row["reached"]),
        first_queue_position=row["first_queue_position"],
        result=Result.from_dict(json.loads(row["result"])) if row["result"] else None,
        created_at=created_at,
        running_since=as_utc(row["running_since"]),
        finished_at=as_utc(row["finished_at"]),
        updated_at=as_utc(row["updated_at"]),
        last_contact_at=as_utc(row["last_contact_at"]),
        last_progress_at=as_utc(row["last_progress_at"]),
        last_error=row["last_error"],
        condition=row["condition"],
        condition_seq=row["condition_seq"] or 0,
        baseline=row["baseline"],
        approver=row["approver"],
        decision_note=row["decision_note"],
        started_by=row.get("started_by"),
        approval_expires_at=as_utc(row["approval_expires_at"]),
        private_channels=(
            None if row["private_channels"] is None else _unfenced(row["private_channels"])
        ),
        refusals=row["refusals"] or 0,
    )


def _fenced(keys: frozenset[str]) -> str:
    # Fenced with commas so that a LIKE for ",FAILED," never matches FAILED_WITH_RETRIES.
    return "," + ",".join(sorted(keys)) + ","


def _unfenced(text: str | None) -> frozenset[str]:
    return frozenset(s for s in (text or "").split(",") if s)
