"""The deliverer: tells Slack what each job owes, one queue per channel, recording every post.

The observer calls `changed(record)` whenever a job may owe Slack something; the job joins its
channel's queue, and that channel's worker (started when work arrives, ended when the queue is
empty) brings Slack up to the job in steps: read the thread back after a restart, post the card,
tell the requester privately, post the next owed reply. Each step is one post, so jobs sharing
a channel take turns, and what is owed is derived from the job at the moment it is sent
(`bot.core.owed`): replies go out in state order, and a card is edited only to its latest state,
in a lane of its own (edits do not count against the channel's pace of posts).

A job that has to wait (after a transient failure, while its lease is about to end) comes back
to its channel's queue on a timer; a paused channel's worker sleeps until the pause ends.

What one step posts, how the post is recorded, and what a refusal or failure of it means:
`bot.follow.poster`. When the card is edited: `bot.follow.card_edits`. Reading a thread back, a
refused channel, the link for the requester and the pictures: `bot.follow.readback`. The result
by DM: `bot.follow.direct`.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from bot.core.jobs import utcnow
from bot.core.owed import pending
from bot.core.schedule import Timing
from bot.einstein.client import EinsteinClient
from bot.follow.card_edits import CardEdits
from bot.follow.direct import DirectResults, WantsDm
from bot.follow.held import Followed, HeldJobs
from bot.follow.poster import Poster
from bot.follow.readback import ReadBack
from bot.foreground import Foreground
from bot.logs import job_context
from bot.slack.notify import Notifier
from bot.slack.tokens import Team, current_team

__all__ = ["Deliverer"]

log = logging.getLogger(__name__)

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
        self._timing = timing
        self._clock = clock
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
        self._poster = Poster(
            held=held,
            notifier=notifier,
            timing=timing,
            clock=clock,
            now=now,
            cards=self._cards,
            readback=self._readback,
            direct=DirectResults(held=held, notifier=notifier, wants_dm=wants_dm),
            retry_later=self._retry_later,
            retry_soon=self._retry_soon,
            changed=self.changed,
        )
        self.on_done: Callable[[Followed], None] = lambda _record: None

    @property
    def busy(self) -> bool:
        """Whether a post or an edit is in flight or next in a channel's turn (a draining
        process waits for it). A channel waiting out a pause is not: nothing goes out there
        before the pause ends, and a stop would otherwise wait its whole grace for it."""
        now = self._clock()
        unpaused = (ch.worker for ch in self._channels.values() if ch.paused_until <= now)
        return any(unpaused) or bool(self._cards.tasks)

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
        """Wait until every channel's queue is empty (paused ones too) and no edit is in flight."""
        while tasks := [ch.worker for ch in self._channels.values() if ch.worker] + [
            *self._cards.tasks
        ]:
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
                if await self._poster.step(record, channel):
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
