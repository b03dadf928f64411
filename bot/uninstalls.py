"""A workspace uninstalls the app: its installation goes, and its followed jobs go quiet.

Slack sends `tokens_revoked` (the app's tokens were revoked, which an uninstall also does) and
`app_uninstalled` (the app was removed) to the instance its load balancer picks. That instance
deletes what they name through Bolt's own handlers for these events. On `app_uninstalled` it
also stops following every unfinished job of that workspace (or, for an org-wide install, of
every workspace of that org), so nothing more is posted there, and logs it once. Other
workspaces are not touched.

A job whose next Slack call finds no installation (tokens revoked without an uninstall, or on
an instance whose jobs the event did not reach) waits `Timing.uninstalled_grace` for the event
and is then silenced by its deliverer the same way (`bot.slack.tokens.NotInstalled`, logged
once per workspace). `tokens_revoked` only deletes the bot: `app_uninstalled` follows it.
"""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.listener.async_builtins import AsyncTokenRevocationListeners

from bot.core.jobs import Job
from bot.follow.follower import Follower
from bot.slack.installs import Installations
from bot.slack.tokens import Team
from bot.store.jobs import JobStore

__all__ = ["Uninstalls"]

log = logging.getLogger(__name__)


class Uninstalls:
    """The two events of an uninstall, for the listeners in `bot.listeners.installs`."""

    def __init__(
        self, *, installations: Installations, store: JobStore, follower: Follower
    ) -> None:
        # Deleting through `Installations` also drops the bots it kept for the workspace.
        self._builtins = AsyncTokenRevocationListeners(installations)
        self._store = store
        self._follower = follower

    async def app_uninstalled(self, context: AsyncBoltContext) -> None:
        await self._builtins.handle_app_uninstalled_events(context)
        await self._quiet(_team(context))

    async def tokens_revoked(self, event: dict[str, Any], context: AsyncBoltContext) -> None:
        await self._builtins.handle_tokens_revoked_events(event, context)

    async def _quiet(self, team: Team) -> None:
        """Stop following the workspace's unfinished jobs; whatever they owed goes unsaid."""
        unfinished = await self._store.unfinished(team_id=team.team_id)  # None: every team's
        jobs = [job for job in unfinished if _belongs(job, team)]
        for job in jobs:
            await self._follower.silence(job)
        log.warning(
            "workspace %s uninstalled the app: %d followed training(s) there are no longer "
            "followed or reported",
            team,
            len(jobs),
        )


def _team(context: AsyncBoltContext) -> Team:
    # An org-wide install's events name the org alone: every workspace of it is meant.
    team_id = None if context.is_enterprise_install else context.team_id
    return Team(team_id=team_id, enterprise_id=context.enterprise_id)


def _belongs(job: Job, team: Team) -> bool:
    if team.team_id is None:
        return team.enterprise_id is not None and job.enterprise_id == team.enterprise_id
    return job.team_id == team.team_id
