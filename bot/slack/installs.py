"""Installed with Slack's OAuth flow: the installations, and Bolt's install and redirect pages.

With `SLACK_CLIENT_ID`, `SLACK_CLIENT_SECRET` and `SLACK_STATE_SECRET` the bot serves Bolt's
install page at `/slack/install` and its redirect at `/slack/oauth_redirect`. Installations
are kept by slack_sdk's `AsyncSQLAlchemyInstallationStore` in the bot's own database (tables
`slack_installations` and `slack_bots`, created by the migrations), and the OAuth `state` is
signed with the state secret (slack_sdk's `StatelessOAuthStateStore`), so any instance can
finish an install another one began.

`Installations` puts that store on the job store's engine once it is open, and keeps each
workspace's bot for a minute: the bot looks it up for every request and every post. Saving or
deleting an installation through it, on this instance, drops what it kept at once; another
instance sees an uninstall when its calls are refused (`bot.slack.tokens`) or after a minute.
"""

from __future__ import annotations

import logging
import time
from collections.abc import Callable
from typing import Any, Final

from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.oauth.installation_store.async_installation_store import AsyncInstallationStore
from slack_sdk.oauth.installation_store.models.bot import Bot
from slack_sdk.oauth.installation_store.models.installation import Installation
from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore
from slack_sdk.oauth.state_store.stateless import StatelessOAuthStateStore
from sqlalchemy.ext.asyncio import AsyncEngine

from bot.settings import Settings

__all__ = ["BOT_SCOPES", "INSTALL_PATH", "REDIRECT_PATH", "Installations", "oauth_settings"]

log = logging.getLogger(__name__)

INSTALL_PATH: Final = "/slack/install"
REDIRECT_PATH: Final = "/slack/oauth_redirect"
# The bot scopes an install asks for: manifest.yml's, which a test keeps equal to these.
BOT_SCOPES: Final = (
    "commands",
    "chat:write",
    "chat:write.public",
    "channels:history",
    "groups:history",
    "files:write",
    "channels:join",
    "usergroups:read",
    "groups:read",
    "channels:read",
    "im:write",
    "im:history",
)
# How long a state (the install link's) stays good: Slack's page needs a minute or two.
_STATE_SECONDS: Final = 600
_KEEP_BOT: Final = 60.0

_Key = tuple[str | None, str | None, bool]


class Installations(AsyncInstallationStore):
    """slack_sdk's SQLAlchemy installation store on `engine()`, with each bot kept a minute."""

    def __init__(
        self,
        *,
        client_id: str,
        engine: Callable[[], AsyncEngine],
        clock: Callable[[], float] = time.monotonic,
    ) -> None:
        self._client_id = client_id
        self._engine = engine
        self._clock = clock
        self._store: AsyncSQLAlchemyInstallationStore | None = None
        self._bots: dict[_Key, tuple[float, Bot | None]] = {}

    @property
    def logger(self) -> logging.Logger:
        return log

    @property
    def _sql(self) -> AsyncSQLAlchemyInstallationStore:
        if self._store is None or self._store.engine is not self._engine():
            self._store = AsyncSQLAlchemyInstallationStore(
                client_id=self._client_id, engine=self._engine(), logger=log
            )
        return self._store

    async def async_save(self, installation: Installation) -> None:
        self._bots.clear()
        await self._sql.async_save(installation)

    async def async_save_bot(self, bot: Bot) -> None:
        self._bots.clear()
        await self._sql.async_save_bot(bot)

    async def async_find_bot(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        is_enterprise_install: bool | None = False,
    ) -> Bot | None:
        key = (enterprise_id, team_id, bool(is_enterprise_install))
        kept = self._bots.get(key)
        if kept is not None and kept[0] > self._clock():
            return kept[1]
        bot = await self._sql.async_find_bot(
            enterprise_id=enterprise_id,
            team_id=team_id,
            is_enterprise_install=is_enterprise_install,
        )
        self._bots[key] = (self._clock() + _KEEP_BOT, bot)
        return bot

    async def async_find_installation(
        self,
        *,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None = None,
        is_enterprise_install: bool | None = False,
    ) -> Installation | None:
        return await self._sql.async_find_installation(
            enterprise_id=enterprise_id,
            team_id=team_id,
            user_id=user_id,
            is_enterprise_install=is_enterprise_install,
        )

    async def async_delete_bot(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        self.forget(enterprise_id, team_id)
        await self._sql.async_delete_bot(enterprise_id=enterprise_id, team_id=team_id)
        self.forget(enterprise_id, team_id)

    async def async_delete_installation(
        self, *, enterprise_id: str | None, team_id: str | None, user_id: str | None = None
    ) -> None:
        await self._sql.async_delete_installation(
            enterprise_id=enterprise_id, team_id=team_id, user_id=user_id
        )

    async def async_delete_all(self, *, enterprise_id: str | None, team_id: str | None) -> None:
        self.forget(enterprise_id, team_id)
        await self._sql.async_delete_all(enterprise_id=enterprise_id, team_id=team_id)
        self.forget(enterprise_id, team_id)

    def forget(self, enterprise_id: str | None, team_id: str | None) -> None:
        """Drop the kept bots of this workspace, or of every workspace of this org."""
        for key in list(self._bots):
            if key[0] == enterprise_id and (team_id is None or key[1] in (team_id, None)):
                del self._bots[key]


def authorization_url(slack_api_url: str) -> str:
    """Slack's "Allow" page, beside its Web API: https://slack.com/oauth/v2/authorize for
    https://slack.com/api/ (a fake Slack on another URL serves it beside its own API)."""
    root = slack_api_url.rstrip("/").removesuffix("/api")
    return f"{root}/oauth/v2/authorize"


def oauth_settings(
    settings: Settings, installations: Installations, **extra: Any
) -> AsyncOAuthSettings:
    """Bolt's OAuth flow for the settings (`Settings.oauth` says whether they ask for one)."""
    assert settings.slack_client_id is not None
    assert settings.slack_client_secret is not None
    assert settings.slack_state_secret is not None
    return AsyncOAuthSettings(
        client_id=settings.slack_client_id.strip(),
        client_secret=settings.slack_client_secret.get_secret_value().strip(),
        scopes=list(BOT_SCOPES),
        user_scopes=[],
        install_path=INSTALL_PATH,
        redirect_uri_path=REDIRECT_PATH,
        authorization_url=authorization_url(settings.slack_api_url),
        installation_store=installations,
        installation_store_bot_only=True,
        state_store=StatelessOAuthStateStore(
            expiration_seconds=_STATE_SECONDS,
            signing_secret=settings.slack_state_secret.get_secret_value().strip(),
            logger=log,
        ),
        state_expiration_seconds=_STATE_SECONDS,
        logger=log,
        **extra,
    )
