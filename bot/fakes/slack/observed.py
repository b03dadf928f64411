"""What a test reads back from the fake Slack: calls, state changes, messages, files, views.

``FakeSlack`` inherits these readers; they find a channel's workspace by its ID, which is
unique across the fake, so none of them needs to be told the workspace.
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable
from typing import TypeVar

from bot.fakes.slack.checks import ApiFailure
from bot.fakes.slack.hooks import ResponseUrls
from bot.fakes.slack.installs import Install
from bot.fakes.slack.oauth import OAuth
from bot.fakes.slack.records import Call, Ephemeral, Message, ResponsePost, UploadedFile, View
from bot.fakes.slack.reports import SlackEvent
from bot.fakes.slack.teams import Teams
from bot.fakes.slack.uploads import Uploads
from bot.fakes.slack.views import Views

__all__ = ["Observed"]

_T = TypeVar("_T")


class Observed:
    """The readers of ``FakeSlack``; the state they read is set up by its constructor."""

    _calls: list[Call]
    _events: list[SlackEvent]
    _teams: Teams
    _hooks: ResponseUrls
    _uploads: Uploads
    _views: Views
    _oauth: OAuth

    @property
    def calls(self) -> list[Call]:
        """Every request answered, in order (Web API, response_url, upload and authorize)."""
        return list(self._calls)

    def calls_to(self, method: str) -> list[Call]:
        """The calls to one method."""
        return [call for call in self._calls if call.method == method]

    @property
    def events(self) -> list[SlackEvent]:
        """Every state change, in order."""
        return list(self._events)

    def messages(self, channel: str) -> list[Message]:
        """The channel's messages and replies in their current state, in ts order."""
        return self._teams.holding(channel).messages(channel)

    def message(self, channel: str, ts: str) -> Message:
        """One message in its current state (``KeyError`` if unknown)."""
        try:
            return self._teams.holding(channel).message(channel, ts)
        except ApiFailure:
            raise KeyError((channel, ts)) from None

    def thread(self, channel: str, ts: str) -> list[Message]:
        """A parent and its replies in order (empty until the parent exists)."""
        return self._teams.holding(channel).thread(channel, ts)

    @property
    def ephemerals(self) -> list[Ephemeral]:
        """Ephemeral messages of every workspace, in order."""
        return list(self._teams.ephemerals)

    @property
    def responses(self) -> dict[str, list[ResponsePost]]:
        """What was POSTed to each minted response_url (every minted URL is a key)."""
        return self._hooks.posts()

    @property
    def files(self) -> list[UploadedFile]:
        """Completed uploads, in order."""
        return list(self._uploads.completed)

    @property
    def views(self) -> list[View]:
        """Every view opened, updated or published, in order."""
        return list(self._views.records)

    @property
    def installs(self) -> list[Install]:
        """Every install completed through OAuth, in order (uninstalls do not remove them)."""
        return list(self._oauth.installs)

    async def wait_for(
        self,
        predicate: Callable[[], _T],
        *,
        timeout: float = 2.0,  # noqa: ASYNC109 - a polling deadline, as in asyncio.wait_for
        interval: float = 0.005,
        what: str | None = None,
    ) -> _T:
        """Poll ``predicate`` until it returns something truthy, and return that."""
        deadline = asyncio.get_running_loop().time() + timeout
        while True:
            value = predicate()
            if value:
                return value
            if asyncio.get_running_loop().time() >= deadline:
                raise TimeoutError(self._timeout_message(predicate, timeout, what))
            await asyncio.sleep(interval)

    def _timeout_message(
        self, predicate: Callable[[], object], timeout: float, what: str | None
    ) -> str:
        name = what or getattr(predicate, "__name__", "predicate")
        recent = self._calls[-8:]
        lines = [f"  {c.method} -> {c.status} {'ok' if c.ok else c.error}" for c in recent]
        summary = "\n".join(lines) or "  (no calls)"
        total = len(self._calls)
        return f"{name} not true after {timeout:.3f}s; last calls ({total} total):\n{summary}"
