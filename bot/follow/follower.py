"""The follower: the observer and the deliverer around the jobs this process holds.

    listener → use case → Follower ─┬─ Observer   polls Einstein on schedule, writes what changed
                                    ├─ Deliverer  per-channel Slack queue, records every post
                                    └─ HeldJobs   one record per job, leases, safe writes

The order of writes is what makes restarts safe: a job is stored before Einstein is called, a
card's ts right after Slack confirms it, and each reply in `reported` right after it is posted;
a new process reads Slack back (message metadata) before it posts anything for a job it took
over. Decisions people make (stop following, approve, decline) go through the same state
machine and are written with the lease taken over, whichever instance held the job.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Callable, Coroutine
from datetime import datetime
from typing import Any

from bot.core import machine
from bot.core.jobs import Job, utcnow
from bot.core.schedule import Timing
from bot.einstein.client import EinsteinClient
from bot.errors import StoreError
from bot.follow.deliverer import Deliverer
from bot.follow.direct import WantsDm
from bot.follow.held import Followed, HeldJobs
from bot.follow.observer import Observer
from bot.foreground import Foreground
from bot.loops import raise_if_cancelled
from bot.metrics import Metrics
from bot.slack.notify import Notifier
from bot.store.audit import AuditKind, AuditLog
from bot.store.jobs import JobStore

__all__ = ["Follower"]

log = logging.getLogger(__name__)


class Follower:
    """Owns the observer, the deliverer and the leases that entitle this process to its jobs."""

    def __init__(
        self,
        *,
        store: JobStore,
        einstein: EinsteinClient,
        notifier: Notifier,
        timing: Timing,
        audit: AuditLog,
        wants_dm: WantsDm | None = None,
        max_jobs: int = 10_000,
        clock: Callable[[], float] = time.monotonic,
        now: Callable[[], datetime] = utcnow,
        metrics: Metrics | None = None,
        foreground: Foreground | None = None,
    ) -> None:
        foreground = foreground or Foreground()
        self._store = store
        self._metrics = metrics
        self._timing = timing
        self._audit = audit
        self._max_jobs = max_jobs
        self._now = now
        self._held = HeldJobs(store=store, timing=timing, clock=clock)
        self._deliverer = Deliverer(
            held=self._held,
            notifier=notifier,
            einstein=einstein,
            timing=timing,
            clock=clock,
            now=now,
            wants_dm=wants_dm,
            foreground=foreground,
        )
        self._observer = Observer(
            held=self._held,
            einstein=einstein,
            timing=timing,
            deliverer=self._deliverer,
            audit=audit,
            clock=clock,
            now=now,
            metrics=metrics,
            foreground=foreground,
        )
        if metrics is not None:
            metrics.watch_active(lambda: len(self._held))
            self._deliverer.on_done = lambda record: metrics.finished(record.job.status)
        self._chores: set[asyncio.Task[None]] = set()
        self._loops: list[asyncio.Task[None]] = []

    @property
    def running(self) -> int:
        """How many jobs this process follows."""
        return len(self._held)

    @property
    def timing(self) -> Timing:
        return self._timing

    def spawn(self, coro: Coroutine[Any, Any, None], *, name: str) -> None:
        """Run a short chore as a tracked task: asyncio keeps only weak references to tasks."""
        task = asyncio.ensure_future(coro)
        self._chores.add(task)
        task.add_done_callback(self._chore_done)

    def _chore_done(self, task: asyncio.Task[None]) -> None:
        self._chores.discard(task)
        if not task.cancelled() and task.exception() is not None:
            log.error("background task failed", exc_info=task.exception())

    def follow(self, job: Job, *, resumed: bool = False, leased_at: float | None = None) -> None:
        """Follow `job` to its end; `resumed` jobs first reconcile with what Slack shows."""
        if self._held.get(job.id) is not None or self._held.draining:
            return
        self._start(self._held.hold(job, resumed=resumed, leased_at=leased_at))

    def _start(self, record: Followed) -> None:
        # Jobs resumed together are spread over one interval so they never poll in step.
        spread = record.resumed and not record.job.is_final
        self._observer.watch(
            record, delay=random.uniform(0, self._timing.poll_interval) if spread else 0.0
        )
        self._deliverer.changed(record)

    def poke(self, job_id: str) -> bool:
        """Poll the job now instead of at its next turn; False if another process follows it."""
        record = self._held.get(job_id)
        if record is None:
            return False
        record.card_shown = None  # a refresh shows the card as it is now
        self._observer.watch(record, delay=0.0)
        return True

    async def store_new(self, job: Job) -> float:
        """Store a new job leased to this process (DuplicateJob if its model is followed).

        Returns when the lease began, for `follow`: counted from before the store call, so a
        process paused inside it never believes it holds more than it does.
        """
        leased_at, stored = self.store_new_soon(job)
        await stored
        return leased_at

    def store_new_soon(self, job: Job) -> tuple[float, asyncio.Future[None]]:
        """`store_new` as the lease's start and the write's future, for a caller that bounds
        its wait (a command's ack) and so would otherwise need a task for it."""
        leased_at = self._held.now()
        stored = self._store.add(job, lease_seconds=self._timing.lease_seconds)
        if self._metrics is not None:
            stored.add_done_callback(self._count_started)
        return leased_at, stored

    def _count_started(self, stored: asyncio.Future[None]) -> None:
        if self._metrics is not None and not stored.cancelled() and stored.exception() is None:
            self._metrics.started()

    # -- decisions people make ---------------------------------------------------------------

    async def stop_following(self, job: Job, *, by: str) -> Job:
        """Cancel: Einstein has no cancel call, so the bot stops following and says so."""
        cancelled = machine.cancel(self._latest(job), by=by, now=self._now())
        return await self._take(cancelled, AuditKind.CANCELLED, by=by)

    async def approve(self, job: Job, *, by: str) -> Job:
        """A second person approved a protected model's retrain: submit it now."""
        approved = machine.approve(self._latest(job), by=by, now=self._now())
        return await self._take(approved, AuditKind.APPROVED, by=by)

    async def decline(self, job: Job, *, by: str, reason: str | None) -> Job:
        """The approver said no: nothing is submitted."""
        declined = machine.decline(self._latest(job), by=by, reason=reason, now=self._now())
        return await self._take(declined, AuditKind.APPROVAL_REJECTED, by=by, outcome=reason)

    async def silence(self, job: Job) -> Job:
        """Its workspace uninstalled the app: stop following it, and say nothing more there."""
        silenced = machine.uninstalled(self._latest(job), now=self._now())
        return await self._take(silenced, AuditKind.UNINSTALLED, by=None)

    def _latest(self, job: Job) -> Job:
        record = self._held.get(job.id)
        return record.job if record is not None else job

    async def _take(
        self, job: Job, kind: AuditKind, *, by: str | None, outcome: str | None = None
    ) -> Job:
        """Write a decision about `job` and follow it here, whichever process held it."""
        leased_at = self._held.now()
        await self._store.take_over(job, lease_seconds=self._timing.lease_seconds)
        # The decision enters the trail before what follows from it (submission, replies), so
        # the trail keeps their order and whoever sees the thread change finds it recorded.
        await self._audit.job_event(kind, job, actor=by, outcome=outcome)
        record = self._held.get(job.id)
        if record is None:
            record = self._held.hold(job, leased_at=leased_at)
        else:
            record.job = record.saved = job
            record.lease_until = leased_at + self._timing.lease_seconds
        self._start(record)  # the card shows the decision, the thread says what it owes
        return job

    # -- start, leases, stop -----------------------------------------------------------------

    async def start(self) -> int:
        """Claim the unfinished jobs nobody follows, then keep claiming and renewing."""
        claimed = await self._claim()
        self._loops = [
            asyncio.ensure_future(self._observer.run()),
            asyncio.ensure_future(self._lease_loop()),
        ]
        return claimed

    async def _claim(self) -> int:
        room = self._max_jobs - len(self._held)
        records = await self._held.claim(limit=min(room, 500))
        for record in records:
            self._start(record)
        return len(records)

    async def _lease_loop(self) -> None:
        while True:
            await asyncio.sleep(self._timing.claim_interval * random.uniform(0.8, 1.2))
            try:
                await self._held.renew()
                await self._claim()
            except StoreError as exc:
                log.warning("lease upkeep failed: %s", exc)
            except Exception:
                # This loop must outlive any surprise: without it no lease is renewed and no
                # job claimed again, and the process silently stops posting for good.
                log.exception("lease upkeep failed; trying again at the next interval")
            raise_if_cancelled()

    async def stop(self, *, grace: float = 5.0) -> None:
        """Stop taking work, let posts in flight finish, give the leases back."""
        self._held.draining = True
        for task in self._loops:
            task.cancel()
        deadline = time.monotonic() + grace
        while self._deliverer.busy and time.monotonic() < deadline:  # noqa: ASYNC110 - bounded
            await asyncio.sleep(0.01)
        tasks = [
            *self._loops,
            *self._observer.cancel_turns(),
            *self._deliverer.stop(),
            *self._chores,
        ]
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        try:
            await self._store.release()
        except StoreError as exc:
            log.warning("could not release leases (they expire by themselves): %s", exc)

    async def wait_idle(self) -> None:
        """Wait until this process follows no job (the demo and tests use it)."""
        await self._held.emptied()
