"""Slack as it is, not as the job says: read back, refused channels, links and pictures.

Around the thread's own posts the deliverer meets Slack's side of things. After a restart it
reads the thread back and adopts the posts the last process made but did not live to record,
so none is repeated. A channel the bot cannot post in is joined when it is public; otherwise it
is paused for `Timing.slack_pause` and the requester told once how to invite the bot. A thread
in another channel than the command's is linked for the requester, and the pictures, which need
channel membership unlike posts, are uploaded after joining if need be. An error Slack will not
outgrow is logged and passed by; a transient one is tried again soon.

A channel the bot can neither post in nor join (a DM between people, a private channel it is
not in) is tried `machine.MOVE_AFTER` times, a few seconds apart; then the job's card and thread
move to the requester's DM with the bot, stored on the job (`channel`; `origin_channel` stays)
before anything is posted there, and the requester is told privately where to follow it.
"""

from __future__ import annotations

import asyncio
import functools
import logging
from collections.abc import Callable
from typing import Protocol

from bot.core import machine
from bot.core.jobs import Job
from bot.core.owed import card_owed, due_replies, moved_to_dm
from bot.core.schedule import Timing
from bot.einstein.client import EinsteinClient
from bot.errors import SlackError, SlackRefused
from bot.follow.charts import draw_training
from bot.follow.drawing import Drawing
from bot.follow.held import Followed, HeldJobs
from bot.follow.pictures import fetch_drawable
from bot.slack.look import look
from bot.slack.notify import Notifier

__all__ = ["INVITE_ASKED", "Paused", "ReadBack", "moved_text"]

log = logging.getLogger(__name__)

INVITE_ASKED = "INVITE_ASKED"  # the requester was told to invite the bot (once per job)
# Refusals that a DM with the requester gets around: the bot is not in the conversation.
_MOVABLE = frozenset({"not_in_channel", "channel_not_found"})
# Between the refused attempts before a move: the requester should not wait long to hear.
_REFUSED_RETRY = 5.0
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


class Paused(Protocol):
    """A channel's queue, paused until a moment of the deliverer's clock."""

    paused_until: float


class ReadBack:
    """Reading threads back, refused channels, links elsewhere and pictures, for the deliverer."""

    def __init__(
        self,
        *,
        held: HeldJobs,
        notifier: Notifier,
        einstein: EinsteinClient,
        timing: Timing,
        clock: Callable[[], float],
        retry_soon: Callable[[Followed], None],
    ) -> None:
        self._held = held
        self._notifier = notifier
        self._einstein = einstein
        self._timing = timing
        self._clock = clock
        self._retry_soon = retry_soon
        # Drawing is CPU work: one training at a time in a thread, or a few in worker processes
        # when thousands end together, never a thousand learning curves held at once.
        self.drawing = Drawing()
        self.draws: set[asyncio.Task[None]] = set()

    async def _record(self, record: Followed, job: Job) -> None:
        record.job = job
        await self._held.persist(record)

    async def reconcile(self, record: Followed) -> None:
        """After a restart: adopt posts the last process made but did not live to record.

        A crash between a Slack post and the store write would otherwise repeat that post.
        The store is trusted first: a post is made only for what the stored job owes (the
        deliverer writes the job before it posts), so an unrecorded post can only be the card
        of a job stored without one, or a reply its stored job still owed. A job that owed
        neither is not read back at all; Slack allows apps outside its Marketplace one history
        read a minute. A card found unrecorded has its thread read too.
        """
        job = record.job
        owed = record.claimed or job
        try:
            found = None
            if job.parent_ts is None and card_owed(job):
                found = await self._notifier.find_card(job)
                if found is not None:
                    job = machine.card_posted(job, ts=found)
            if job.parent_ts is not None and (found is not None or due_replies(owed)):
                job = machine.posted(job, *await self._notifier.posted_states(job))
        except SlackError as exc:
            if exc.code not in _PERMANENT_READ_ERRORS:
                log.warning("cannot read job %s back from Slack yet (%s)", record.id, exc.code)
                self._retry_soon(record)
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

    async def channel_problem(self, record: Followed, channel: Paused, exc: SlackRefused) -> None:
        """The bot cannot post in the job's channel: fix what it can, say so, keep the job."""
        job = record.job
        if exc.code == "not_in_channel" and await self._notifier.join(job.channel):
            return  # joined a public channel: the next turn posts
        movable = exc.code in _MOVABLE and not moved_to_dm(job)
        if movable and await self._refused(record, channel, exc.code):
            return
        channel.paused_until = self._clock() + self._timing.slack_pause
        if exc.code in ("not_in_channel", "channel_not_found") and INVITE_ASKED not in job.reported:
            await self._notifier.private.tell(
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

    async def _refused(self, record: Followed, channel: Paused, code: str) -> bool:
        """Count a refused post; at `MOVE_AFTER`, move the job to the requester's DM.

        Whether the refusal was dealt with (False: no DM could be opened for good, so the
        channel is paused and the requester asked to invite the bot, as before DMs).
        """
        job = machine.refused(record.job)
        if job.refusals < machine.MOVE_AFTER:
            await self._record(record, job)
            channel.paused_until = self._clock() + min(self._timing.slack_pause, _REFUSED_RETRY)
            log.warning(
                "cannot post for job %s in %s (%s, attempt %d of %d)",
                job.id,
                job.channel,
                code,
                job.refusals,
                machine.MOVE_AFTER,
            )
            return True
        try:
            dm = await self._notifier.direct.open(job.requester)
        except SlackRefused as exc:
            log.error("cannot open a DM with %s for job %s: %s", job.requester, job.id, exc.code)
            return False
        except SlackError as exc:
            log.warning("cannot open a DM for job %s yet (%s)", job.id, exc.code)
            channel.paused_until = self._clock() + _REFUSED_RETRY
            return True
        if dm == job.channel:
            return False  # the DM itself refuses: nowhere else to go
        # Stored before anything is posted there: a restart reads the thread back in the DM.
        # Applied to the job as it is now: the observer may have moved it on meanwhile.
        await self._record(record, machine.move(record.job, channel=dm))
        log.warning(
            "job %s moves from %s (%s) to the requester's DM %s", job.id, job.channel, code, dm
        )
        return True

    async def tell_moved(self, record: Followed) -> None:
        """Tell the requester where the thread went, with a link (owed as `MOVED`)."""
        job = record.job
        assert job.parent_ts is not None
        link = await self._notifier.permalink(job.channel, job.parent_ts)
        await self._notifier.private.tell(
            response_url=job.response_url,
            channel=job.origin_channel,
            user=job.requester,
            message=moved_text(job, link),
        )

    async def link_elsewhere(self, record: Followed) -> None:
        job = record.job
        if job.channel == job.origin_channel or job.parent_ts is None or moved_to_dm(job):
            return  # a thread moved to the DM is told as `MOVED` (`owed.due_private`)
        link = await self._notifier.permalink(job.channel, job.parent_ts)
        where = f"<{link}|the thread in <#{job.channel}>>" if link else f"<#{job.channel}>"
        await self._notifier.private.tell(
            response_url=job.response_url,
            channel=job.origin_channel,
            user=job.requester,
            message=f"{look(job.status)[0]} Retrain of `{job.model_id}` submitted; "
            f"follow it in {where}.",
        )

    def draw(self, record: Followed, *, then: Callable[[Followed], None]) -> None:
        """Draw the pictures in a task of their own, then `then(record)` to upload them.

        Off the channel's queue: the replies of the channel's other jobs do not wait while a
        thousand trainings' pictures are drawn one after another.
        """
        if record.drawing or record.pictures is not None:
            return
        record.drawing = True
        task = asyncio.ensure_future(self._draw(record, then))
        self.draws.add(task)
        task.add_done_callback(self.draws.discard)

    async def _draw(self, record: Followed, then: Callable[[Followed], None]) -> None:
        try:
            job = record.job
            prepare = functools.partial(fetch_drawable, self._einstein, job, metrics=record.metrics)
            record.pictures = await self.drawing.run(prepare, draw_training)
        except Exception:
            log.exception("could not draw the pictures of job %s; posting none", record.id)
            record.pictures = []
        finally:
            record.drawing, record.metrics = False, None
        if self._held.holds(record):
            then(record)

    async def post_pictures(self, record: Followed) -> None:
        """Upload the drawn learning curve and confusion matrix; a missing one is only logged."""
        job, pictures = record.job, record.pictures or []
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


def moved_text(job: Job, link: str | None) -> str:
    """What the requester is told when the thread moved to their DM with the bot."""
    in_dm = job.origin_channel.startswith("D")
    place = "this conversation" if in_dm else f"<#{job.origin_channel}>"
    thread = f"<{link}|the thread in our direct messages>" if link else "our direct messages"
    text = (
        f":incoming_envelope: I cannot post in {place}, so the retrain of `{job.model_id}` "
        f"is followed in {thread} (the bot's *Messages* tab)."
    )
    if not in_dm:
        text += " To have the next ones in the channel, invite me there with `/invite`."
    return text
