"""Block Kit for the App Home tab: the user's trainings, running first. Pure: no Slack calls here.

At most `HOME_JOBS` trainings are shown, each one line linking its thread, and the tab never
exceeds Slack's `MAX_VIEW_BLOCKS`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from bot.core.jobs import Job, JobStatus
from bot.core.mrkdwn import format_duration, percent
from bot.slack.look import MAX_SECTION, Block, look, section, truncate

__all__ = ["HOME_JOBS", "MAX_VIEW_BLOCKS", "HomeEntry", "home_view"]

MAX_VIEW_BLOCKS: Final = 100  # Slack's limit for modals and Home tabs alike
HOME_JOBS: Final = 20  # one block and one permalink call each


@dataclass(frozen=True, slots=True)
class HomeEntry:
    """One of the user's trainings and the permalink of its thread, if it has one."""

    job: Job
    link: str | None = None


def _home_line(entry: HomeEntry, *, now: datetime) -> str:
    job = entry.job
    symbol, name = look(job.status)
    head = f"{symbol} *{name}*"
    if job.status == JobStatus.RUNNING:
        head += f" {job.progress * 100:.0f}%"
    if job.status == JobStatus.QUEUED and job.queue_position is not None:
        head += f", position {job.queue_position} in the queue"
    parts = [f"{head} · `{job.model_id}`", job.options.describe()]
    if job.result is not None and job.result.test_accuracy is not None:
        parts.append(f"accuracy {percent(job.result.test_accuracy)}")
    if job.finished_at is not None:
        parts.append(f"ended {format_duration((now - job.finished_at).total_seconds())} ago")
    else:
        parts.append(f"started {format_duration((now - job.created_at).total_seconds())} ago")
    if entry.link:
        parts.append(f"<{entry.link}|thread>")
    elif job.parent_ts is not None:
        parts.append(f"in <#{job.channel}>")
    return truncate(" · ".join(parts), MAX_SECTION)


def home_view(entries: Sequence[HomeEntry], *, now: datetime) -> dict[str, Any]:
    """The Home tab: the user's running trainings, then their recent ones, newest first."""
    shown = list(entries)[:HOME_JOBS]
    running = [e for e in shown if not e.job.is_final]
    ended = [e for e in shown if e.job.is_final]
    blocks: list[Block] = [
        {"type": "header", "text": {"type": "plain_text", "text": "Your trainings"}},
        {
            "type": "context",
            "elements": [
                {
                    "type": "mrkdwn",
                    "text": f"Updated {now:%Y-%m-%d %H:%M} UTC. Type `/retrain` in a channel "
                    "to open the retrain form, or `/retrain help` for the typed command.",
                }
            ],
        },
    ]
    if not shown:
        blocks.append(section("You have not retrained a model with this bot yet."))
    for title, group in (("Running", running), ("Recent", ended)):
        if not group:
            continue
        blocks.append({"type": "divider"})
        blocks.append(section(f"*{title}*"))
        blocks.extend(section(_home_line(e, now=now)) for e in group)
    return {"type": "home", "blocks": blocks[:MAX_VIEW_BLOCKS]}
