"""The observer: asks Einstein about every followed training on its schedule, never on Slack's.

It keeps each job's next poll in one heap. When a poll falls due it runs a turn for that job:
submit a retrain Einstein has not confirmed, ask for the training's status, or see whether an
approval has expired. The answer goes through the pure state machine (`bot.core.machine`), the
new job is written (`HeldJobs.persist`), and the deliverer is told that the job changed. Nothing
here waits on Slack: a slow or rate-limited channel delays only its own posts.

A retrain that got no clear answer may still have started a training, so the next turn looks
for it before sending again; when that look fails too, the job waits and looks again later
(never "nothing was started" on a guess). A status that stays unanswered backs off
exponentially, up to `Timing.max_backoff`.

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
from datetime import datetime, timedelta
from typing import Protocol

from bot.core import machine
from bot.core.compare import compare_metrics
from bot.core.jobs import Job, JobStatus, Result, utcnow
from bot.core.owed import awaits_result
from bot.core.report import summarize_result
from bot.core.schedule import Timing, poll_delay, slot_end
from bot.einstein.client import KNOWN_STATUSES, EinsteinClient
from bot.einstein.explain import explain
from bot.einstein.models import MetricsData, Training
from bot.errors import EinsteinAuthError, EinsteinError, EinsteinNotFound, EinsteinRejected
from bot.follow.held import Followed, HeldJobs
from bot.logs import job_context
from bot.store.audit import AuditKind, AuditLog
from bot.store.jobs import LeaseLost

__all__ = ["Observer"]

log = logging.getLogger(__name__)

# A training created this long before our job was stored still counts as ours when we adopt an
# answer that never arrived: Einstein's and our clocks differ a little.
_CLOCK_SKEW = timedelta(seconds=60)
SUBMIT_ATTEMPTS = 5
METRICS_ATTEMPTS = 3


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
    ) -> None:
        self._held = held
        self._einstein = einstein
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
            await self._submit(record)
        elif job.status in (JobStatus.QUEUED, JobStatus.RUNNING):
            await self._poll(record)
        if awaits_result(record.job):
            return await self._fetch_result(record)
        if record.job.is_final:
            return None
        return poll_delay(record.job, timing=self._timing, errors=record.errors, now=self._now())

    async def _change(self, record: Followed, job: Job, *, progress_only: bool = False) -> None:
        """Make `job` the record's job, write it and tell the deliverer."""
        record.job = job
        await self._held.persist(record, progress_only=progress_only)
        self._deliverer.changed(record)

    async def _expire(self, record: Followed) -> None:
        job = machine.expire(record.job, now=self._now())
        if job is not record.job:
            await self._change(record, job)
            await self._audit.job_event(AuditKind.APPROVAL_EXPIRED, job)

    # -- submitting --------------------------------------------------------------------------

    async def _submit(self, record: Followed) -> None:
        job = record.job
        if record.submit_tries == 0 and not record.resumed and job.baseline is None:
            job = await self._baseline(record)
        if record.submit_tries or record.resumed:
            # A retrain sent before may have reached Einstein: look before sending again.
            try:
                found = await self._einstein.training_status(job.model_id)
            except EinsteinError as exc:
                record.errors += 1
                log.warning(
                    "cannot tell yet whether the retrain of %s started (%s); looking again later",
                    job.model_id,
                    exc.message,
                )
                return
            if found.created_at is not None and found.created_at >= job.created_at - _CLOCK_SKEW:
                log.info("retrain of %s reached Einstein after all; following it", job.model_id)
                await self._submitted(record, found)
                return
            if record.submit_tries >= SUBMIT_ATTEMPTS:
                await self._reject(record, explain(self._last_error(record), model_id=job.model_id))
                return
        if not self._held.may_post(record):
            # A retrain cannot be taken back, like a post: a process paused past its lease
            # (SIGSTOP, a frozen VM) must not send one for a job another instance may have
            # taken over and submitted meanwhile. The next renewal keeps the job or drops it.
            return
        try:
            training = await self._einstein.retrain(job.model_id, job.options)
        except (EinsteinRejected, EinsteinAuthError) as exc:
            if isinstance(exc, EinsteinAuthError):
                log.error("Einstein refused the bot's credentials: %s", exc.message)
            await self._reject(record, explain(exc, model_id=job.model_id))
            return
        except EinsteinError as exc:
            record.submit_tries += 1
            record.errors += 1
            record.submit_error = exc
            log.warning(
                "retrain of %s not confirmed (%s); attempt %d",
                job.model_id,
                exc.message,
                record.submit_tries,
            )
            return
        await self._submitted(record, training)

    def _last_error(self, record: Followed) -> EinsteinError:
        return record.submit_error or EinsteinError("Einstein did not confirm the retrain")

    async def _submitted(self, record: Followed, training: Training) -> None:
        record.errors = 0
        record.resumed = False
        job = machine.submitted(record.job, training, now=self._now())
        await self._change(record, job)
        await self._audit.job_event(AuditKind.SUBMITTED, job, approver=job.approver)

    async def _reject(self, record: Followed, reason: str) -> None:
        job = machine.reject(record.job, reason=reason, now=self._now())
        await self._change(record, job)
        await self._audit.job_event(AuditKind.REFUSED, job, outcome=reason)

    async def _baseline(self, record: Followed) -> Job:
        """The model's metrics before the retrain, for the comparison once it succeeds."""
        job = record.job
        try:
            metrics = await self._einstein.metrics(job.model_id)
        except EinsteinNotFound:
            return job  # never trained successfully: the reply shows the new metrics only
        except EinsteinError as exc:
            log.info("no baseline metrics for %s: %s", job.model_id, exc.message)
            return job
        record.job = record.job.with_changes(
            baseline=metrics.metrics_data.model_dump_json(by_alias=True)
        )
        return record.job

    # -- following ---------------------------------------------------------------------------

    async def _poll(self, record: Followed) -> None:
        try:
            training = await self._einstein.training_status(record.job.model_id)
        except EinsteinNotFound:
            if record.job.is_final:
                return  # stopped meanwhile
            job = machine.lose(record.job, now=self._now())
            await self._change(record, job)
            await self._audit.job_event(AuditKind.OUTCOME, job)
            return
        except EinsteinError as exc:
            record.errors += 1
            log.warning("status of %s unavailable: %s", record.job.model_id, exc.message)
            if record.job.is_final:
                return
            now = self._now()
            job = self._assess(machine.unanswered(record.job, error=exc.message, now=now), now)
            await self._change(record, job, progress_only=_same(job, record.saved))
            return
        record.errors = 0
        if training.status not in KNOWN_STATUSES:
            log.warning(
                "Einstein reports status %r for %s, which the bot does not know; "
                "treating it as still running",
                training.status[:40],
                record.job.model_id,
            )
        before = record.job
        if before.is_final:
            return  # people stopped following it while Einstein answered
        record.training = training
        now = self._now()
        job = self._assess(machine.observe(before, training, now=now), now)
        if awaits_result(job):
            result = await self._result(record)
            job = machine.with_result(job, result) if result else job
        await self._change(record, job, progress_only=_same(job, record.saved))
        if job.status != before.status:
            result = job.result
            await self._audit.job_event(
                AuditKind.OUTCOME if job.is_final else AuditKind.STATE,
                job,
                failure=job.failure_msg,
                accuracy=result.test_accuracy if result else None,
                macro_f1=result.macro_f1 if result else None,
            )

    async def _result(self, record: Followed) -> Result | None:
        """The success report, or None to try again at a later turn.

        Right after training Einstein sometimes answers 404 for the metrics for a while, so a
        failed fetch is tried again before the reply goes out without them.
        """
        job = record.job
        try:
            if record.training is None:  # resumed after a restart: the stats come with it
                record.training = await self._einstein.training_status(job.model_id)
            metrics = await self._einstein.metrics(job.model_id)
        except EinsteinError as exc:
            record.metrics_tries += 1
            if record.metrics_tries < METRICS_ATTEMPTS:
                return None
            return summarize_result(
                record.training or _unknown(job), None, metrics_error=exc.message
            )
        before = MetricsData.model_validate_json(job.baseline) if job.baseline else None
        comparison = compare_metrics(before, metrics.metrics_data).to_dict()
        return summarize_result(record.training, metrics, comparison=comparison)

    async def _fetch_result(self, record: Followed) -> float | None:
        """A later turn for a succeeded training still without its report."""
        result = await self._result(record)
        if result is None:
            return min(self._timing.poll_interval, 2.0) * record.metrics_tries
        if awaits_result(record.job):
            await self._change(record, machine.with_result(record.job, result))
        return None

    def _assess(self, job: Job, now: datetime) -> Job:
        return machine.assess(
            job,
            now=now,
            stall_after=self._timing.stall_after,
            unreachable_after=self._timing.unreachable_after,
        )


def _same(job: Job, saved: Job | None) -> bool:
    """Whether `job` differs from what was last written only in progress and contact times."""
    return saved is not None and _essentials(job) == _essentials(saved)


def _essentials(job: Job) -> tuple[object, ...]:
    """What a restart must not lose; progress, epochs and contact times may lag five minutes."""
    return (
        job.status,
        job.queue_position,
        job.reached,
        job.condition,
        job.condition_seq,
        job.reported,
        job.parent_ts,
        job.result is not None,
        job.failure_msg,
        job.epochs,
        job.last_error,
    )


def _unknown(job: Job) -> Training:
    return Training.model_validate({"modelId": job.model_id, "status": str(job.status)})
