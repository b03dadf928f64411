"""Who asks for something: a person, where they asked, and how to answer them privately."""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

from bot.core.jobs import Job

__all__ = ["Requester"]


@dataclass(frozen=True, slots=True)
class Requester:
    """Who asks for a retrain, where, and how to answer them privately."""

    user: str
    channel: str  # where they asked: private answers go there
    team_id: str | None = None  # the workspace they asked in (`bot.core.workspaces`)
    enterprise_id: str | None = None  # its Enterprise Grid org, if any
    response_url: str | None = None  # a slash command's; forms and buttons have none
    # A slash command's `channel_name`: `directmessage`, `privategroup` and `mpdm-…` say that
    # the channel is private; forms and buttons have none.
    channel_name: str | None = None

    @classmethod
    def of_command(cls, command: dict[str, Any]) -> Requester:
        return cls(
            user=str(command["user_id"]),
            channel=str(command["channel_id"]),
            team_id=command.get("team_id") or None,
            enterprise_id=command.get("enterprise_id") or None,
            response_url=command.get("response_url"),
            channel_name=command.get("channel_name"),
        )

    @classmethod
    def of_job(cls, job: Job) -> Requester:
        """The person who asked for `job`, answered where they asked."""
        return cls(
            user=job.requester,
            channel=job.origin_channel,
            team_id=job.team_id,
            enterprise_id=job.enterprise_id,
            response_url=job.response_url,
        )
