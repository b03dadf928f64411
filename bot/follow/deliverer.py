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
token) is paused for `Timing.slack_pause` and the requester told once; any other refusal drops
that one message, recorded as handled so the thread goes on. A transient failure leaves the post
owed and tries again later. Nothing here waits on Einstein except the pictures' data.
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
from bot.core.owed import FAILURE_TEXT, PICTURES, card_owed, due_private, due_replies, pending
from bot.core.schedule import Timing
from bot.einstein.client import EinsteinClient
from bot.errors import SlackError, SlackRefused
from bot.follow.held import Followed, HeldJobs
from bot.follow.pictures import draw_pictures
from bot.logs import job_context
from bot.slack.look import look
from bot.slack.notify import Notifier
from bot.store.jobs import LeaseLost

__all__ = ["INVITE_ASKED", "Deliverer"]

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
_CARD_GONE = frozenset({"message_not_found", "cant_update_message", "edit_window_closed"})
INVITE_ASKED = "INVITE_ASKED"  # the requester was told to invite the bot (once per job)
# Errors that reading the thread back will not outgrow; the bot goes on without it.
_PERMANENT_READ_ERRORS = frozenset(
    {
        "missing_scope",
        "not_in_channel",
        "channel_not_found",
        "thread_not_found",
        "not_allowed_token_type",
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
    ) -> None:
        self._held = held
        self._notifier = notifier
        self._einstein = einstein
        self._timing = timing
        self._clock = clock
        self._now = now
        self._channels: dict[str, _Channel] = {}
        self._edits: set[asyncio.Task[None]] = set()
        self._later: dict[str, asyncio.TimerHandle] = {}
        # One training's pictures drawn at a time: drawing is CPU work, and a thousand
        # trainings ending together must not hold a thousand learning curves in memory.
        self._drawing = asyncio.Semaphore(1)
        self.on_done: Callable[[Followed], None] = lambda _record: None

    @property
    def busy(self) -> bool:
        """Whether a post or an edit is in flight (a draining process waits for it)."""
        return any(ch.worker for ch in self._channels.values()) or bool(self._edits)

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
            tasks = [ch.worker for ch in self._channels.values() if ch.worker] + [*self._edits]
            await asyncio.gather(*tasks, return_exceptions=True)

    def stop(self) -> list[asyncio.Task[None]]:
        """Cancel every worker and retry; returns the tasks to await."""
        for handle in self._later.values():
            handle.cancel()
        self._later.clear()
        tasks = [ch.worker for ch in self._channels.values() if ch.worker] + [*self._edits]
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
                job_context.set(record.id)
                if await self._step(record, channel):
                    channel.queue.setdefault(record.id, record)  # its next post, after the others'
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
        except SlackRefused as exc:
            await self._channel_problem(record, channel, exc)
            return True
        except SlackError as exc:
            log.warning("Slack update for job %s failed: %s", record.id, exc.code)
        except Exception:
            log.exception("delivering job %s failed; trying again later", record.id)
        self._retry_later(record, min(_RETRY_SLACK, self._timing.poll_interval))
        return False

    async def _post_next(self, record: Followed) -> bool:
        fence = self._held.fence(record)
        if not record.reconciled:
            await self._reconcile(record)
            return record.reconciled
        job = record.job
        if card_owed(job):
            ts = await self._notifier.post_card(job, fence=fence)
            record.card_shown, record.card_shown_at = _card_state(job), self._clock()
            await self._record(record, machine.card_posted(record.job, ts=ts))
            await self._link_elsewhere(record)
            return True
        for key in due_private(job):
            await self._notifier.tell(
                response_url=job.response_url,
                channel=job.origin_channel,
                user=job.requester,
                message=f":no_entry: The retrain of `{job.model_id}` was not started. "
                f"{job.failure_msg or ''}".rstrip(),
            )
            await self._record(record, machine.posted(record.job, key))
        if job.parent_ts is not None and self._card_due(record):
            self._edit(record)
        due = due_replies(job)
        if not due:
            return False
        key = due[0]
        try:
            await self._post(record, key)
        except SlackRefused as exc:
            if exc.code in CHANNEL_PROBLEMS:
                raise
            # This one message can never be posted; the rest of the thread goes on.
            log.error(
                "dropped the %s reply of job %s: Slack refused it (%s)", key, record.id, exc.code
            )
        await self._record(record, machine.posted(record.job, key))
        return bool(due_replies(record.job))

    async def _record(self, record: Followed, job: Job) -> None:
        record.job = job
        await self._held.persist(record)

    async def _post(self, record: Followed, key: str) -> None:
        job, fence = record.job, self._held.fence(record)
        if key == PICTURES:
            await self._post_pictures(record)
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
            and self._card_settled(record)
        ):
            self._held.drop(record)
            self.on_done(record)

    # -- the card ----------------------------------------------------------------------------

    def _card_settled(self, record: Followed) -> bool:
        job = record.job
        if job.parent_ts is None or record.card_frozen:
            return True
        return record.card_shown == _card_state(job)

    def _card_due(self, record: Followed) -> bool:
        """Edit at once when the state changes; progress alone waits its turn.

        Its turn comes every `card_interval` seconds, or less often when many trainings run:
        `chat.update` is a Tier 3 method (about 50 calls a minute per workspace), so the
        progress edits of all cards share that budget.
        """
        if record.card_frozen:
            return False
        shown, current = record.card_shown, _card_state(record.job)
        if shown is None:
            return True
        if shown == current:
            return False
        if _without_progress(shown) != _without_progress(current):
            return True
        budget = len(self._held) * 60.0 / self._timing.card_edits_per_minute
        return self._clock() - record.card_shown_at >= max(self._timing.card_interval, budget)

    def _edit(self, record: Followed) -> None:
        if record.editing:
            return
        record.editing = True
        task = asyncio.ensure_future(self._edit_card(record))
        self._edits.add(task)
        task.add_done_callback(self._edits.discard)

    async def _edit_card(self, record: Followed) -> None:
        """Edit the card until it shows the job's latest state (edits are coalesced anyway)."""
        job_context.set(record.id)
        try:
            while self._held.may_post(record) and self._card_due(record):
                job = record.job
                await self._notifier.update_card(job, fence=self._held.fence(record))
                record.card_shown, record.card_shown_at = _card_state(job), self._clock()
        except SlackRefused as exc:
            if exc.code in _CARD_GONE:
                log.warning(
                    "the card of job %s cannot be edited (%s); replies go on", record.id, exc.code
                )
                record.card_frozen = True
            else:
                log.warning("Slack refused to edit the card of job %s: %s", record.id, exc.code)
                self._retry_later(record, self._timing.slack_pause)
        except SlackError as exc:
            log.warning("the card of job %s was not edited: %s", record.id, exc.code)
            self._retry_later(record, min(_RETRY_SLACK, self._timing.poll_interval))
        finally:
            record.editing = False
        if self._held.holds(record):
            self.changed(record)  # whatever changed meanwhile, and the final check

    # -- reading back, telling, pictures -----------------------------------------------------

    async def _reconcile(self, record: Followed) -> None:
        """After a restart: adopt posts the last process made but did not live to record.

        A crash between a Slack post and the store write would otherwise repeat that post.
        """
        job = record.job
        try:
            if job.parent_ts is None and card_owed(job):
                ts = await self._notifier.find_card(job)
                if ts is not None:
                    job = machine.card_posted(job, ts=ts)
            if job.parent_ts is not None:
                job = machine.posted(job, *await self._notifier.posted_states(job))
        except SlackError as exc:
            if exc.code not in _PERMANENT_READ_ERRORS:
                log.warning("cannot read job %s back from Slack yet (%s)", record.id, exc.code)
                self._retry_later(record, min(_RETRY_SLACK, self._timing.poll_interval))
                return
            log.warning(
                "cannot read job %s back from Slack (%s; the bot needs the "
                "channels:history scope); a reply may repeat after this restart",
                record.id,
                exc.code,
            )
        # The reads took time: keep what the observer wrote meanwhile, add what Slack shows.
        current = record.job
        if job.parent_ts is not None and current.parent_ts is None:
            current = machine.card_posted(current, ts=job.parent_ts)
        await self._record(record, machine.posted(current, *job.reported))
        record.reconciled = True

    async def _channel_problem(
        self, record: Followed, channel: _Channel, exc: SlackRefused
    ) -> None:
        """The bot cannot post in the job's channel: fix what it can, say so, keep the job."""
        job = record.job
        if exc.code == "not_in_channel" and await self._notifier.join(job.channel):
            return  # joined a public channel: the next turn posts
        channel.paused_until = self._clock() + self._timing.slack_pause
        if exc.code in ("not_in_channel", "channel_not_found") and INVITE_ASKED not in job.reported:
            await self._notifier.tell(
                response_url=job.response_url,
                channel=job.origin_channel,
                user=job.requester,
                message=f":warning: I cannot post about the retrain of `{job.model_id}` in "
                f"<#{job.channel}>: I am not a member there. Invite me with `/invite` and the "
                "training's thread will catch up; the training itself is still followed.",
            )
            await self._record(record, machine.posted(record.job, INVITE_ASKED))
        log.error(
            "cannot post for job %s in %s (%s); the job is kept and Slack is tried again in %d s",
            job.id,
            job.channel,
            exc.code,
            self._timing.slack_pause,
        )

    async def _link_elsewhere(self, record: Followed) -> None:
        job = record.job
        if job.channel == job.origin_channel or job.parent_ts is None:
            return
        link = await self._notifier.permalink(job.channel, job.parent_ts)
        where = f"<{link}|the thread in <#{job.channel}>>" if link else f"<#{job.channel}>"
        await self._notifier.tell(
            response_url=job.response_url,
            channel=job.origin_channel,
            user=job.requester,
            message=f"{look(job.status)[0]} Retrain of `{job.model_id}` submitted; "
            f"follow it in {where}.",
        )

    async def _post_pictures(self, record: Followed) -> None:
        """Learning curve and confusion matrix in the thread; a missing one is only logged."""
        job = record.job
        async with self._drawing:
            pictures = await draw_pictures(self._einstein, job)
        if not pictures:
            return
        comment = "How the training went:"
        fence = self._held.fence(record)
        try:
            await self._notifier.upload_pictures(job, pictures, comment=comment, fence=fence)
        except SlackError as exc:
            # Files need channel membership, unlike chat:write.public posts.
            if exc.code != "not_in_channel" or not await self._notifier.join(job.channel):
                if exc.code in _PERMANENT_READ_ERRORS or exc.code == "not_in_channel":
                    log.warning("pictures for job %s not posted: %s", job.id, exc.code)
                    return
                raise
            await self._notifier.upload_pictures(job, pictures, comment=comment, fence=fence)


def _card_state(job: Job) -> tuple[object, ...]:
    return (
        job.status,
        round(job.progress, 2),
        job.queue_position,
        job.epochs_done,
        job.result is not None,
    )


def _without_progress(state: tuple[object, ...]) -> tuple[object, ...]:
    status, _progress, queue_position, _epochs_done, has_result = state
    return (status, queue_position, has_result)
