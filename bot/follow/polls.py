"""Polling a training: Einstein's answer through the state machine, then the success report.

A turn for a queued or running job asks Einstein for the training's status and runs the answer
through the pure state machine (`bot.core.machine`), which also sets the job's alert (Einstein
silent too long, a running training not moving); a training Einstein no longer knows is lost. A
change that is only progress or contact times is written as such (`progress_only`, at most every
five minutes). A succeeded training's report needs its metrics, which Einstein sometimes answers 404
for a while after training: the fetch is tried `METRICS_ATTEMPTS` times, a turn apart, before
the report goes out without them.
"""

from __future__ import annotations

import dataclasses
import logging
from collections.abc import Callable
from datetime import datetime
from typing import Protocol

from bot.core import machine
from bot.core.compare import compare_metrics, regressions
from bot.core.jobs import Job, Result
from bot.core.owed import awaits_result
from bot.core.report import summarize_result
from bot.core.schedule import Timing
from bot.einstein.client import KNOWN_STATUSES, EinsteinClient
from bot.einstein.models import MetricsData, Training
from bot.errors import EinsteinError, EinsteinNotFound
from bot.follow.held import Followed
from bot.store.audit import AuditKind, AuditLog

__all__ = ["METRICS_ATTEMPTS", "Change", "Poller"]

log = logging.getLogger(__name__)

METRICS_ATTEMPTS = 3


class Change(Protocol):
    """Makes `job` the record's job, writes it and tells the deliverer (the observer's)."""

    async def __call__(
        self, record: Followed, job: Job, *, progress_only: bool = False
    ) -> None: ...


class Poller:
    """The observer's turn for a queued or running training, and for its success report."""

    def __init__(
        self,
        *,
        einstein: EinsteinClient,
        timing: Timing,
        audit: AuditLog,
        now: Callable[[], datetime],
        change: Change,
    ) -> None:
        self._einstein = einstein
        self._timing = timing
        self._audit = audit
        self._now = now
        self._change = change

    async def poll(self, record: Followed) -> None:
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
            # The deliverer records posts meanwhile (the card's ts, replies): the answer is
            # applied to the job as it is now, or the card would be owed, and posted, again.
            if record.job.is_final:
                return  # people stopped following it while the metrics came
            job = self._assess(machine.observe(record.job, training, now=now), now)
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
        record.metrics = metrics.metrics_data
        before = MetricsData.model_validate_json(job.baseline) if job.baseline else None
        comparison = compare_metrics(before, metrics.metrics_data)
        result = summarize_result(record.training, metrics, comparison=comparison.to_dict())
        return dataclasses.replace(
            result, regressed=regressions(comparison, self._timing.regression_alert)
        )

    async def fetch_result(self, record: Followed) -> float | None:
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
            queue_stall_after=self._timing.queue_stall_after,
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
