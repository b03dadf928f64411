"""response_urls: minted per slash command, five uses within thirty minutes, like Slack's.

Slack's answers for spent, expired or unknown URLs are unconfirmed; the fake answers 404 with
``used_url``, ``expired_url`` or ``no_service``, 400 ``no_text`` / ``invalid_payload`` for bad
payloads and 200 ``ok`` on success. In-channel posts are recorded here only; they do not become
channel messages.
"""

from __future__ import annotations

import secrets
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any

from bot.fakes.slack.records import ResponsePost
from bot.fakes.slack.reports import ResponseUrlPosted, SlackEvent
from bot.fakes.slack.wire import Reply

__all__ = ["RESPONSE_URL_LIFETIME", "RESPONSE_URL_USES", "ResponseUrls"]

RESPONSE_URL_USES = 5
RESPONSE_URL_LIFETIME = 30 * 60
_FIRST_COMMAND_ID = 397_700_000_000


@dataclass
class _Hook:
    url: str
    created: float
    posts: list[ResponsePost] = field(default_factory=list)


class ResponseUrls:
    """The response_urls minted so far and what was POSTed to each."""

    def __init__(self, *, clock: Callable[[], float], emit: Callable[[SlackEvent], None]) -> None:
        self._clock = clock
        self._emit = emit
        self._hooks: dict[str, _Hook] = {}

    def mint(self, *, root_url: str, team_id: str) -> str:
        """A new ``<root>/commands/<team>/<id>/<secret>`` URL."""
        command_id = _FIRST_COMMAND_ID + len(self._hooks) + 1
        path = f"/commands/{team_id}/{command_id}/{secrets.token_urlsafe(18)}"
        url = f"{root_url}{path}"
        self._hooks[path] = _Hook(url=url, created=self._clock())
        return url

    def knows(self, path: str) -> bool:
        """Whether ``path`` belongs to a minted URL."""
        return path in self._hooks

    def accept(self, path: str, payload: dict[str, Any] | None) -> Reply:
        """Record a POST to a minted URL, or refuse it as Slack would."""
        hook = self._hooks[path]
        if self._clock() - hook.created > RESPONSE_URL_LIFETIME:
            return Reply(404, "expired_url")
        if len(hook.posts) >= RESPONSE_URL_USES:
            return Reply(404, "used_url")
        if payload is None:
            return Reply(400, "invalid_payload")
        if not (payload.get("text") or payload.get("blocks") or payload.get("delete_original")):
            return Reply(400, "no_text")
        post = ResponsePost(
            url=hook.url, use=len(hook.posts) + 1, payload=payload, time=self._clock()
        )
        hook.posts.append(post)
        self._emit(ResponseUrlPosted(post))
        return Reply(200, "ok")

    def posts(self) -> dict[str, list[ResponsePost]]:
        """Posts per minted URL (every URL is a key, even with no posts yet)."""
        return {hook.url: list(hook.posts) for hook in self._hooks.values()}
