"""The deliverer: tells Slack what each job owes, one queue per channel, recording every post.

The observer calls `changed(record)` whenever a job may owe Slack something; the job joins its
channel's queue, and that channel's worker (started when work arrives, ended when the queue is
empty) brings Slack up to the job in steps: read the thread back after a restart, post the card,
tell the requester privately, post the next owed reply. Each step is one post, so jobs sharing
a channel take turns, and what is owed is derived from the job at the moment it is sent
(`bot.core.owed`): replies go out in state order, and a card is edited only to its latest state,
in a lane of its own (edits do not count against the channel's pace of posts).

Every post is recorded (`Job.reported`, `Job.parent_ts`) as soon as Slack confirms it. A post is
made only while this process's lease on the job is safe (`HeldJobs.may_post`, checked again by
the outbox right before sending). A channel Slack refuses (not a member, archived, revoked
token) is paused for `Timing.slack_pause` and the requester told once, unless the thread can
move to the requester's DM (`bot.follow.readback`); any other refusal drops
that one message, recorded as handled so the thread goes on. A transient failure leaves the post
owed and tries again later. Nothing here waits on Einstein except the pictures' data.

When the card is edited: `bot.follow.card_edits`. Reading a thread back, a refused channel, the
link for the requester and the pictures: `bot.follow.readback`. The result by DM:
`bot.follow.direct`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from bot.core import machine
from bot.core.jobs import Job, utcnow
from bot.core.owed import (
    FAILURE_TEXT,
    MOVED,
    PICTURES,
    card_owed,
    due_direct,
    due_private,
    due_replies,
    pending,
)
from bot.core.schedule import Timing
from bot.einstein.client import EinsteinClient
from bot.errors import SlackError, SlackRefused
from bot.follow.card_edits import CardEdits, card_state
from bot.follow.direct import DirectResults, WantsDm
from bot.follow.held import Followed, HeldJobs
from bot.follow.readback import ReadBack
from bot.foreground import Foreground
from bot.logs import job_context
from bot.slack.notify import Notifier
from bot.slack.tokens import NotInstalled, Team, current_team
from bot.store.jobs import LeaseLost

__all__ = ["Deliverer"]

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
_RETRY_SLACK = 5.0  # after a transient failure, at most this long before trying again


@dataclass(eq=False)
class _Channel:
    """One channel's jobs waiting for Slack, in turn order, and the worker serving them."""

    queue: dict[str, Followed] = field(default_factory=dict)
    worker: asyncio.Task[None] | None = None
    paused_until: float = float("-inf")


class Deliverer:
    """Per-channel delivery of what the held jobs owe Slack."""

    def __init__(
        self,
        *,
        held: HeldJobs,
        notifier: Notifier,
        einstein: EinsteinClient,
        timing: Timing,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = utcnow,
        wants_dm: WantsDm | None = None,
        foreground: Foreground | None = None,
    ) -> None:
        self._held = held
        self._foreground = foreground or Foreground()
        self._notifier = notifier
        self._timing = timing
        self._clock = clock
        self._now = now
        self._channels: dict[str, _Channel] = {}
        self._later: dict[str, asyncio.TimerHandle] = {}
        self._cards = CardEdits(
            held=held,
            notifier=notifier,
            timing=timing,
            clock=clock,
            retry_later=self._retry_later,
            retry_soon=self._retry_soon,
            changed=self.changed,
        )
        self._readback = ReadBack(
            held=held,
            notifier=notifier,
            einstein=einstein,
            timing=timing,
            clock=clock,
            retry_soon=self._retry_soon,
        )
        self._direct = DirectResults(held=held, notifier=notifier, wants_dm=wants_dm)
        self.on_done: Callable[[Followed], None] = lambda _record: None

    @property
    def busy(self) -> bool:
        """Whether a post or an edit is in flight (a draining process waits for it)."""
        return any(ch.worker for ch in self._channels.values()) or bool(self._cards.tasks)

    def changed(self, record: Followed) -> None:
        """`record`'s job may owe Slack something: queue it in its channel."""
        channel_id = record.job.channel
        channel = self._channels.get(channel_id)
        if channel is None:
            channel = self._channels[channel_id] = _Channel()
        channel.queue.setdefault(record.id, record)
        if channel.worker is None:
            channel.worker = asyncio.ensure_future(self._serve(channel_id, channel))

    async def settle(self) -> None:
        """Wait until every channel's queue is empty and no edit is in flight."""
        while self.busy:
            tasks = [ch.worker for ch in self._channels.values() if ch.worker] + [
                *self._cards.tasks
            ]
            await asyncio.gather(*tasks, return_exceptions=True)

    def stop(self) -> list[asyncio.Task[None]]:
        """Cancel every worker and retry; returns the tasks to await."""
        for handle in self._later.values():
            handle.cancel()
        self._later.clear()
        tasks = [ch.worker for ch in self._channels.values() if ch.worker]
        tasks += [*self._cards.tasks, *self._readback.draws, *self._readback.drawing.close()]
        for task in tasks:
            task.cancel()
        return tasks

    # -- the channel worker ------------------------------------------------------------------

    async def _serve(self, channel_id: str, channel: _Channel) -> None:
        try:
            while channel.queue:
                wait = channel.paused_until - self._clock()
                if wait > 0:
                    await asyncio.sleep(wait)
                    continue
                record = channel.queue.pop(next(iter(channel.queue)))
                if not self._held.holds(record):
                    continue
                if record.job.channel != channel_id:
                    # Its thread moved (to the requester's DM) while it waited here: only the
                    # worker of the channel it is in now posts for it, never two at once.
                    self.changed(record)
                    continue
                job_context.set(record.id)
                current_team.set(Team.of_job(record.job))
                await self._foreground.quiet()  # a burst of commands is answered first
                if await self._step(record, channel):
                    if record.job.channel == channel_id:
                        channel.queue.setdefault(record.id, record)  # next post, after the others'
                    else:
                        self.changed(record)  # its thread moved to another channel
                self._finish(record)
        finally:
            channel.worker = None
            if not channel.queue and self._channels.get(channel_id) is channel:
                del self._channels[channel_id]

    def _retry_later(self, record: Followed, delay: float) -> None:
        if record.id in self._later:
            return

        def again() -> None:
            del self._later[record.id]
            if self._held.holds(record):
                self.changed(record)

        self._later[record.id] = asyncio.get_running_loop().call_later(delay, again)

    def _retry_soon(self, record: Followed) -> None:
        """After a transient failure: try again shortly."""
        self._retry_later(record, min(_RETRY_SLACK, self._timing.poll_interval))

    async def _step(self, record: Followed, channel: _Channel) -> bool:
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
                await self._notifier.tell(
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
            self._readback.draw(record, then=self.changed)  # comes back here once drawn
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

    def _finish(self, record: Followed) -> None:
        """Let go of a job that has nothing left to watch or say."""
        job = record.job
        if (
            not pending(job)
            and not record.observing
            and not record.editing
            and job is record.saved
            and self._cards.settled(record)
        ):
            self._held.drop(record)
            self.on_done(record)
