"""The events of an uninstall, handed to `bot.uninstalls` (installed with OAuth only)."""

from __future__ import annotations

from slack_bolt.async_app import AsyncApp

from bot.uninstalls import Uninstalls

__all__ = ["register_uninstalls"]


def register_uninstalls(app: AsyncApp, uninstalls: Uninstalls) -> None:
    app.event("app_uninstalled")(uninstalls.app_uninstalled)
    app.event("tokens_revoked")(uninstalls.tokens_revoked)
