"""The follower: submits accepted jobs, polls their trainings and keeps the thread current.

Each job runs in its own task. The order of writes is what makes restarts safe: the job is
stored before Einstein is called, the card's ts is stored right after it is posted, and a
reply is recorded in `reported` right after it is posted, so a new process knows what is owed.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from bot.blocks import look
from bot.einstein.client import EinsteinClient
from bot.einstein.models import Metrics, Training
from bot.errors import (
    EinsteinAuthError,
    EinsteinError,
    EinsteinNotFound,
    EinsteinRejected,
    EinsteinUnavailable,
    StoreError,
)
from bot.jobs import (
    LOST,
    REJECTED,
    SUBMITTING,
    Job,
    Result,
    due_replies,
    observe,
    summarize_result,
    utcnow,
)
from bot.notify import Notifier, SlackError
from bot.store import JobStore

__all__ = ["Follower"]

log = logging.getLogger(__name__)

# A training created this long before our job was stored still counts as ours when we adopt an
# answer that never arrived: Einstein's and our clocks differ a little.
_CLOCK_SKEW = timedelta(seconds=60)
_SUBMIT_ATTEMPTS = 5
_METRICS_ATTEMPTS = 3
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


class Follower:
    """Owns every job task of this process."""

    def __init__(
        self,
        *,
        store: JobStore,
        einstein: EinsteinClient,
        notifier: Notifier,
        poll_interval: float,
        card_interval: float = 5.0,
        now: Callable[[], datetime] = utcnow,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._store = store
        self._einstein = einstein
        self._notifier = notifier
        self._interval = poll_interval
        self._card_interval = card_interval
        self._now = now
        self._sleep = sleep
        self._tasks: dict[str, asyncio.Task[None]] = {}
        # What each card last showed and when, to throttle progress-only edits.
        self._card_shown: dict[str, tuple[tuple[object, ...], float]] = {}

    @property
    def running(self) -> int:
        return len(self._tasks)

    def spawn(self, coro: Awaitable[None], *, name: str) -> None:
        """Run `coro` as a tracked task: asyncio keeps only weak references to tasks."""
        task = asyncio.ensure_future(coro)
        self._tasks[name] = task
        task.add_done_callback(lambda t: self._done(name, t))

    def _done(self, name: str, task: asyncio.Task[None]) -> None:
        if self._tasks.get(name) is task:
            del self._tasks[name]
        if not task.cancelled() and task.exception() is not None:
            log.error("job %s stopped on an unexpected error", name, exc_info=task.exception())

    def follow(self, job: Job, *, resumed: bool = False) -> None:
        """Follow `job` to its end; `resumed` jobs first reconcile with what Slack shows."""
        if job.id not in self._tasks:
            self.spawn(self._run(job, resumed=resumed), name=job.id)

    def cancel(self, job_id: str) -> None:
        task = self._tasks.get(job_id)
        if task is not None:
            task.cancel()
            del self._tasks[job_id]

    async def resume(self) -> int:
        """Follow every job a previous process left unfinished; returns how many."""
        jobs = await self._store.unfinished()
        for job in jobs:
            self.follow(job, resumed=True)
        if jobs:
            log.info("resuming %d unfinished job(s)", len(jobs))
        return len(jobs)

    async def stop(self) -> None:
        tasks = list(self._tasks.values())
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)

    async def wait_idle(self) -> None:
        """Wait until no job task runs (the demo and tests use it)."""
        while self._tasks:
            await asyncio.gather(*list(self._tasks.values()), return_exceptions=True)

    async def _run(self, job: Job, *, resumed: bool) -> None:
        if job.status == SUBMITTING:
            job = await self._submit(job)
        reconciled = not resumed
        while job.status != REJECTED:
            if not reconciled:
                job, reconciled = await self._reconcile(job)
            if reconciled:
                job = await self._sync_slack(job)
            if job.is_final and not due_replies(job) and job.parent_ts is not None:
                self._card_shown.pop(job.id, None)
                return
            await self._sleep(self._poll_delay(job))
            if not job.is_final:
                job = await self._poll(job)

    async def _reconcile(self, job: Job) -> tuple[Job, bool]:
        """After a restart: adopt posts the last process made but did not live to record.

        A crash between a Slack post and the store write would otherwise repeat that post.
        Returns the job and whether it is safe to post now.
        """
        try:
            if job.parent_ts is None and job.status not in (SUBMITTING, REJECTED):
                ts = await self._notifier.find_card(job)
                if ts is not None:
                    job = job.with_changes(parent_ts=ts)
            if job.parent_ts is not None:
                posted = await self._notifier.posted_states(job)
                job = job.with_changes(reported=job.reported | posted)
        except SlackError as exc:
            if exc.code not in _PERMANENT_READ_ERRORS:
                log.warning("cannot read job %s back from Slack yet (%s)", job.id, exc.code)
                return job, False
            log.warning(
                "cannot read job %s back from Slack (%s; the bot needs the "
                "channels:history scope); a reply may repeat after this restart",
                job.id,
                exc.code,
            )
        await self._save(job)
        return job, True

    def _poll_delay(self, job: Job) -> float:
        # Jitter spreads jobs started together over the interval, so they never poll in step.
        base = self._interval if not job.is_final else min(self._interval, 5.0)
        return base * random.uniform(0.9, 1.1)

    async def _submit(self, job: Job) -> Job:
        for attempt in range(_SUBMIT_ATTEMPTS):
            adopted = await self._adoptable(job) if attempt else None
            try:
                training = adopted or await self._einstein.retrain(job.model_id, job.options)
            except EinsteinRejected as exc:
                return await self._reject(job, exc.message)
            except EinsteinAuthError as exc:
                log.error("Einstein refused our credentials: %s", exc.message)
                return await self._reject(
                    job, "the bot's Einstein credentials were refused; an operator must fix them"
                )
            except EinsteinError as exc:
                log.warning(
                    "retrain of %s not confirmed (%s); attempt %d",
                    job.model_id,
                    exc.message,
                    attempt + 1,
                )
                await self._sleep(min(60.0, 2.0 * 2**attempt) * random.uniform(0.8, 1.2))
                continue
            job = observe(job, training, now=self._now())
            await self._save(job)
            return job
        return await self._reject(
            job,
            "Einstein could not be reached, so nothing was started. "
            "Please try again in a few minutes.",
        )

    async def _adoptable(self, job: Job) -> Training | None:
        """After an unanswered retrain: the training Einstein started for it, if it did."""
        try:
            training = await self._einstein.training_status(job.model_id)
        except EinsteinError:
            return None
        if training.created_at is not None and training.created_at >= job.created_at - _CLOCK_SKEW:
            log.info("retrain of %s reached Einstein after all; following it", job.model_id)
            return training
        return None

    async def _reject(self, job: Job, reason: str) -> Job:
        job = job.with_changes(status=REJECTED, failure_msg=reason, finished_at=self._now())
        await self._save(job)
        await self._notifier.tell(
            response_url=job.response_url,
            channel=job.origin_channel,
            user=job.requester,
            message=f":no_entry: Einstein did not start the retrain of `{job.model_id}`: {reason}",
        )
        return job

    async def _poll(self, job: Job) -> Job:
        try:
            training = await self._einstein.training_status(job.model_id)
        except EinsteinNotFound:
            job = job.with_changes(status=LOST, finished_at=self._now(), updated_at=self._now())
            await self._save(job)
            return job
        except EinsteinError as exc:
            log.warning("status of %s unavailable: %s", job.model_id, exc.message)
            return job
        job = observe(job, training, now=self._now())
        if job.status == "SUCCEEDED" and job.result is None:
            job = job.with_changes(result=await self._result(training))
        await self._save(job)
        return job

    async def _result(self, training: Training) -> Result:
        metrics: Metrics | None = None
        error: str | None = None
        for attempt in range(_METRICS_ATTEMPTS):
            try:
                metrics = await self._einstein.metrics(training.model_id)
                break
            except (EinsteinNotFound, EinsteinUnavailable) as exc:
                # Right after training the metrics call sometimes answers 404 for a while.
                error = exc.message
                await self._sleep(min(self._interval, 2.0) * (attempt + 1))
            except EinsteinError as exc:
                error = exc.message
                break
        return summarize_result(training, metrics, metrics_error=None if metrics else error)

    async def _sync_slack(self, job: Job) -> Job:
        """Bring Slack up to the job: the card exists and is current, owed replies are posted."""
        try:
            if job.parent_ts is None and job.status != REJECTED:
                ts = await self._notifier.post_card(job)
                job = job.with_changes(parent_ts=ts)
                await self._save(job)
                await self._link_elsewhere(job)
                self._card_shown[job.id] = (_card_state(job), time.monotonic())
            elif job.parent_ts is not None and self._card_due(job):
                await self._notifier.update_card(job)
                self._card_shown[job.id] = (_card_state(job), time.monotonic())
            for status in due_replies(job):
                await self._notifier.post_reply(job, status)
                job = job.with_changes(reported=job.reported | {status})
                await self._save(job)
        except SlackError as exc:
            # The derived state still owes the post; the next cycle tries again.
            log.warning("Slack update for job %s failed: %s", job.id, exc.code)
        return job

    def _card_due(self, job: Job) -> bool:
        """Edit at once when the status changes; progress alone waits for the card interval."""
        shown = self._card_shown.get(job.id)
        if shown is None:
            return True
        state, at = shown
        if state == _card_state(job):
            return False
        return state[0] != job.status or time.monotonic() - at >= self._card_interval

    async def _link_elsewhere(self, job: Job) -> None:
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

    async def _save(self, job: Job) -> None:
        try:
            await self._store.save(job)
        except StoreError as exc:
            log.error("could not record job %s: %s", job.id, exc)


def _card_state(job: Job) -> tuple[object, ...]:
    return (
        job.status,
        round(job.progress, 2),
        job.queue_position,
        job.epochs_done,
        job.result is not None,
    )
