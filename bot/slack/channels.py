"""What Slack says about a channel: whether it is private, and who is in it.

Reads for `bot.access.visibility`, made through the outbox like every Slack call, each in a
pseudo lane of its own (`conversations.members C123`), so a lookup never waits behind a busy
channel's posts. Someone waits for the answer (a read command, the Home tab), so a lookup gets
at most `wait_limit` seconds; failures arrive as `SlackError`.
"""

from __future__ import annotations

from typing import Any

from bot.errors import SlackRefused
from bot.slack.outbox import Outbox, wait_for_answer

__all__ = ["SlackChannels"]

# Slack recommends at most 200 per page of a cursor-paged method.
_PAGE = 200


class SlackChannels:
    """`conversations.info` and `conversations.members`, as the visibility rules ask them."""

    def __init__(self, *, outbox: Outbox, wait_limit: float = 10.0) -> None:
        self._outbox = outbox
        self._wait_limit = wait_limit

    async def channel_is_private(self, channel: str) -> bool:
        """Whether `channel` is private (needs `groups:read`, and `channels:read` for public
        ones). One the bot cannot see is: Slack hides only private channels from an app."""
        try:
            response = await self._call("conversations_info", channel=channel)
        except SlackRefused as exc:
            if exc.code == "channel_not_found":
                return True
            raise
        info = response.get("channel") or {}
        return bool(info.get("is_private") or info.get("is_im") or info.get("is_mpim"))

    async def channel_members(self, channel: str) -> frozenset[str]:
        """Everyone in `channel`, every page of `conversations.members` (scope `groups:read`)."""
        members: set[str] = set()
        cursor: str | None = None
        while True:
            response = await self._call(
                "conversations_members", channel=channel, limit=_PAGE, cursor=cursor
            )
            members.update(str(m) for m in response.get("members") or [])
            cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
            if cursor is None:
                return frozenset(members)

    async def _call(self, method: str, *, channel: str, **kwargs: Any) -> Any:
        lane = f"{method.replace('_', '.')} {channel}"
        return await wait_for_answer(
            self._outbox.call(method, channel=channel, lane=lane, **kwargs),
            within=self._wait_limit,
            what=method,
        )
