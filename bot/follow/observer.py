"""The observer: asks Einstein about every followed training on its schedule, never on Slack's.

It keeps each job's next poll in one heap. When a poll falls due it runs a turn for that job:
submit a retrain Einstein has not confirmed (`bot.follow.submit`), ask for the training's status
(`bot.follow.polls`), or see whether an approval has expired. The answer goes through the pure
state machine (`bot.core.machine`), the new job is written (`HeldJobs.persist`), and the
deliverer is told that the job changed. Nothing here waits on Slack: a slow or rate-limited
channel delays only its own posts.

A status that stays unanswered backs off exponentially, up to `Timing.max_backoff`.

Turns run as tasks, at most `concurrency` at a time; `tick()` starts the turns due now and
`settle()` waits for them, which is how tests drive it with an injected clock.
"""

from __future__ import annotations

import asyncio
import contextlib
import heapq
import logging
import time
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from bot.core import machine
from bot.core.jobs import Job, JobStatus, utcnow
from bot.core.owed import awaits_result
from bot.core.schedule import Timing, poll_delay, slot_end
from bot.einstein.client import EinsteinClient
from bot.follow.held import Followed, HeldJobs
from bot.follow.polls import Poller
from bot.follow.submit import Submitter
from bot.foreground import Foreground
from bot.logs import job_context
from bot.metrics import Metrics
from bot.store.audit import AuditKind, AuditLog
from bot.store.jobs import LeaseLost

__all__ = ["Observer"]

log = logging.getLogger(__name__)


class Changed(Protocol):
    """Told about every job whose Slack side may have changed (the deliverer)."""

    def changed(self, record: Followed) -> None: ...


class Observer:
    """Polls Einstein for every held job and writes what changed."""

    def __init__(
        self,
        *,
        held: HeldJobs,
        einstein: EinsteinClient,
        timing: Timing,
        deliverer: Changed,
        audit: AuditLog,
        concurrency: int = 64,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = utcnow,
        metrics: Metrics | None = None,
        foreground: Foreground | None = None,
    ) -> None:
        self._held = held
        self._foreground = foreground or Foreground()
        self._lag = metrics.poll_lag if metrics is not None else None
        self._timing = timing
        self._deliverer = deliverer
        self._audit = audit
        self._clock = clock
        self._now = now
        self._heap: list[tuple[float, int, Followed]] = []
        self._seq = 0
        self._kick = asyncio.Event()
        self._turns: set[asyncio.Task[None]] = set()
        self._slots = asyncio.Semaphore(concurrency)
        self._submitter = Submitter(
            held=held, einstein=einstein, audit=audit, now=now, change=self._change
        )
        self._poller = Poller(
            einstein=einstein, timing=timing, audit=audit, now=now, change=self._change
        )

    # -- the schedule ------------------------------------------------------------------------

    def watch(self, record: Followed, *, delay: float = 0.0) -> None:
        """Give `record` a turn in `delay` seconds, unless one is due sooner anyway."""
        if record.observing:
            record.poked = record.poked or delay <= 0
            return
        due = self._clock() + max(0.0, delay)
        if record.due_at <= due:
            return
        record.due_at = due
        self._seq += 1
        heapq.heappush(self._heap, (due, self._seq, record))
        if self._heap[0][2] is record:
            self._kick.set()

    def tick(self) -> int:
        """Start every turn that is due now; returns how many started."""
        now = self._clock()
        started = 0
        while self._heap and self._heap[0][0] <= now:
            due, _, record = heapq.heappop(self._heap)
            if due != record.due_at or record.observing or not self._held.holds(record):
                continue  # superseded by a newer entry, or no longer ours
            record.observing, record.due_at = True, float("inf")
            if self._lag is not None:
                self._lag(now - due)
            task = asyncio.ensure_future(self._turn(record))
            self._turns.add(task)
            task.add_done_callback(self._turns.discard)
            started += 1
        return started

    async def settle(self) -> None:
        """Wait until no turn is in flight."""
        while self._turns:
            await asyncio.gather(*list(self._turns), return_exceptions=True)

    async def run(self) -> None:
        """Run turns as they fall due, for ever."""
        while True:
            self.tick()
            self._kick.clear()
            wait = self._heap[0][0] if self._heap else None
            # Rounded up to a slot, so turns falling due close together run in one loop pass.
            with contextlib.suppress(TimeoutError):
                if wait is None:
                    await self._kick.wait()
                else:
                    loop = asyncio.get_running_loop()
                    deadline = slot_end(loop.time(), wait - self._clock(), slot=self._slot)
                    async with asyncio.timeout_at(deadline):
                        await self._kick.wait()

    @property
    def _slot(self) -> float:
        return self._timing.poll_slot

    def cancel_turns(self) -> list[asyncio.Task[None]]:
        for task in self._turns:
            task.cancel()
        return list(self._turns)

    # -- one turn ----------------------------------------------------------------------------

    async def _turn(self, record: Followed) -> None:
        job_context.set(record.id)
        try:
            await self._foreground.quiet()  # a burst of commands is answered first
            async with self._slots:
                delay = await self._observe(record)
        except LeaseLost:
            log.info("job %s is followed by another instance now", record.id)
            return
        except Exception:
            log.exception("observing job %s failed; trying again later", record.id)
            delay = self._timing.poll_interval
        finally:
            record.observing = False
        if record.poked and not record.job.is_final:
            record.poked, delay = False, 0.0
        if delay is not None and self._held.holds(record):
            self.watch(record, delay=delay)
        elif delay is None:
            self._deliverer.changed(record)  # lets the deliverer let go once all is said

    async def _observe(self, record: Followed) -> float | None:
        """One look at the job; returns when to look next (None: nothing left to watch)."""
        job = record.job
        if job.status == JobStatus.AWAITING_APPROVAL:
            await self._expire(record)
        elif job.status == JobStatus.SUBMITTING:
            await self._submitter.submit(record)
        elif job.status in (JobStatus.QUEUED, JobStatus.RUNNING):
            await self._poller.poll(record)
        if awaits_result(record.job):
            return await self._poller.fetch_result(record)
        if record.job.is_final:
            return None
        return poll_delay(record.job, timing=self._timing, errors=record.errors, now=self._now())

    async def _change(self, record: Followed, job: Job, *, progress_only: bool = False) -> None:
        """Make `job` the record's job, write it and tell the deliverer."""
        record.job = job
        await self._held.persist(record, progress_only=progress_only)
        self._deliverer.changed(record)

    async def _expire(self, record: Followed) -> None:
        """Expire an approval nobody gave in time; half-way there, owe the approvers a reminder."""
        now = self._now()
        job = machine.expire(record.job, now=now)
        if job.status == JobStatus.AWAITING_APPROVAL:
            job = machine.remind(job, now=now)
        if job is not record.job:
            await self._change(record, job)
            if job.status == JobStatus.EXPIRED:
                await self._audit.job_event(AuditKind.APPROVAL_EXPIRED, job)
