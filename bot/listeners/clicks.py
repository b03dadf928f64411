"""A button click on a card, read from its interactivity payload."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any, Final

from bot.core.requester import Requester
from bot.listeners.workspace import workspace_of

__all__ = ["Click"]

_MAX_JOB_ID: Final = 64  # the store's column width; anything longer is not a job of ours


@dataclass(frozen=True, slots=True)
class Click:
    """A button click on a card: who clicked, in which channel and workspace, and the job ID
    it carries."""

    user: str
    channel: str
    job_id: str
    team_id: str | None = None
    enterprise_id: str | None = None

    @classmethod
    def of(cls, body: Mapping[str, Any]) -> Click:
        """The click of a button: its value is the job ID, the card's channel is where."""
        action = (body.get("actions") or [{}])[0]
        channel = (body.get("channel") or {}).get("id") or (body.get("container") or {}).get(
            "channel_id"
        )
        job_id = str(action.get("value") or "")
        return cls.in_channel(body, channel=str(channel or ""), job_id=job_id)

    @classmethod
    def in_channel(cls, body: Mapping[str, Any], *, channel: str, job_id: str) -> Click:
        """Who acted in `body`, and their workspace, on `job_id` in `channel`: for a modal's
        submission, whose view carries the card's job and channel."""
        team_id, enterprise_id = workspace_of(body)
        return cls(
            user=str((body.get("user") or {}).get("id") or ""),
            channel=channel,
            job_id=job_id[:_MAX_JOB_ID],
            team_id=team_id,
            enterprise_id=enterprise_id,
        )

    @property
    def by(self) -> Requester:
        """Who clicked, answered in the card's channel."""
        return Requester(
            user=self.user,
            channel=self.channel,
            team_id=self.team_id,
            enterprise_id=self.enterprise_id,
        )
