"""How the bot knows its own posts again: message metadata on posts, the job's ID in file names.

Every channel post carries Slack message metadata naming the job and the state it announces;
uploads carry no metadata, so their file names start with the job's ID. After a crash between a
post and its store write, reading the channel back through these marks tells what was posted.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bot.core.jobs import Job
from bot.core.owed import FAILURE_TEXT, PICTURES

__all__ = [
    "CARD",
    "FAILURE_FILE",
    "HISTORY_PAGE",
    "METADATA_EVENT",
    "card_ts",
    "file_name",
    "metadata",
    "posted_states",
]

METADATA_EVENT = "retrain_job_state"
CARD = "CARD"  # the state mark of the parent message
FAILURE_FILE = "failure-message.txt"
# Slack's page limit for conversations.history and .replies of apps outside its Marketplace
# (2025), which may also read only once a minute per method: a larger `limit` is cut to it.
HISTORY_PAGE = 15


def metadata(job: Job, state: str) -> dict[str, Any]:
    """The message metadata of `job`'s post announcing `state` (or `CARD`)."""
    return {
        "event_type": METADATA_EVENT,
        "event_payload": {"job_id": job.id, "model_id": job.model_id, "state": state},
    }


def file_name(job: Job, suffix: str) -> str:
    """The name of a file uploaded for `job` (a picture or the failure text)."""
    return f"retrain-{job.id}-{suffix}"


def posted_states(messages: Iterable[dict[str, Any]], job: Job) -> set[str]:
    """The states `job`'s thread announces among `messages`, uploads included."""
    states: set[str] = set()
    for message in messages:
        state = _job_state(message, job)
        if state is not None and state != CARD:
            states.add(state)
        for file in message.get("files") or []:
            name = str(file.get("name", ""))
            if name.startswith(file_name(job, "")):
                states.add(FAILURE_TEXT if name.endswith(FAILURE_FILE) else PICTURES)
    return states


def card_ts(messages: Iterable[dict[str, Any]], job: Job) -> str | None:
    """The ts of `job`'s card among `messages`, if it is there."""
    return next((str(m["ts"]) for m in messages if _job_state(m, job) == CARD), None)


def _job_state(message: dict[str, Any], job: Job) -> str | None:
    marks = message.get("metadata") or {}
    payload = marks.get("event_payload") or {}
    if marks.get("event_type") != METADATA_EVENT or payload.get("job_id") != job.id:
        return None
    state = payload.get("state")
    return str(state) if state else None
