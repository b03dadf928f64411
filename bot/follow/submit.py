"""Submitting a retrain: sent once, never a second time on a guess.

A turn for a job in `SUBMITTING` first fetches the model's metrics before the retrain (the
baseline of the comparison once it succeeds), then sends the retrain. A retrain that got no
clear answer may still have started a training, so the next turn looks for it before sending
again and adopts a training Einstein started since the job was stored; when that look fails too,
the job waits and looks again later (never "nothing was started" on a guess). Einstein refusing
the retrain, or `SUBMIT_ATTEMPTS` unconfirmed ones, reject the job with the reason in plain
words. A retrain is sent only while the lease on the job is safe, like a post.
"""

from __future__ import annotations

import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta

from bot.core import machine
from bot.core.jobs import Job
from bot.einstein.client import EinsteinClient
from bot.einstein.explain import explain
from bot.einstein.models import Training
from bot.errors import EinsteinAuthError, EinsteinError, EinsteinNotFound, EinsteinRejected
from bot.follow.held import Followed, HeldJobs
from bot.store.audit import AuditKind, AuditLog

__all__ = ["SUBMIT_ATTEMPTS", "Submitter"]

log = logging.getLogger(__name__)

# A training created this long before our job was stored still counts as ours when we adopt an
# answer that never arrived: Einstein's and our clocks differ a little.
_CLOCK_SKEW = timedelta(seconds=60)
SUBMIT_ATTEMPTS = 5


class Submitter:
    """The observer's turn for a job whose retrain Einstein has not confirmed."""

    def __init__(
        self,
        *,
        held: HeldJobs,
        einstein: EinsteinClient,
        audit: AuditLog,
        now: Callable[[], datetime],
        change: Callable[[Followed, Job], Awaitable[None]],
    ) -> None:
        self._held = held
        self._einstein = einstein
        self._audit = audit
        self._now = now
        self._change = change

    async def submit(self, record: Followed) -> None:
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
