"""The card: the parent message of a retrain, where it stands, and its buttons. Pure."""

from __future__ import annotations

from datetime import datetime
from typing import Any

from bot.core.jobs import Job, JobStatus
from bot.core.mrkdwn import format_duration, local_time, percent
from bot.slack.ids import ActionId, BlockId
from bot.slack.look import (
    MAX_HEADER,
    MAX_SECTION,
    MAX_TEXT,
    Block,
    Message,
    look,
    section,
    truncate,
)

__all__ = ["estimate_left", "progress_bar", "render_card"]


def _context(*texts: str) -> Block:
    return {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": truncate(t, MAX_SECTION)} for t in texts[:10]],
    }


def progress_bar(fraction: float, *, width: int = 10) -> str:
    fraction = max(0.0, min(1.0, fraction))
    filled = round(fraction * width)
    return "▓" * filled + "░" * (width - filled)


def estimate_left(progress: float, elapsed: float) -> float | None:
    """Time left at the pace so far, once there is enough of it to mean something."""
    if progress < 0.05 or progress >= 1.0 or elapsed < 10:
        return None
    return elapsed * (1.0 - progress) / progress


def _state_line(job: Job, *, now: datetime) -> str:
    symbol, name = look(job.status)
    parts = [f"{symbol} *{name}*"]
    if job.status == JobStatus.QUEUED and job.queue_position is not None:
        parts.append(f"position {job.queue_position} in the queue")
    if job.status == JobStatus.AWAITING_APPROVAL and job.approval_expires_at is not None:
        parts.append(f"until {local_time(job.approval_expires_at)}")
    if job.status == JobStatus.RUNNING:
        parts.append(f"`{progress_bar(job.progress)}` {job.progress * 100:.0f}%")
    if job.epochs_done is not None and job.epochs:
        parts.append(f"epoch {job.epochs_done} of {job.epochs}")
    if job.running_since is not None:
        end = job.finished_at or now
        elapsed = (end - job.running_since).total_seconds()
        parts.append(f"{format_duration(elapsed)} training")
        eta = estimate_left(job.progress, elapsed) if job.status == JobStatus.RUNNING else None
        if eta is not None:
            parts.append(f"about {format_duration(eta)} left")
    if job.status == JobStatus.SUCCEEDED and job.result is not None:
        parts.append(f"accuracy {percent(job.result.test_accuracy)}")
        parts.append(f"macro F1 {percent(job.result.macro_f1)}")
    line = " · ".join(parts)
    if job.is_failed and job.failure_msg:
        line += "\n> " + truncate(job.failure_msg, 500).replace("\n", " ")
    return line


def render_card(job: Job, *, now: datetime) -> Message:
    """The parent message: what is retrained, by whom, with what, and where it stands now."""
    _, name = look(job.status)
    fields = [
        {"type": "mrkdwn", "text": f"*Model*\n`{job.model_id}`"},
        {"type": "mrkdwn", "text": _requested_by(job)},
        {"type": "mrkdwn", "text": f"*Options*\n{job.options.describe()}"},
    ]
    if job.approver is not None:
        verb = "Declined by" if job.status == JobStatus.DECLINED else "Approved by"
        fields.append({"type": "mrkdwn", "text": f"*{verb}*\n<@{job.approver}>"})
    blocks: list[Block] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": truncate(f"Retrain {job.model_id}", MAX_HEADER)},
        },
        section(_state_line(job, now=now)),
        *_approvers(job),
        {"type": "section", "fields": fields},
        _context(f"Updated {local_time(now)} · job `{job.id}`"),
    ]
    buttons = _card_buttons(job)
    if buttons:
        blocks.append({"type": "actions", "block_id": BlockId.CARD_ACTIONS, "elements": buttons})
    text = f"Retrain of {job.model_id} requested by <@{job.requester}>: {name}"
    if job.status == JobStatus.RUNNING:
        text += f" ({job.progress * 100:.0f}%)"
    if job.status == JobStatus.AWAITING_APPROVAL and job.decision_note:
        text += f". {job.decision_note}"  # the mentions notify when the card is first posted
    return Message(text=truncate(text, MAX_TEXT), blocks=blocks)


def _approvers(job: Job) -> list[Block]:
    """While a retrain awaits approval, who may give it: listed approvers and user groups are
    mentioned, so the card's first post notifies them."""
    if job.status != JobStatus.AWAITING_APPROVAL or not job.decision_note:
        return []
    return [section(truncate(f":busts_in_silhouette: {job.decision_note}", MAX_SECTION))]


def _button(text: str, action: ActionId, job: Job, **extra: Any) -> Block:
    return {
        "type": "button",
        "text": {"type": "plain_text", "text": text},
        "action_id": action,
        "value": job.id,
        **extra,
    }


def _confirm(title: str, text: str, confirm: str) -> dict[str, Any]:
    return {
        "title": {"type": "plain_text", "text": title},
        "text": {"type": "mrkdwn", "text": truncate(text, 300)},
        "confirm": {"type": "plain_text", "text": confirm},
        "deny": {"type": "plain_text", "text": "Cancel"},
    }


def _card_buttons(job: Job) -> list[Block]:
    """Refresh and Stop while the training runs; Retrain again (as it was, or with changes)
    once it has ended."""
    if job.status == JobStatus.AWAITING_APPROVAL:
        return [
            _button(
                "Approve",
                ActionId.APPROVE,
                job,
                style="primary",
                confirm=_confirm(
                    "Approve this retrain?",
                    f"Einstein will retrain `{job.model_id}` with {job.options.describe()}.",
                    "Approve",
                ),
            ),
            _button("Reject", ActionId.REJECT, job, style="danger"),
        ]
    if job.status in (
        JobStatus.SUBMITTING,
        JobStatus.REJECTED,
        JobStatus.DECLINED,
        JobStatus.EXPIRED,
    ):
        return []
    if not job.is_final:
        return [
            _button("Refresh", ActionId.REFRESH, job),
            _button(
                "Stop following",
                ActionId.STOP_FOLLOWING,
                job,
                style="danger",
                confirm=_confirm(
                    "Stop following?",
                    "Einstein has no cancel call: the "
                    "training goes on, but this thread will stop reporting it.",
                    "Stop following",
                ),
            ),
        ]
    return [
        _button(
            "Retrain again",
            ActionId.RETRAIN_AGAIN,
            job,
            style="primary",
            confirm=_confirm(
                "Retrain again?",
                f"Start a new retrain of `{job.model_id}` with {job.options.describe()}.",
                "Retrain",
            ),
        ),
        # Opens the retrain form filled in with this job's options, to change some first.
        _button("Retrain with changes…", ActionId.RETRAIN_WITH_CHANGES, job),
    ]


def _requested_by(job: Job) -> str:
    if job.started_by is None:
        return f"*Requested by*\n<@{job.requester}>"
    kind = "trigger" if job.started_by.startswith("trg-") else "schedule"
    return f"*Started by*\n{kind} `{job.started_by}` of <@{job.requester}>"
