"""Whose token a Slack call carries: the one bot token, or the installation of its workspace.

A bot started with `SLACK_BOT_TOKEN` serves one workspace and every call carries that token
(`OneToken`). A bot installed with Slack's OAuth flow serves every workspace that installed it,
and each call carries the token of the workspace, or Enterprise Grid org, it is made for
(`InstalledTokens`, from the installation store; rotated before it expires when token rotation
is on).

Which workspace a call is for is `current_team`, set where work for a workspace begins: by a
Bolt middleware for every request, by the deliverer for every job it posts for, by a
schedule's fire. The outbox reads it when a call is queued, so a call waiting in a channel's
lane keeps its workspace whichever task sends it.

A workspace that uninstalled the app has no token: its calls fail with `NotInstalled`, a
refusal, logged once per workspace. So do calls whose stored token Slack refuses as revoked
(`refused`): the outbox (`bot.slack.sender`) looks the token up once more, which finds a
renewed one or none.
"""

from __future__ import annotations

import asyncio
import contextvars
import logging
import time
from dataclasses import dataclass
from typing import Protocol

from slack_sdk.errors import SlackTokenRotationError
from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.oauth.token_rotation.async_rotator import AsyncTokenRotator

from bot.core.jobs import Job
from bot.errors import SlackError, SlackRefused
from bot.slack.installs import Installations

__all__ = [
    "NOT_INSTALLED",
    "InstalledTokens",
    "NotInstalled",
    "OneToken",
    "Team",
    "Tokens",
    "current_team",
]

log = logging.getLogger(__name__)

NOT_INSTALLED = "not_installed"
# A token is rotated when it has less than this left (Bolt's default for its own requests).
ROTATE_BEFORE_MINUTES = 120


@dataclass(frozen=True, slots=True)
class Team:
    """A Slack workspace, and the Enterprise Grid org it belongs to (if any)."""

    team_id: str | None
    enterprise_id: str | None = None

    @classmethod
    def of_job(cls, job: Job) -> Team:
        return cls(team_id=job.team_id, enterprise_id=job.enterprise_id)

    def __str__(self) -> str:
        return "/".join(part for part in (self.enterprise_id, self.team_id) if part) or "?"


current_team: contextvars.ContextVar[Team | None] = contextvars.ContextVar(
    "slack_team", default=None
)


class NotInstalled(SlackRefused):
    """The workspace has no installation of the app (never installed, or uninstalled)."""


class Tokens(Protocol):
    """The bot token for a workspace's calls."""

    async def token(self, team: Team | None) -> str | None:
        """The token to call Slack with for `team`; None: the client's own token."""
        ...

    def refused(self, team: Team, token: str | None) -> bool:
        """Slack refused `token` of `team` as revoked; whether looking again may find another
        (a renewed token, or that the workspace uninstalled the app)."""
        ...


class OneToken:
    """Single-workspace mode: every call carries the client's own token."""

    async def token(self, team: Team | None) -> str | None:
        return None

    def refused(self, team: Team, token: str | None) -> bool:
        return False  # the one token is all there is


class InstalledTokens:
    """Each workspace's bot token from the installation store (see `bot.slack.installs`)."""

    def __init__(self, *, installations: Installations, rotator: AsyncTokenRotator | None) -> None:
        self._installations = installations
        self._rotator = rotator
        self._told: set[Team] = set()  # workspaces whose missing installation was logged
        self._rotating: dict[Team, asyncio.Lock] = {}
        self._refused: dict[Team, str] = {}  # the token Slack last refused, per workspace

    async def token(self, team: Team | None) -> str | None:
        if team is None or (team.team_id is None and team.enterprise_id is None):
            raise NotInstalled("a Slack call named no workspace", code=NOT_INSTALLED)
        bot = await self._find(team)
        if bot is None or not bot.bot_token or bot.bot_token == self._refused.get(team):
            if team not in self._told:
                self._told.add(team)
                log.warning(
                    "workspace %s has no installation of the app: nothing is posted there", team
                )
            raise NotInstalled(f"the app is not installed in workspace {team}", code=NOT_INSTALLED)
        self._told.discard(team)
        self._refused.pop(team, None)
        if self._rotator is not None and bot.bot_refresh_token and _expiring(bot):
            bot = await self._rotate(team, bot)
        return bot.bot_token

    async def _rotate(self, team: Team, bot: Bot) -> Bot:
        """A token near its expiry, renewed once however many calls want it now. A refresh
        token works once: when another instance (or Bolt, for a request) renewed it first,
        the renewed token it saved is the one to use."""
        assert self._rotator is not None
        async with self._rotating.setdefault(team, asyncio.Lock()):
            current = await self._find(team, fresh=True) or bot
            if current.bot_token != bot.bot_token and not _expiring(current):
                return current  # renewed meanwhile
            try:
                rotated = await self._rotator.perform_bot_token_rotation(
                    bot=current, minutes_before_expiration=ROTATE_BEFORE_MINUTES
                )
            except SlackTokenRotationError as exc:
                renewed = await self._find(team, fresh=True)
                if renewed is not None and renewed.bot_token != current.bot_token:
                    return renewed
                if _expired(current):
                    raise SlackError(
                        f"the token of workspace {team} could not be renewed", code="rotation"
                    ) from exc
                log.warning("renewing the token of workspace %s failed; it still works", team)
                return current
            if rotated is None:
                return current
            await self._installations.async_save_bot(rotated)
            return rotated

    def refused(self, team: Team, token: str | None) -> bool:
        if token is not None:
            self._refused[team] = token
        self.forget(team)
        return True

    def forget(self, team: Team) -> None:
        self._installations.forget(team.enterprise_id, team.team_id)

    async def _find(self, team: Team, *, fresh: bool = False) -> Bot | None:
        """The workspace's own installation, else its org's org-wide one (`fresh`: read from
        the database, not the minute's copy)."""
        if fresh:
            self.forget(team)
        bot = await self._installations.async_find_bot(
            enterprise_id=team.enterprise_id, team_id=team.team_id, is_enterprise_install=False
        )
        if bot is None and team.enterprise_id is not None and team.team_id is not None:
            bot = await self._installations.async_find_bot(
                enterprise_id=team.enterprise_id, team_id=None, is_enterprise_install=True
            )
        return bot


def _expiring(bot: Bot) -> bool:
    expires = bot.bot_token_expires_at
    return expires is not None and expires - time.time() < ROTATE_BEFORE_MINUTES * 60


def _expired(bot: Bot) -> bool:
    return bot.bot_token_expires_at is not None and bot.bot_token_expires_at <= time.time()
