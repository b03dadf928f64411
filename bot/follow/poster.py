"""The poster: one step of a channel's worker, the next post a job owes Slack, made and recorded.

A step reads the thread back after a restart, posts the card, tells the requester privately,
or posts the next owed reply, as `bot.core.owed` derives it from the job at the moment it is
sent; a card due for an edit is handed to `bot.follow.card_edits`, and a finished job's DM to
`bot.follow.direct` once the thread said it all.

Every post is recorded (`Job.reported`, `Job.parent_ts`) as soon as Slack confirms it. A post is
made only while this process's lease on the job is safe (`HeldJobs.may_post`, checked again by
the outbox right before sending). A channel Slack refuses (not a member, archived, revoked
token) is paused for `Timing.slack_pause` and the requester told once, unless the thread can
move to the requester's DM (`bot.follow.readback`); any other refusal drops
that one message, recorded as handled so the thread goes on. A transient failure leaves the post
owed and tries again later. Nothing here waits on Einstein except the pictures' data.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from datetime import datetime

from bot.core import machine
from bot.core.jobs import Job
from bot.core.owed import (
    FAILURE_TEXT,
    MOVED,
    PICTURES,
    card_owed,
    due_direct,
    due_private,
    due_replies,
)
from bot.core.schedule import Timing
from bot.errors import SlackError, SlackRefused
from bot.follow.card_edits import CardEdits, card_state
from bot.follow.direct import DirectResults
from bot.follow.held import Followed, HeldJobs
from bot.follow.readback import Paused, ReadBack
from bot.slack.notify import Notifier
from bot.slack.tokens import NotInstalled
from bot.store.jobs import LeaseLost

__all__ = ["CHANNEL_PROBLEMS", "Poster"]

log = logging.getLogger(__name__)

# Refusals about the channel itself: nothing can be posted there until people act, so the job
# is kept and Slack tried again later. Other refusals concern one message, which is dropped.
CHANNEL_PROBLEMS = frozenset(
    {
        "not_in_channel",
        "channel_not_found",
        "is_archived",
        "invalid_auth",
        "not_authed",
        "account_inactive",
        "token_revoked",
        "missing_scope",
        "restricted_action",
        "team_access_not_granted",
    }
)


class Poster:
    """One post at a time for the held jobs: the next thing each owes Slack, recorded."""

    def __init__(
        self,
        *,
        held: HeldJobs,
        notifier: Notifier,
        timing: Timing,
        clock: Callable[[], float],
        now: Callable[[], datetime],
        cards: CardEdits,
        readback: ReadBack,
        direct: DirectResults,
        retry_later: Callable[[Followed, float], None],
        retry_soon: Callable[[Followed], None],
        changed: Callable[[Followed], None],
    ) -> None:
        self._held = held
        self._notifier = notifier
        self._timing = timing
        self._clock = clock
        self._now = now
        self._cards = cards
        self._readback = readback
        self._direct = direct
        self._retry_later = retry_later
        self._retry_soon = retry_soon
        self._changed = changed

    async def step(self, record: Followed, channel: Paused) -> bool:
        """One post for `record`; whether it owes more."""
        if not self._held.may_post(record):
            # The lease is about to end, or renewing it failed: wait for the next renewal.
            self._retry_later(record, self._timing.claim_interval)
            return False
        try:
            return await self._post_next(record)
        except LeaseLost:
            return False
        except NotInstalled:
            await self._uninstalled(record)
            return False
        except SlackRefused as exc:
            await self._readback.channel_problem(record, channel, exc)
            return True
        except SlackError as exc:
            log.warning("Slack update for job %s failed: %s", record.id, exc.code)
        except Exception:
            log.exception("delivering job %s failed; trying again later", record.id)
        self._retry_soon(record)
        return False

    async def _uninstalled(self, record: Followed) -> None:
        """Its workspace has no installation. Slack's `app_uninstalled` may be on its way (to
        this instance or another, which then stops the job and counts it), so the job waits;
        still without one `Timing.uninstalled_grace` later (the event went elsewhere, or never
        came), nothing more is said there. The token lookup logged it once."""
        now = self._clock()
        if record.uninstalled_since is None:
            record.uninstalled_since = now
        grace = self._timing.uninstalled_grace
        if now - record.uninstalled_since < grace:
            self._retry_later(record, grace)
            return
        record.card_frozen = True
        await self._record(record, machine.uninstalled(record.job, now=self._now()))

    async def _post_next(self, record: Followed) -> bool:
        fence = self._held.fence(record)
        if not record.reconciled:
            await self._readback.reconcile(record)
            return record.reconciled
        job = record.job
        if card_owed(job):
            await self._stored(record)
            ts = await self._notifier.post_card(job, fence=fence)
            record.card_shown, record.card_shown_at = card_state(job), self._clock()
            await self._record(record, machine.card_posted(record.job, ts=ts))
            await self._readback.link_elsewhere(record)
            return True
        for key in due_private(job):
            if key == MOVED:
                await self._readback.tell_moved(record)
            else:
                await self._notifier.private.tell(
                    response_url=job.response_url,
                    channel=job.origin_channel,
                    user=job.requester,
                    message=f":no_entry: The retrain of `{job.model_id}` was not started. "
                    f"{job.failure_msg or ''}".rstrip(),
                )
            await self._record(record, machine.posted(record.job, key))
        if job.parent_ts is not None and self._cards.due(record):
            self._cards.edit(record)
        due = due_replies(job)
        if not due:
            if due_direct(job):
                await self._stored(record)
                await self._direct.send(record)  # the thread said it all: now the DM
            return False
        key = due[0]
        if key == PICTURES and record.pictures is None:
            self._readback.draw(record, then=self._changed)  # comes back here once drawn
            return False
        try:
            await self._stored(record)
            await self._post(record, key)
        except SlackRefused as exc:
            if exc.code in CHANNEL_PROBLEMS or isinstance(exc, NotInstalled):
                raise
            # This one message can never be posted; the rest of the thread goes on.
            log.error(
                "dropped the %s reply of job %s: Slack refused it (%s)", key, record.id, exc.code
            )
        if key == PICTURES:
            record.pictures = None  # uploaded: the memory goes
        await self._record(record, machine.posted(record.job, key))
        return bool(due_replies(record.job) or due_direct(record.job))

    async def _record(self, record: Followed, job: Job) -> None:
        record.job = job
        await self._held.persist(record)

    async def _stored(self, record: Followed) -> None:
        """Before a post: the job it is owed by is written first (the observer's write may be
        under way). So the store always owes every post it does not record, and a restart
        reads back only the threads whose stored job owes something (`ReadBack.reconcile`)."""
        if record.job is not record.saved:
            await self._held.persist(record)

    async def _post(self, record: Followed, key: str) -> None:
        job, fence = record.job, self._held.fence(record)
        if key == PICTURES:
            await self._readback.post_pictures(record)
        elif key == FAILURE_TEXT:
            await self._notifier.upload_failure_text(job, fence=fence)
        else:
            await self._notifier.post_reply(job, key, now=self._now(), fence=fence)
