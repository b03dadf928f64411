"""Slack's transitions: the card and replies it confirmed, and a channel it refuses for good."""

from __future__ import annotations

from bot.core.jobs import Job

__all__ = ["MOVE_AFTER", "card_posted", "move", "posted", "refused"]

# Refused posts in a channel the bot cannot enter before the thread moves to the requester's DM.
MOVE_AFTER = 3


def card_posted(job: Job, *, ts: str) -> Job:
    return job.with_changes(parent_ts=ts)


def posted(job: Job, *keys: str) -> Job:
    """Slack confirmed these thread replies (or found them already there)."""
    return job.with_changes(reported=job.reported | set(keys))


def refused(job: Job) -> Job:
    """Slack refused a post in the job's channel for good (not a member, no such channel)."""
    return job.with_changes(refusals=job.refusals + 1)


def move(job: Job, *, channel: str) -> Job:
    """The card and thread go to `channel` (the requester's DM); the command's channel stays
    `origin_channel`. A card posted in the old channel is left there and a new one posted."""
    return job.with_changes(channel=channel, refusals=0, parent_ts=None)
