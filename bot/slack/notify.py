"""The notifier: how the bot speaks through Slack's Web API (the card, its thread, modals, Home).

Answers only one person sees are told by `bot.slack.private` (`Notifier.private`), DMs posted
by `bot.slack.direct` (`Notifier.direct`), and modals and Home tabs shown by
`bot.slack.surfaces` (`Notifier.surfaces`, which waits at most `lookup_limit` seconds for a
modal's update). Questions about a channel (is it private, who is in it) are asked by
`bot.slack.channels`, and about a user group by `bot.slack.groups`, through the same outbox.

Every call goes through the outbox (`bot.slack.outbox`), which paces posts per channel, coalesces
card edits, honours Retry-After and retries transient failures; the notifier waits for an
answer at most `wait_limit` seconds, so a job keeps polling Einstein through a Slack outage
and tries again on its next cycle. Failures arrive as `SlackError` (`SlackRefused` when Slack
said no for good), never as a slack_sdk exception.

Every channel post carries the marks of `bot.slack.marks`, so a post can be recognised later
(for example after a crash between posting and recording).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import aiohttp

from bot.core.jobs import Job, utcnow
from bot.errors import SlackError, SlackRefused
from bot.slack.card import render_card
from bot.slack.direct import DirectMessages
from bot.slack.lanes import Fence
from bot.slack.marks import (
    CARD,
    FAILURE_FILE,
    HISTORY_PAGE,
    card_ts,
    file_name,
    metadata,
    posted_states,
)
from bot.slack.outbox import Outbox, wait_for_answer
from bot.slack.private import PrivateAnswers
from bot.slack.replies import render_reply
from bot.slack.surfaces import Surfaces

__all__ = ["Notifier", "SlackError", "SlackRefused"]

log = logging.getLogger(__name__)

# How far before a job's creation its card is looked for: the bot's and Slack's clocks differ.
_CLOCK_SKEW = 10.0


class Notifier:
    """Posts the card, edits it and replies in its thread; speaks privately to people through
    `private` and `direct`, and shows modals and Home tabs through `surfaces`."""

    def __init__(
        self,
        *,
        outbox: Outbox,
        session: aiohttp.ClientSession,
        wait_limit: float = 90.0,
        lookup_limit: float = 10.0,
    ) -> None:
        self._outbox = outbox
        self._wait_limit = wait_limit
        self.direct = DirectMessages(outbox=outbox, wait_limit=wait_limit)  # the bot's DMs
        # Answers only one person sees.
        self.private = PrivateAnswers(outbox=outbox, session=session, wait_limit=wait_limit)
        # Modals and Home tabs.
        self.surfaces = Surfaces(outbox=outbox, wait_limit=wait_limit, lookup_limit=lookup_limit)

    async def post_card(self, job: Job, *, fence: Fence | None = None) -> str:
        """Post the parent message; returns its ts."""
        message = render_card(job, now=utcnow())
        response = await self._call(
            "chat_postMessage",
            channel=job.channel,
            job_id=job.id,
            fence=fence,
            text=message.text,
            blocks=message.blocks,
            metadata=metadata(job, CARD),
            unfurl_links=False,
        )
        return str(response["ts"])

    async def update_card(self, job: Job, *, fence: Fence | None = None) -> None:
        assert job.parent_ts is not None
        message = render_card(job, now=utcnow())
        # Only the latest state of a card matters: pending edits of it are sent as one.
        await wait_for_answer(
            self._outbox.edit(
                channel=job.channel,
                ts=job.parent_ts,
                job_id=job.id,
                fence=fence,
                text=message.text,
                blocks=message.blocks,
                metadata=metadata(job, CARD),
            ),
            within=self._wait_limit,
            what="chat.update",
        )

    async def post_reply(
        self,
        job: Job,
        status: str,
        *,
        now: datetime | None = None,
        fence: Fence | None = None,
    ) -> str:
        """Reply in the job's thread; failures are broadcast so the channel sees them."""
        assert job.parent_ts is not None
        message = render_reply(job, status, now=now)
        response = await self._call(
            "chat_postMessage",
            channel=job.channel,
            job_id=job.id,
            fence=fence,
            thread_ts=job.parent_ts,
            text=message.text,
            blocks=message.blocks,
            metadata=metadata(job, status),
            reply_broadcast=status == job.status and (job.is_failed or _regressed(job)),
            unfurl_links=False,
        )
        return str(response["ts"])

    async def posted_states(self, job: Job) -> frozenset[str]:
        """The states this job's thread already announces, read back from message metadata.

        Needs the `channels:history` scope (`groups:history` in private channels). Pages of
        `HISTORY_PAGE`: a thread holds a handful of posts, so one call usually reads it all.
        """
        assert job.parent_ts is not None
        states: set[str] = set()
        cursor: str | None = None
        while True:
            response = await self._call(
                "conversations_replies",
                channel=job.channel,
                job_id=job.id,
                ts=job.parent_ts,
                include_all_metadata=True,
                limit=HISTORY_PAGE,
                cursor=cursor,
            )
            states |= posted_states(response.get("messages") or [], job)
            cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
            if cursor is None:
                return frozenset(states)

    async def find_card(self, job: Job) -> str | None:
        """The ts of this job's card if it was posted, searching back to the job's creation.

        Pages of `HISTORY_PAGE`, newest first, from now back to `oldest` (the job's creation,
        less a margin for clock skew), stopping at the page that holds the card.
        """
        oldest = job.created_at.timestamp() - _CLOCK_SKEW
        cursor: str | None = None
        while True:
            response = await self._call(
                "conversations_history",
                channel=job.channel,
                job_id=job.id,
                oldest=f"{oldest:.6f}",
                include_all_metadata=True,
                limit=HISTORY_PAGE,
                cursor=cursor,
            )
            messages = response.get("messages") or []
            ts = card_ts(messages, job)
            if ts is not None:
                return ts
            cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
            too_old = any(float(m.get("ts", 0)) < oldest for m in messages)
            if cursor is None or too_old:
                return None

    async def upload_pictures(
        self,
        job: Job,
        pictures: list[tuple[str, bytes, str]],
        *,
        comment: str,
        fence: Fence | None = None,
    ) -> None:
        """Upload PNGs (name suffix, bytes, title) into the job's thread in one message."""
        assert job.parent_ts is not None
        uploads = [
            {
                "filename": file_name(job, suffix),
                "file": data,
                "title": title,
                "alt_txt": title,
            }
            for suffix, data, title in pictures
        ]
        await self._call(
            "files_upload_v2",
            channel=job.channel,
            job_id=job.id,
            fence=fence,
            file_uploads=uploads,
            thread_ts=job.parent_ts,
            initial_comment=comment,
        )

    async def upload_failure_text(self, job: Job, *, fence: Fence | None = None) -> None:
        """Einstein's whole failure message as a text file in the thread (the reply cuts it)."""
        assert job.parent_ts is not None
        await self._call(
            "files_upload_v2",
            channel=job.channel,
            job_id=job.id,
            fence=fence,
            filename=file_name(job, FAILURE_FILE),
            content=job.failure_msg or "",
            title="Einstein's failure message, in full",
            snippet_type="text",
            thread_ts=job.parent_ts,
        )

    async def join(self, channel: str) -> bool:
        """Join a public channel (uploads need membership); False when not allowed."""
        try:
            await self._call("conversations_join", channel=channel)
        except SlackError as exc:
            log.warning("could not join %s: %s", channel, exc.code)
            return False
        return True

    async def permalink(self, channel: str, ts: str) -> str | None:
        try:
            response = await self._call("chat_getPermalink", channel=channel, message_ts=ts)
        except SlackError:
            return None
        link = response.get("permalink")
        return str(link) if link else None

    async def say(self, channel: str, text: str) -> None:
        """A message in `channel` for everyone (a schedule's refused or skipped fire)."""
        await self._call("chat_postMessage", channel=channel, text=text, unfurl_links=False)

    async def _call(
        self,
        method: str,
        *,
        channel: str,
        job_id: str | None = None,
        fence: Fence | None = None,
        **kwargs: Any,
    ) -> Any:
        return await wait_for_answer(
            self._outbox.call(method, channel=channel, job_id=job_id, fence=fence, **kwargs),
            within=self._wait_limit,
            what=method,
        )


def _regressed(job: Job) -> bool:
    """A success that made the model worse is told to the whole channel, like a failure."""
    return job.result is not None and bool(job.result.regressed)
