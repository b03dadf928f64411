"""The thread replies: one for each state a job reaches, and the alerts. Pure."""

from __future__ import annotations

from datetime import UTC, datetime

from bot.core.compare import Comparison, render_comparison
from bot.core.jobs import Job, JobStatus, Result
from bot.core.machine import (
    QUEUED_LONG,
    RECOVERED,
    REMINDER,
    STALLED,
    UNREACHABLE,
    queued_long_said,
)
from bot.core.mrkdwn import escape, format_duration, local_time, percent, utc_time
from bot.core.owed import APPROVED, FAILURE_INLINE_LIMIT
from bot.slack.look import MAX_TEXT, Message, look, section, truncate

__all__ = ["einstein_duration", "render_reply"]


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


def _alert(job: Job, kind: str, *, now: datetime) -> Message:
    if kind == STALLED:
        since = job.last_progress_at or now
        text = (
            f"<@{job.requester}> :hourglass: No progress for "
            f"{format_duration((now - since).total_seconds())}: Einstein still reports the "
            f"training as running at {job.progress * 100:.0f}%. The bot keeps watching."
        )
    elif kind == QUEUED_LONG:
        since = job.last_progress_at or job.created_at
        position = f" at position {job.queue_position}" if job.queue_position else ""
        text = (
            f"<@{job.requester}> :hourglass: Still queued{position} after "
            f"{format_duration((now - since).total_seconds())}: Einstein has not started the "
            "training yet. The bot keeps watching and will say when it starts."
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
        text += f" at {job.progress * 100:.0f}%." if job.status == JobStatus.RUNNING else "."
    return Message(text=truncate(text, MAX_TEXT), blocks=[section(text)])


def render_reply(job: Job, status: str, *, now: datetime | None = None) -> Message:
    """The thread reply announcing that `job` reached `status` (or an alert key)."""
    kind = status.partition("#")[0]
    if kind in (STALLED, UNREACHABLE, RECOVERED, QUEUED_LONG):
        return _alert(job, kind, now=now or datetime.now(UTC))
    symbol, name = look(status)
    if status == JobStatus.QUEUED:
        # The position when Einstein queued it: the reply may go out after the training moved on.
        position = job.first_queue_position
        if position is None:
            position = job.queue_position
        where = f" at position {position}" if position is not None else ""
        text = f"{symbol} Einstein queued the training{where}."
        return Message(text=text, blocks=[section(text)])
    if status == JobStatus.RUNNING:
        epochs = f" ({job.epochs} epochs at most)" if job.epochs else ""
        text = f"{symbol} Training started{epochs}."
        if queued_long_said(job) and job.running_since is not None:
            waited = format_duration((job.running_since - job.created_at).total_seconds())
            text = (
                f"<@{job.requester}> {symbol} Training started{epochs}, {waited} after it "
                "was requested."
            )
        return Message(text=text, blocks=[section(text)])
    if status == JobStatus.SUCCEEDED:
        return _success(job)
    if status == JobStatus.AWAITING_APPROVAL:
        # Who may approve is on the card, whose first post mentions them: once is enough.
        note = " Who may approve is on the card." if job.decision_note else ""
        text = (
            f"{symbol} `{job.model_id}` is protected: a second person must approve this "
            f"retrain before Einstein is called.{note}"
        )
        expires = job.approval_expires_at
        if expires is None:
            return Message(text=truncate(text, MAX_TEXT), blocks=[section(text)])
        until = " Approval is possible until {}."
        return Message(
            text=truncate(text + until.format(utc_time(expires)), MAX_TEXT),
            blocks=[section(text + until.format(local_time(expires)))],
        )
    if status == REMINDER:
        note = f" {job.decision_note}" if job.decision_note else ""
        expires = job.approval_expires_at

        def reminder(until: str) -> str:
            return (
                f":bell: Reminder: <@{job.requester}>'s retrain of `{job.model_id}` still "
                f"waits for approval{until}; *Approve* or *Reject* is on the card above.{note}"
            )

        return Message(
            text=truncate(reminder(f" until {utc_time(expires)}" if expires else ""), MAX_TEXT),
            blocks=[section(reminder(f" until {local_time(expires)}" if expires else ""))],
        )
    if status == APPROVED:
        text = f":white_check_mark: <@{job.approver}> approved the retrain; submitting it."
        return Message(text=text, blocks=[section(text)])
    if status == JobStatus.DECLINED:
        reason = f": {truncate(job.decision_note, 1000)}" if job.decision_note else "."
        text = (
            f"<@{job.requester}> {symbol} <@{job.approver}> declined the retrain{reason} "
            "Nothing was started."
        )
        return Message(text=truncate(text, MAX_TEXT), blocks=[section(text)])
    if status == JobStatus.EXPIRED:
        text = (
            f"<@{job.requester}> {symbol} Nobody approved the retrain in time, so nothing "
            "was started. Type the command again to ask anew."
        )
        return Message(text=text, blocks=[section(text)])
    if status == JobStatus.CANCELLED:
        text = (
            f"{symbol} Stopped following this training. Einstein has no cancel call, so the "
            "training itself may still finish; this thread will not say."
        )
        return Message(text=text, blocks=[section(text)])
    if status == JobStatus.LOST:
        text = (
            f"<@{job.requester}> {symbol} Einstein no longer knows the training of "
            f"`{job.model_id}` (the model may have been deleted), so it cannot be followed."
        )
        return Message(text=truncate(text, MAX_TEXT), blocks=[section(text)])
    reason = job.failure_msg or "Einstein gave no reason."
    head = f"<@{job.requester}> {symbol} Retrain of `{job.model_id}` {name.lower()}."
    return Message(
        text=truncate(f"{head} {reason}", MAX_TEXT),
        blocks=[
            section(head),
            section(
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
    symbol, _ = look(JobStatus.SUCCEEDED)
    result = job.result or Result()
    head = f"<@{job.requester}> {symbol} Retrain of `{job.model_id}` succeeded."
    if result.regressed:
        fallen = " and ".join(
            f"{name} by {-points:.1f} points" for name, points in result.regressed
        )
        head = (
            f"<@{job.requester}> :warning: Retrain of `{job.model_id}` succeeded, but the model "
            f"got worse: {fallen}."
        )
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
    if result.regressed:
        lines.append(_what_to_do(job, result))
    accuracy, macro_f1 = percent(result.test_accuracy), percent(result.macro_f1)
    text = f"{head} Test accuracy {accuracy}, macro F1 {macro_f1}."
    return Message(text=truncate(text, MAX_TEXT), blocks=[section(head), section("\n".join(lines))])


def _what_to_do(job: Job, result: Result) -> str:
    """After a worse model: Einstein has already put it in place, so say what helps."""
    weak = ""
    if result.comparison is not None:
        down = Comparison.from_dict(result.comparison).movers_down
        if down:
            weak = " for " + ", ".join(f"*{escape(m.label)}*" for m in down)
    return (
        "*What now*: Einstein replaces the model in place, so this model is the one answering "
        f"now. Add examples{weak} (or feedback on its mistakes) and retrain again: "
        f"`/retrain {job.model_id}`."
    )
