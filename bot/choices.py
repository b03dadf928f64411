"""The use case behind `/retrain notify dm|off`: a person's choice of where results reach them.

    /retrain notify dm|off ──▶ Choices.notify ──▶ Preferences.set_notify (per person and team)

The deliverer reads the stored choice for the job's team when a training ends
(`bot.follow.direct`).
"""

from __future__ import annotations

import logging

from bot.errors import StoreError
from bot.store.prefs import NotifyMode, Preferences

__all__ = ["Choices"]

log = logging.getLogger(__name__)

_SAID = {
    NotifyMode.DM: ":incoming_envelope: From now on, I will also send you each of your "
    "trainings' result by direct message (in my *Messages* tab), with a link to its thread. "
    "`/retrain notify off` stops it.",
    NotifyMode.OFF: ":speech_balloon: Your trainings' results stay in their threads only; "
    "no direct messages. `/retrain notify dm` turns them on.",
}


class Choices:
    """Store and tell a person's choices."""

    def __init__(self, *, preferences: Preferences) -> None:
        self._preferences = preferences

    async def notify(self, *, user: str, mode: str | None, team_id: str | None = None) -> str:
        """Store `mode` for `user` in workspace `team_id` (None: only tell the current choice);
        the private answer."""
        try:
            if mode is None:
                current = await self._preferences.notify(user, team_id=team_id)
                return f"Your results: {_describe(current)}"
            chosen = NotifyMode(mode)
            await self._preferences.set_notify(user, chosen, team_id=team_id)
        except StoreError as exc:
            log.error("could not store or read the notify choice of %s: %s", user, exc)
            return (
                ":warning: The bot's database did not answer, so your choice was not "
                "changed. Please try again in a minute."
            )
        return _SAID[chosen]


def _describe(mode: NotifyMode) -> str:
    if mode == NotifyMode.DM:
        return "in their threads and by direct message (`/retrain notify off` stops the DMs)."
    return "in their threads only (`/retrain notify dm` also sends them by direct message)."
