"""The private answers of `/retrain status`, `list` and `history`. Pure: no Slack calls here.

An answer is a `Message`: its blocks say times in each reader's zone (`local_time`), its plain
`text` in UTC. A training someone may not see is never drawn here; only how many were left out,
and why, in words that name no channel.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Final

from bot.access.visibility import Sorted
from bot.core.jobs import Job, JobStatus
from bot.core.mrkdwn import local_time, utc_time
from bot.slack.look import MAX_TEXT, Message, job_line, section, truncate

__all__ = [
    "MAX_LINES",
    "Line",
    "hidden_latest",
    "history_line",
    "left_out",
    "listing",
    "plain",
    "single",
    "training_elsewhere",
]

MAX_LINES: Final = 40  # a list longer than this says how many more there are

_TRY_AGAIN: Final = "please try again in a minute."


@dataclass(frozen=True, slots=True)
class Line:
    """One line of an answer, for the blocks (mrkdwn) and for the plain text."""

    mrkdwn: str
    plain: str


def plain(text: str) -> Line:
    """A line without times: the same in blocks and in plain text."""
    return Line(text, text)


def history_line(job: Job, *, now: datetime, where: str) -> Line:
    """One past training: outcome and when, metrics, requester, approver and where."""
    return Line(
        _history(job, now=now, stamp=local_time) + where,
        _history(job, now=now, stamp=utc_time) + where,
    )


def _history(job: Job, *, now: datetime, stamp: Callable[[datetime], str]) -> str:
    text = f"{job_line(job, now=now, stamp=stamp)} · by <@{job.requester}>"
    if job.result is not None and job.result.macro_f1 is not None:
        text += f" · macro F1 {job.result.macro_f1 * 100:.1f}%"
    if job.approver is not None:
        verb = "declined" if job.status == JobStatus.DECLINED else "approved"
        text += f" · {verb} by <@{job.approver}>"
    return text


def left_out(seen: Sorted) -> list[str]:
    """What an answer says about the trainings it does not show."""
    notes = []
    if seen.hidden == 1:
        notes.append(
            ":lock: 1 training is in a private channel you are not a member of, so it is not "
            "shown here."
        )
    elif seen.hidden:
        notes.append(
            f":lock: {seen.hidden} trainings are in private channels you are not a member of, "
            "so they are not shown here."
        )
    if seen.unchecked == 1:
        notes.append(
            ":warning: 1 training in a private channel is not shown: Slack did not say just "
            f"now who is in it; {_TRY_AGAIN}"
        )
    elif seen.unchecked:
        notes.append(
            f":warning: {seen.unchecked} trainings in private channels are not shown: Slack "
            f"did not say just now who is in them; {_TRY_AGAIN}"
        )
    return notes


def hidden_latest(model_id: str, *, unchecked: bool) -> str:
    """`/retrain status` of a model whose latest training the person may not see."""
    if unchecked:
        return (
            f":warning: The latest retrain of `{model_id}` is in a private channel and is not "
            f"shown: Slack did not say just now whether you are a member; {_TRY_AGAIN}"
        )
    return (
        f":lock: The latest retrain of `{model_id}` is in a private channel you are not a "
        "member of, so it is not shown here."
    )


def training_elsewhere(model_id: str) -> str:
    """Said after `status` when the model's training goes on for another workspace: what a
    retrain of it would be told, and nothing of where."""
    return f" `{model_id}` is training now for another workspace."


def single(text: str) -> Message:
    """A one-line answer without times."""
    return Message(text=truncate(text, MAX_TEXT), blocks=[section(text)])


def listing(
    title: str, lines: Sequence[Line], *, more: int = 0, notes: Sequence[str] = (), empty: str
) -> Message:
    """A titled list, one section per line, then how many `more` were not drawn and the notes.

    At most `MAX_LINES` lines are drawn; the rest count as `more`.
    """
    more += max(0, len(lines) - MAX_LINES)
    shown = list(lines)[:MAX_LINES]
    tail = [*([f"…and {more} more."] if more else []), *notes]
    if not shown:
        texts = [empty, *tail]
        return Message(
            text=truncate("\n".join(texts), MAX_TEXT), blocks=[section(t) for t in texts]
        )
    blocks = [section(f"*{title}*"), *(section(f"• {line.mrkdwn}") for line in shown)]
    blocks += [section(text) for text in tail]
    text = "\n".join([f"*{title}*", *(f"• {line.plain}" for line in shown), *tail])
    return Message(text=truncate(text, MAX_TEXT), blocks=blocks)
