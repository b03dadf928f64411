"""Block Kit for the App Home tab: the user's trainings, running first. Pure: no Slack calls here.

At most `HOME_JOBS` trainings are shown, each one line linking its thread, and the tab never
exceeds Slack's `MAX_VIEW_BLOCKS`.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime
from typing import Any, Final

from bot.access.visibility import is_direct
from bot.core.jobs import Job
from bot.core.mrkdwn import local_time
from bot.slack.look import MAX_SECTION, Block, job_line, section, truncate

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
    line = job_line(job, now=now)
    if entry.link:
        line += f" · <{entry.link}|thread>"
    elif job.parent_ts is not None:
        line += " · in a direct message" if is_direct(job.channel) else f" · in <#{job.channel}>"
    return truncate(line, MAX_SECTION)


def home_view(
    entries: Sequence[HomeEntry], *, now: datetime, notes: Sequence[str] = ()
) -> dict[str, Any]:
    """The Home tab: the user's running trainings, then their recent ones, newest first, and
    `notes` on those left out (`bot.slack.answers.left_out`)."""
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
                    "text": f"Updated {local_time(now)}. Type `/retrain` in a channel "
                    "to open the retrain form, or `/retrain help` for the typed command.",
                }
            ],
        },
    ]
    if not shown and not notes:
        blocks.append(section("You have not retrained a model with this bot yet."))
    for title, group in (("Running", running), ("Recent", ended)):
        if not group:
            continue
        blocks.append({"type": "divider"})
        blocks.append(section(f"*{title}*"))
        blocks.extend(section(_home_line(e, now=now)) for e in group)
    if notes:
        blocks.append({"type": "divider"})
        blocks.extend(section(note) for note in notes)
    return {"type": "home", "blocks": blocks[:MAX_VIEW_BLOCKS]}
