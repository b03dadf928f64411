"""The notifier: the one place that posts or edits Slack messages.

Every channel post carries Slack message metadata naming the job and the state it announces,
so a post can be recognised later (for example after a crash between posting and recording).
"""

from __future__ import annotations

import logging
from datetime import datetime
from typing import Any

import aiohttp
from slack_sdk.errors import SlackApiError, SlackClientError
from slack_sdk.web.async_client import AsyncWebClient

from bot.blocks import Message, render_card, render_reply
from bot.errors import BotError
from bot.jobs import PICTURES, Job, utcnow

__all__ = ["METADATA_EVENT", "Notifier", "SlackError"]

log = logging.getLogger(__name__)

METADATA_EVENT = "retrain_job_state"


class SlackError(BotError):
    """A Slack call failed; `code` is Slack's error code or the HTTP status."""

    def __init__(self, message: str, *, code: str) -> None:
        super().__init__(message)
        self.code = code


def _metadata(job: Job, state: str) -> dict[str, Any]:
    return {
        "event_type": METADATA_EVENT,
        "event_payload": {"job_id": job.id, "model_id": job.model_id, "state": state},
    }


def picture_prefix(job: Job) -> str:
    return f"retrain-{job.id}-"


def _job_state(message: dict[str, Any], job: Job) -> str | None:
    metadata = message.get("metadata") or {}
    payload = metadata.get("event_payload") or {}
    if metadata.get("event_type") != METADATA_EVENT or payload.get("job_id") != job.id:
        return None
    state = payload.get("state")
    return str(state) if state else None


class Notifier:
    """Posts the card, edits it, replies in its thread and speaks privately to people."""

    def __init__(self, *, client: AsyncWebClient, session: aiohttp.ClientSession) -> None:
        self._client = client
        self._session = session

    async def post_card(self, job: Job) -> str:
        """Post the parent message; returns its ts."""
        message = render_card(job, now=utcnow())
        response = await self._call(
            "chat_postMessage",
            channel=job.channel,
            text=message.text,
            blocks=message.blocks,
            metadata=_metadata(job, "CARD"),
            unfurl_links=False,
        )
        return str(response["ts"])

    async def update_card(self, job: Job) -> None:
        assert job.parent_ts is not None
        message = render_card(job, now=utcnow())
        await self._call(
            "chat_update",
            channel=job.channel,
            ts=job.parent_ts,
            text=message.text,
            blocks=message.blocks,
            metadata=_metadata(job, "CARD"),
        )

    async def post_reply(self, job: Job, status: str, *, now: datetime | None = None) -> str:
        """Reply in the job's thread; failures are broadcast so the channel sees them."""
        assert job.parent_ts is not None
        message = render_reply(job, status, now=now)
        response = await self._call(
            "chat_postMessage",
            channel=job.channel,
            thread_ts=job.parent_ts,
            text=message.text,
            blocks=message.blocks,
            metadata=_metadata(job, status),
            reply_broadcast=job.is_failed and status == job.status,
            unfurl_links=False,
        )
        return str(response["ts"])

    async def posted_states(self, job: Job) -> frozenset[str]:
        """The states this job's thread already announces, read back from message metadata.

        Needs the `channels:history` scope (`groups:history` in private channels).
        """
        assert job.parent_ts is not None
        states: set[str] = set()
        cursor: str | None = None
        while True:
            response = await self._call(
                "conversations_replies",
                channel=job.channel,
                ts=job.parent_ts,
                include_all_metadata=True,
                limit=200,
                cursor=cursor,
            )
            for message in response.get("messages") or []:
                state = _job_state(message, job)
                if state is not None and state != "CARD":
                    states.add(state)
                # Uploads carry no metadata; their file names carry the job ID instead.
                names = [str(f.get("name", "")) for f in message.get("files") or []]
                if any(name.startswith(picture_prefix(job)) for name in names):
                    states.add(PICTURES)
            cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
            if cursor is None:
                return frozenset(states)

    async def find_card(self, job: Job) -> str | None:
        """The ts of this job's card if it was posted, searching from the job's creation."""
        oldest = job.created_at.timestamp() - 60
        cursor: str | None = None
        while True:
            response = await self._call(
                "conversations_history",
                channel=job.channel,
                oldest=f"{oldest:.6f}",
                include_all_metadata=True,
                limit=200,
                cursor=cursor,
            )
            messages = response.get("messages") or []
            for message in messages:
                if _job_state(message, job) == "CARD":
                    return str(message["ts"])
            cursor = (response.get("response_metadata") or {}).get("next_cursor") or None
            too_old = any(float(m.get("ts", 0)) < oldest for m in messages)
            if cursor is None or too_old:
                return None

    async def upload_pictures(
        self, job: Job, pictures: list[tuple[str, bytes, str]], *, comment: str
    ) -> None:
        """Upload PNGs (name suffix, bytes, title) into the job's thread in one message."""
        assert job.parent_ts is not None
        uploads = [
            {
                "filename": f"{picture_prefix(job)}{suffix}",
                "file": data,
                "title": title,
                "alt_txt": title,
            }
            for suffix, data, title in pictures
        ]
        await self._call(
            "files_upload_v2",
            file_uploads=uploads,
            channel=job.channel,
            thread_ts=job.parent_ts,
            initial_comment=comment,
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

    async def _call(self, method: str, **kwargs: Any) -> Any:
        try:
            return await getattr(self._client, method)(**kwargs)
        except SlackApiError as exc:
            code = str(exc.response.get("error") or exc.response.status_code)
            raise SlackError(f"Slack {method} failed: {code}", code=code) from None
        except (SlackClientError, aiohttp.ClientError, TimeoutError) as exc:
            raise SlackError(
                f"Slack {method} failed: {exc.__class__.__name__}", code="connection"
            ) from None
