"""Slack's `views.*` calls: modals opened and updated, Home tabs published.

None of them names a channel, so each waits in the outbox's pseudo lane of its method and
subject (`views.open U123`, `views.update V123`, `views.publish U123`): a modal never waits
behind a channel's posts, and one user's Home tab publishes land in order, the latest last.
Someone is looking at a modal, so it is opened only while its trigger_id lives and an update
waits at most `lookup_limit` seconds; a Home tab's publish waits at most `wait_limit`. Failures
arrive as `SlackError` (`SlackRefused` when Slack said no for good). What the views show is drawn by
`bot.slack.views`, `bot.slack.home` and `bot.slack.feedback_view`.
"""

from __future__ import annotations

import asyncio
from typing import Any

from bot.errors import SlackError
from bot.slack.outbox import Outbox, wait_for_answer

__all__ = ["Surfaces"]

# Slack accepts a trigger_id (to open a modal) this many seconds after the click or command.
_TRIGGER_LIFETIME = 3.0


class Surfaces:
    """Opens and updates modals and publishes Home tabs, through the outbox."""

    def __init__(
        self, *, outbox: Outbox, wait_limit: float = 90.0, lookup_limit: float = 10.0
    ) -> None:
        self._outbox = outbox
        self._wait_limit = wait_limit
        self._lookup_limit = lookup_limit

    async def open_view(
        self, view: dict[str, Any], *, trigger_id: str, user: str, triggered_at: float
    ) -> dict[str, Any]:
        """Open a modal for `user` with the trigger_id of a click or command that reached the
        bot at `triggered_at` (the event loop's clock).

        Waiting or retrying once the trigger_id has expired could only end in Slack's
        `expired_trigger_id`, so the call is withdrawn then and `SlackError("timeout")` raised.
        """
        try:
            async with asyncio.timeout_at(triggered_at + _TRIGGER_LIFETIME):
                response = await self._outbox.call(
                    "views_open", lane=f"views.open {user}", trigger_id=trigger_id, view=view
                )
        except TimeoutError:
            raise SlackError(
                "Slack views.open did not go through before its trigger_id expired", code="timeout"
            ) from None
        return dict(response.get("view") or {})

    async def update_view(
        self, view: dict[str, Any], *, view_id: str, view_hash: str | None
    ) -> dict[str, Any]:
        """Replace an open modal; with `view_hash`, Slack refuses (`hash_conflict`) if the
        modal changed since that version, so an older update never overwrites a newer one."""
        response = await wait_for_answer(
            self._outbox.call(
                "views_update",
                lane=f"views.update {view_id}",
                view_id=view_id,
                hash=view_hash,
                view=view,
            ),
            within=self._lookup_limit,
            what="views.update",
        )
        return dict(response.get("view") or {})

    async def publish_home(self, user: str, view: dict[str, Any]) -> None:
        """Publish `user`'s Home tab; one user's publishes land in order, so the latest shows."""
        await wait_for_answer(
            self._outbox.call(
                "views_publish", lane=f"views.publish {user}", user_id=user, view=view
            ),
            within=self._wait_limit,
            what="views.publish",
        )
