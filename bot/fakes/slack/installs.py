"""Installations: the record of one, and uninstalling the app, which revokes every token of the
installation and sends Slack's two events.

An installation is a workspace's (``team_id``) or an Enterprise org's (``enterprise_id``
alone: an org-wide install). Uninstalling revokes its tokens (what they answer afterwards is
in ``tokens``) and POSTs ``tokens_revoked`` then ``app_uninstalled`` (``events``), signed, to
the app's Events Request URL when one is set.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Any

import aiohttp

from bot.fakes.slack.events import app_uninstalled_event, event_callback, tokens_revoked_event
from bot.fakes.slack.signing import SentRequest, post_event
from bot.fakes.slack.teams import Teams
from bot.fakes.slack.tokens import Grant, InstallKey, Tokens

__all__ = ["Install", "Uninstaller"]


@dataclass(frozen=True)
class Install:
    """One completed install, as ``oauth.v2.access`` answered it (``team_id`` is ``None`` for
    an org-wide install)."""

    team_id: str | None
    enterprise_id: str | None
    is_enterprise_install: bool
    user_id: str
    bot_token: str | None
    bot_user_id: str | None
    bot_scopes: tuple[str, ...]
    user_token: str | None
    user_scopes: tuple[str, ...]
    time: float


class Uninstaller:
    """Revokes installations and tells the app, at ``events_url`` once set."""

    def __init__(self, *, teams: Teams, tokens: Tokens, app_id: str) -> None:
        self._teams = teams
        self._tokens = tokens
        self._app_id = app_id
        self.events_url: str | None = None
        self.signing_secret = ""

    def key(self, *, team_id: str | None, enterprise_id: str | None) -> InstallKey:
        """The installation named: a workspace's, or an org's when only the org is given."""
        if team_id is None:
            if enterprise_id is None or not self._teams.org(enterprise_id):
                raise ValueError(f"no Enterprise org {enterprise_id!r} in the fake")
            return (enterprise_id, None)
        tenant = self._teams.find(team_id)
        if tenant is None:
            raise ValueError(f"no workspace {team_id!r} in the fake")
        if enterprise_id is not None and enterprise_id != tenant.team.enterprise_id:
            raise ValueError(f"workspace {team_id} is not in the org {enterprise_id}")
        return tenant.team.install_key

    async def uninstall(
        self, *, team_id: str | None, enterprise_id: str | None
    ) -> list[SentRequest]:
        """Revoke the installation and deliver the two events; their answers, in order."""
        key = self.key(team_id=team_id, enterprise_id=enterprise_id)
        if key not in self._tokens.installed:
            raise ValueError(f"the app is not installed at {key}")
        envelopes = self._envelopes(key, self._tokens.revoke(key))
        if self.events_url is None:
            return []
        async with aiohttp.ClientSession() as session:
            return [
                await post_event(
                    session, self.events_url, envelope, signing_secret=self.signing_secret
                )
                for envelope in envelopes
            ]

    def _envelopes(self, key: InstallKey, revoked: list[Grant]) -> list[dict[str, Any]]:
        """``tokens_revoked`` and ``app_uninstalled`` for the installation, in their envelopes.

        The bot user is listed unless only people's tokens were issued (a user-scopes-only
        install); the installation the events are for acts as the bot, else as the installer.
        """
        team = self._teams.of_key(key)[0].team
        people = sorted({g.user_id for g in revoked if g.kind == "user" and g.user_id})
        bots = [team.bot.user_id] if any(g.kind == "bot" for g in revoked) or not people else []
        events = [tokens_revoked_event(users=people, bots=bots), app_uninstalled_event()]
        enterprise_id, installed_team = key
        return [
            event_callback(
                team_id=installed_team or enterprise_id or team.id,
                event=event,
                enterprise_id=enterprise_id,
                api_app_id=self._app_id,
                user_id=(bots or people)[0],
                is_bot=bool(bots),
                is_enterprise_install=installed_team is None,
            )
            for event in events
        ]
