"""The events of an uninstall: with OAuth, handed to `bot.uninstalls`; with one bot token,
logged (the token no longer works, and only a new one set by hand brings the bot back)."""

from __future__ import annotations

import logging
from typing import Any

from slack_bolt.async_app import AsyncApp
from slack_bolt.context.async_context import AsyncBoltContext

from bot.uninstalls import Uninstalls

__all__ = ["register_uninstalls"]

log = logging.getLogger(__name__)


def register_uninstalls(app: AsyncApp, uninstalls: Uninstalls | None) -> None:
    if uninstalls is not None:
        app.event("app_uninstalled")(uninstalls.app_uninstalled)
        app.event("tokens_revoked")(uninstalls.tokens_revoked)
        return

    async def gone(event: dict[str, Any], context: AsyncBoltContext) -> None:
        log.error(
            "Slack says %s in workspace %s: SLACK_BOT_TOKEN no longer works; reinstall the app "
            "and set its new bot token",
            event.get("type"),
            context.team_id,
        )

    app.event("app_uninstalled")(gone)
    app.event("tokens_revoked")(gone)
