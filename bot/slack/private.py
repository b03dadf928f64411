"""How the bot says something only one person sees: an answer to their command or click.

`tell` answers through the command's or click's response_url when there is one, else with an
ephemeral message in the channel. `tell_or_dm` sends an ephemeral message, and a direct message
from the bot when Slack refuses that. The Web API calls go through the outbox like every other;
the response_url is no Web API call and carries no token, so it is posted to directly, within
10 seconds. Nothing here raises `SlackError`: an answer that cannot be given is logged.
"""

from __future__ import annotations

import logging
from typing import Any

import aiohttp

from bot.errors import SlackError
from bot.slack.look import Message
from bot.slack.outbox import Outbox, wait_for_answer

__all__ = ["PrivateAnswers"]

log = logging.getLogger(__name__)


class PrivateAnswers:
    """Answers one person privately: response_url, ephemeral message, or direct message."""

    def __init__(
        self, *, outbox: Outbox, session: aiohttp.ClientSession, wait_limit: float = 90.0
    ) -> None:
        self._outbox = outbox
        self._session = session
        self._wait_limit = wait_limit

    async def tell(
        self, *, response_url: str | None, channel: str, user: str, message: Message | str
    ) -> None:
        """Say something only `user` sees: through the command's response_url, else ephemeral."""
        if isinstance(message, str):
            message = Message(text=message, blocks=[])
        payload: dict[str, Any] = {"response_type": "ephemeral", "text": message.text}
        if message.blocks:
            payload["blocks"] = message.blocks
        if response_url and await self._respond(response_url, payload):
            return
        try:
            await self._call(
                "chat_postEphemeral",
                channel=channel,
                user=user,
                text=message.text,
                blocks=message.blocks or None,
            )
        except SlackError as exc:
            log.warning("could not tell %s privately: %s", user, exc.code)

    async def tell_or_dm(self, *, channel: str, user: str, message: str) -> None:
        """An ephemeral message to `user` in `channel`; a direct message from the bot when Slack
        refuses that (the bot cannot post there, the user is not in the channel)."""
        try:
            await self._call("chat_postEphemeral", channel=channel, user=user, text=message)
            return
        except SlackError as exc:
            log.info(
                "no ephemeral for %s in %s (%s); sending a direct message", user, channel, exc.code
            )
        try:
            await self._call("chat_postMessage", channel=user, text=message, unfurl_links=False)
        except SlackError as exc:
            log.warning("could not tell %s privately: %s", user, exc.code)

    async def _respond(self, url: str, payload: dict[str, Any]) -> bool:
        try:
            async with self._session.post(
                url, json=payload, timeout=aiohttp.ClientTimeout(total=10)
            ) as response:
                if response.status == 200:
                    return True
                log.warning("response_url answered HTTP %s", response.status)
        except (aiohttp.ClientError, TimeoutError) as exc:
            log.warning("response_url failed: %s", exc.__class__.__name__)
        return False

    async def _call(self, method: str, *, channel: str, **kwargs: Any) -> Any:
        return await wait_for_answer(
            self._outbox.call(method, channel=channel, **kwargs),
            within=self._wait_limit,
            what=method,
        )
