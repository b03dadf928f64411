"""Bolt's app for the settings: one workspace with its bot token, or installable with OAuth.

Either way Bolt checks each request's signature and finds its workspace's token, and a
middleware makes that workspace the request's `current_team`, so every Slack call the request
leads to (its answer, a job's card and thread) carries the token of the workspace it came from.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_bolt.authorization import AuthorizeResult
from slack_bolt.authorization.async_authorize import AsyncAuthorize
from slack_bolt.context.async_context import AsyncBoltContext
from slack_bolt.middleware.async_middleware import AsyncMiddleware
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient

from bot.settings import Settings
from bot.slack.installs import Installations, oauth_settings
from bot.slack.tokens import Team, current_team

__all__ = ["NOT_INSTALLED_HERE", "build_bolt"]

# Told privately to someone whose workspace has no installation (never installed, or removed).
NOT_INSTALLED_HERE = (
    "Retrain Bot is not installed in this workspace (or it was removed). An admin can install "
    "it from the bot's `/slack/install` page."
)


def build_bolt(
    settings: Settings, session: aiohttp.ClientSession, installations: Installations | None
) -> AsyncApp:
    """Bolt for HTTP or Socket Mode; `installations` given: installable with OAuth."""
    common = {
        # Without a token: Bolt gives each request a client carrying its workspace's token.
        "client": AsyncWebClient(base_url=settings.slack_api_url, session=session),
        "signing_secret": (
            settings.slack_signing_secret.get_secret_value().strip()
            if settings.slack_signing_secret
            else None
        ),
        # The listener only parses and acks, so answering after it returns is fastest: it
        # skips Bolt's 10 ms ack polling; slow work runs in the follower's tasks.
        "process_before_response": True,
        "request_verification_enabled": not settings.socket_mode,
        "logger": _bolt_logger(),
    }
    if installations is None:
        bolt = AsyncApp(authorize=_OneToken(settings), **common)  # type: ignore[arg-type]
    else:
        bolt = AsyncApp(
            oauth_settings=oauth_settings(settings, installations),
            # Given here too, Bolt's authorize uses the client above (its base URL) to rotate.
            installation_store=installations,
            installation_store_bot_only=True,
            user_facing_authorize_error_message=NOT_INSTALLED_HERE,
            **common,  # type: ignore[arg-type]
        )
    bolt.use(_TeamOfRequest())
    return bolt


class _OneToken(AsyncAuthorize):
    """Single workspace, known token: Bolt's default would call auth.test on the first command,
    putting a Slack round trip inside the 3-second ack. An `AsyncAuthorize`, not a function:
    Bolt matches a function's arguments by name on every request."""

    def __init__(self, settings: Settings) -> None:
        assert settings.slack_bot_token is not None
        self._bot_token = settings.slack_bot_token.get_secret_value().strip()

    async def __call__(
        self,
        *,
        context: AsyncBoltContext,
        enterprise_id: str | None,
        team_id: str | None,
        user_id: str | None,
        actor_enterprise_id: str | None = None,
        actor_team_id: str | None = None,
        actor_user_id: str | None = None,
    ) -> AuthorizeResult:
        return AuthorizeResult(
            enterprise_id=enterprise_id, team_id=team_id, bot_token=self._bot_token
        )


class _TeamOfRequest(AsyncMiddleware):
    """The request's workspace becomes `current_team` for all the work it leads to. A class,
    not a function: Bolt inspects a function middleware's arguments on every request."""

    async def async_process(
        self,
        *,
        req: AsyncBoltRequest,
        resp: BoltResponse,
        next: Callable[[], Awaitable[BoltResponse]],
    ) -> BoltResponse:
        current_team.set(Team(team_id=req.context.team_id, enterprise_id=req.context.enterprise_id))
        return await next()


def _bolt_logger() -> logging.Logger:
    logger = logging.getLogger("bot.bolt")
    if not any(isinstance(f, _QuietBoltWiring) for f in logger.filters):
        logger.addFilter(_QuietBoltWiring())
    return logger


class _QuietBoltWiring(logging.Filter):
    """Bolt warns that a token is unused when `client` and `authorize` are given on purpose."""

    def filter(self, record: logging.LogRecord) -> bool:
        return "will be unused" not in record.getMessage() and (
            "will be ignored" not in record.getMessage()
        )
