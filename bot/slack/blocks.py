"""Block Kit rendering: a job in, Slack message payloads out. Pure; no Slack calls here.

Every payload stays inside Slack's limits whatever Einstein sends: at most 50 blocks, 3,000
characters per section text, 150 per header, 4,000 for the notification `text`.
"""

from __future__ import annotations

from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from bot.core.compare import Comparison, render_comparison
from bot.core.jobs import (
    APPROVED,
    AWAITING_APPROVAL,
    CANCELLED,
    DECLINED,
    EXPIRED,
    FAILURE_INLINE_LIMIT,
    LOST,
    RECOVERED,
    REJECTED,
    STALLED,
    SUBMITTING,
    UNREACHABLE,
    Job,
    Result,
)
from bot.core.mrkdwn import format_duration, percent
from bot.slack.ids import ActionId, BlockId

__all__ = [
    "Message",
    "progress_bar",
    "render_card",
    "render_reply",
    "truncate",
]

MAX_SECTION = 3000
MAX_HEADER = 150
MAX_TEXT = 4000
MAX_BLOCKS = 50

Block = dict[str, Any]

_LOOK: dict[str, tuple[str, str]] = {
    SUBMITTING: (":outbox_tray:", "Submitting"),
    "QUEUED": (":hourglass_flowing_sand:", "Queued"),
    "RUNNING": (":gear:", "Running"),
    "SUCCEEDED": (":white_check_mark:", "Succeeded"),
    "FAILED": (":x:", "Failed"),
    "KILLED": (":x:", "Killed"),
    "FAILED_WITH_RETRIES": (":x:", "Failed after retries"),
    LOST: (":warning:", "Lost"),
    CANCELLED: (":no_entry_sign:", "No longer followed"),
    REJECTED: (":no_entry:", "Refused by Einstein"),
    AWAITING_APPROVAL: (":lock:", "Awaiting approval"),
    DECLINED: (":no_entry:", "Declined"),
    EXPIRED: (":hourglass:", "Approval expired"),
}


@dataclass(frozen=True, slots=True)
class Message:
    """A message payload: fallback text (notifications, screen readers) and blocks."""

    text: str
    blocks: list[Block]


def truncate(text: str, limit: int) -> str:
    return text if len(text) <= limit else text[: limit - 1] + "…"


def _section(text: str) -> Block:
    return {"type": "section", "text": {"type": "mrkdwn", "text": truncate(text, MAX_SECTION)}}


def _context(*texts: str) -> Block:
    return {
        "type": "context",
        "elements": [{"type": "mrkdwn", "text": truncate(t, MAX_SECTION)} for t in texts[:10]],
    }


def look(status: str) -> tuple[str, str]:
    return _LOOK.get(status, (":grey_question:", status.replace("_", " ").title()))


def progress_bar(fraction: float, *, width: int = 10) -> str:
    fraction = max(0.0, min(1.0, fraction))
    filled = round(fraction * width)
    return "▓" * filled + "░" * (width - filled)


def estimate_left(progress: float, elapsed: float) -> float | None:
    """Time left at the pace so far, once there is enough of it to mean something."""
    if progress < 0.05 or progress >= 1.0 or elapsed < 10:
        return None
    return elapsed * (1.0 - progress) / progress


def einstein_duration(value: str | None) -> str | None:
    """Einstein writes durations as HH:MM:SS:mmm."""
    if not value:
        return None
    parts = value.split(":")
    try:
        hours, minutes, seconds = (int(p) for p in parts[:3])
    except ValueError:
        return value
    return format_duration(hours * 3600 + minutes * 60 + seconds)


def _state_line(job: Job, *, now: datetime) -> str:
    symbol, name = look(job.status)
    parts = [f"{symbol} *{name}*"]
    if job.status == "QUEUED" and job.queue_position is not None:
        parts.append(f"position {job.queue_position} in the queue")
    if job.status == AWAITING_APPROVAL and job.approval_expires_at is not None:
        parts.append(f"until {job.approval_expires_at:%H:%M} UTC")
    if job.status == "RUNNING":
        parts.append(f"`{progress_bar(job.progress)}` {job.progress * 100:.0f}%")
    if job.epochs_done is not None and job.epochs:
        parts.append(f"epoch {job.epochs_done} of {job.epochs}")
    if job.running_since is not None:
        end = job.finished_at or now
        elapsed = (end - job.running_since).total_seconds()
        parts.append(f"{format_duration(elapsed)} training")
        eta = estimate_left(job.progress, elapsed) if job.status == "RUNNING" else None
        if eta is not None:
            parts.append(f"about {format_duration(eta)} left")
    if job.status == "SUCCEEDED" and job.result is not None:
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
        {"type": "mrkdwn", "text": f"*Requested by*\n<@{job.requester}>"},
        {"type": "mrkdwn", "text": f"*Options*\n{job.options.describe()}"},
    ]
    if job.approver is not None:
        verb = "Declined by" if job.status == DECLINED else "Approved by"
        fields.append({"type": "mrkdwn", "text": f"*{verb}*\n<@{job.approver}>"})
    blocks: list[Block] = [
        {
            "type": "header",
            "text": {"type": "plain_text", "text": truncate(f"Retrain {job.model_id}", MAX_HEADER)},
        },
        _section(_state_line(job, now=now)),
        {"type": "section", "fields": fields},
        _context(f"Updated {now:%Y-%m-%d %H:%M:%S} UTC · job `{job.id}`"),
    ]
    buttons = _card_buttons(job)
    if buttons:
        blocks.append({"type": "actions", "block_id": BlockId.CARD_ACTIONS, "elements": buttons})
    text = f"Retrain of {job.model_id} requested by <@{job.requester}>: {name}"
    if job.status == "RUNNING":
        text += f" ({job.progress * 100:.0f}%)"
    return Message(text=truncate(text, MAX_TEXT), blocks=blocks)


def _alert(job: Job, kind: str, *, now: datetime) -> Message:
    if kind == STALLED:
        since = job.last_progress_at or now
        text = (
            f"<@{job.requester}> :hourglass: No progress for "
            f"{format_duration((now - since).total_seconds())}: Einstein still reports the "
            f"training as running at {job.progress * 100:.0f}%. The bot keeps watching."
        )
    elif kind == UNREACHABLE:
        since = job.last_contact_at or now
        error = f" (last error: {truncate(job.last_error, 300)})" if job.last_error else ""
        text = (
            f"<@{job.requester}> :warning: Einstein has not answered for "
            f"{format_duration((now - since).total_seconds())}{error}. The bot keeps "
            "trying and will post here when it hears back."
        )
    else:
        symbol, name = look(job.status)
        text = (
            f"<@{job.requester}> :white_check_mark: Back to normal: Einstein answers and "
            f"the training is {symbol} {name.lower()}"
        )
        text += f" at {job.progress * 100:.0f}%." if job.status == "RUNNING" else "."
    return Message(text=truncate(text, MAX_TEXT), blocks=[_section(text)])


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
    """Refresh and Stop while the training runs; Retrain again once it has ended."""
    if job.status == AWAITING_APPROVAL:
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
    if job.status in (SUBMITTING, REJECTED, DECLINED, EXPIRED):
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
    ]


def render_reply(job: Job, status: str, *, now: datetime | None = None) -> Message:
    """The thread reply announcing that `job` reached `status` (or an alert key)."""
    kind = status.partition("#")[0]
    if kind in (STALLED, UNREACHABLE, RECOVERED):
        return _alert(job, kind, now=now or datetime.now(UTC))
    symbol, name = look(status)
    if status == "QUEUED":
        where = f" at position {job.queue_position}" if job.queue_position is not None else ""
        text = f"{symbol} Einstein queued the training{where}."
        return Message(text=text, blocks=[_section(text)])
    if status == "RUNNING":
        epochs = f" ({job.epochs} epochs at most)" if job.epochs else ""
        text = f"{symbol} Training started{epochs}."
        return Message(text=text, blocks=[_section(text)])
    if status == "SUCCEEDED":
        return _success(job)
    if status == AWAITING_APPROVAL:
        until = (
            f" Approval is possible until {job.approval_expires_at:%H:%M} UTC."
            if job.approval_expires_at
            else ""
        )
        note = f" {job.decision_note}" if job.decision_note else ""
        text = (
            f"{symbol} `{job.model_id}` is protected: a second person must approve this "
            f"retrain before Einstein is called.{note}{until}"
        )
        return Message(text=truncate(text, MAX_TEXT), blocks=[_section(text)])
    if status == APPROVED:
        text = f":white_check_mark: <@{job.approver}> approved the retrain; submitting it."
        return Message(text=text, blocks=[_section(text)])
    if status == DECLINED:
        reason = f": {truncate(job.decision_note, 1000)}" if job.decision_note else "."
        text = (
            f"<@{job.requester}> {symbol} <@{job.approver}> declined the retrain{reason} "
            "Nothing was started."
        )
        return Message(text=truncate(text, MAX_TEXT), blocks=[_section(text)])
    if status == EXPIRED:
        text = (
            f"<@{job.requester}> {symbol} Nobody approved the retrain in time, so nothing "
            "was started. Type the command again to ask anew."
        )
        return Message(text=text, blocks=[_section(text)])
    if status == CANCELLED:
        text = (
            f"{symbol} Stopped following this training. Einstein has no cancel call, so the "
            "training itself may still finish; this thread will not say."
        )
        return Message(text=text, blocks=[_section(text)])
    if status == LOST:
        text = (
            f"<@{job.requester}> {symbol} Einstein no longer knows the training of "
            f"`{job.model_id}` (the model may have been deleted), so it cannot be followed."
        )
        return Message(text=truncate(text, MAX_TEXT), blocks=[_section(text)])
    reason = job.failure_msg or "Einstein gave no reason."
    head = f"<@{job.requester}> {symbol} Retrain of `{job.model_id}` {name.lower()}."
    return Message(
        text=truncate(f"{head} {reason}", MAX_TEXT),
        blocks=[
            _section(head),
            _section(
                "*Reason from Einstein*\n```"
                + truncate(reason, FAILURE_INLINE_LIMIT)
                + "```"
                + (
                    "\n_The whole message is attached below._"
                    if len(reason) > FAILURE_INLINE_LIMIT
                    else ""
                )
            ),
        ],
    )


def _success(job: Job) -> Message:
    symbol, _ = look("SUCCEEDED")
    result = job.result or Result()
    head = f"<@{job.requester}> {symbol} Retrain of `{job.model_id}` succeeded."
    if result.comparison is not None:
        lines = render_comparison(Comparison.from_dict(result.comparison))
    else:
        lines = [
            f"*Test accuracy* {percent(result.test_accuracy)} · "
            f"*macro F1* {percent(result.macro_f1)}"
        ]
    if result.weakest:
        weakest = ", ".join(f"{s.label} ({percent(s.f1)})" for s in result.weakest)
        lines.append(f"*Weakest labels by F1*: {weakest}")
    if result.epochs_done is not None:
        epochs = f"*Epochs*: {result.epochs_done}"
        if result.epochs:
            epochs += f" of {result.epochs}"
        if result.early_stopping:
            epochs += " (stopped early)"
        lines.append(epochs)
    if result.train_split_size is not None and result.test_split_size is not None:
        lines.append(
            f"*Split*: {result.train_split_size} training / {result.test_split_size} test examples"
        )
    duration = einstein_duration(result.training_time)
    if duration:
        lines.append(f"*Training time*: {duration}")
    if result.metrics_error:
        lines.append(f":warning: Metrics unavailable: {result.metrics_error}")
    accuracy, macro_f1 = percent(result.test_accuracy), percent(result.macro_f1)
    text = f"{head} Test accuracy {accuracy}, macro F1 {macro_f1}."
    return Message(
        text=truncate(text, MAX_TEXT), blocks=[_section(head), _section("\n".join(lines))]
    )
