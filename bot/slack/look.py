"""What every message of the bot shares: Slack's limits, the look of a status, the payload value.

Every payload stays inside Slack's limits whatever Einstein sends: at most 50 blocks, 3,000
characters per section text, 150 per header, 4,000 for the notification `text`. Pure; no Slack
calls here.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from datetime import datetime
from typing import Any

from bot.core.jobs import Job, JobStatus
from bot.core.mrkdwn import format_duration, percent

__all__ = [
    "MAX_BLOCKS",
    "MAX_HEADER",
    "MAX_SECTION",
    "MAX_TEXT",
    "Block",
    "Message",
    "job_line",
    "look",
    "section",
    "truncate",
]

MAX_SECTION = 3000
MAX_HEADER = 150
MAX_TEXT = 4000
MAX_BLOCKS = 50

Block = dict[str, Any]

_LOOK: dict[str, tuple[str, str]] = {
    JobStatus.SUBMITTING: (":outbox_tray:", "Submitting"),
    JobStatus.QUEUED: (":hourglass_flowing_sand:", "Queued"),
    JobStatus.RUNNING: (":gear:", "Running"),
    JobStatus.SUCCEEDED: (":white_check_mark:", "Succeeded"),
    JobStatus.FAILED: (":x:", "Failed"),
    JobStatus.KILLED: (":x:", "Killed"),
    JobStatus.FAILED_WITH_RETRIES: (":x:", "Failed after retries"),
    JobStatus.LOST: (":warning:", "Lost"),
    JobStatus.CANCELLED: (":no_entry_sign:", "No longer followed"),
    JobStatus.REJECTED: (":no_entry:", "Refused by Einstein"),
    JobStatus.AWAITING_APPROVAL: (":lock:", "Awaiting approval"),
    JobStatus.DECLINED: (":no_entry:", "Declined"),
    JobStatus.EXPIRED: (":hourglass:", "Approval expired"),
}


@dataclass(frozen=True, slots=True)
class Message:
    """A message payload: fallback text (notifications, screen readers) and blocks."""

    text: str
    blocks: list[Block]


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": truncate(text, MAX_SECTION)}}


def look(status: str) -> tuple[str, str]:
    return _LOOK.get(status, (":grey_question:", status.replace("_", " ").title()))


def job_line(job: Job, *, now: datetime, stamp: Callable[[datetime], str] | None = None) -> str:
    """One job in a line: its state (with progress or queue position), model, options, accuracy
    and age. `/retrain status`, `list`, `history` and the Home tab all show jobs this way.

    With `stamp` (`bot.core.mrkdwn.local_time` or `utc_time`), when it started or ended is
    shown as a time instead of an age."""
    symbol, name = look(job.status)
    head = f"{symbol} *{name}*"
    if job.status == JobStatus.RUNNING:
        head += f" {job.progress * 100:.0f}%"
    if job.status == JobStatus.QUEUED and job.queue_position is not None:
        head += f", position {job.queue_position} in the queue"
    parts = [f"{head} · `{job.model_id}`", job.options.describe()]
    if job.result is not None and job.result.test_accuracy is not None:
        parts.append(f"accuracy {percent(job.result.test_accuracy)}")
    if stamp is not None:
        ended = job.finished_at is not None
        parts.append(
            f"{'ended' if ended else 'started'} {stamp(job.finished_at or job.created_at)}"
        )
    elif job.finished_at is not None:
        parts.append(f"ended {format_duration((now - job.finished_at).total_seconds())} ago")
    else:
        parts.append(f"started {format_duration((now - job.created_at).total_seconds())} ago")
    return " · ".join(parts)
