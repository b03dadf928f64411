"""The jobs this process follows: one record each, their leases, and writing them safely.

`HeldJobs` is shared by the observer and the deliverer. Each followed job has one `Followed`
record holding the latest `Job` and what only this process knows about it (its poll schedule,
what its card shows). A record exists while the job needs this process and is dropped when the
job has nothing left to watch or say, or when another instance takes it over, so nothing grows
with jobs that have ended.

Writes keep their promise: `persist` writes the record's latest job and, when the store fails,
tries again with backoff for as long as it takes (the job is held meanwhile: its poll and its
next post wait for the write). Only `LeaseLost` ends it: another instance follows the job now.

Fencing: the lease is renewed every `claim_interval`; `may_post` is true only while the lease
outlives the next post by a margin. It is checked before every Slack call made for a job, in
the outbox right before sending, and before a retrain is sent to Einstein, so a process paused
past its lease (SIGSTOP, a frozen VM) neither posts nor retrains for a job another instance has
taken over.
"""

from __future__ import annotations

import asyncio
import logging
import random
import time
from collections.abc import Awaitable, Callable, Iterator
from dataclasses import dataclass, field

from bot.core.jobs import Job
from bot.core.schedule import Timing
from bot.einstein.models import MetricsData, Training
from bot.errors import EinsteinError, StoreError
from bot.store.jobs import JobStore, LeaseLost

__all__ = ["Followed", "HeldJobs"]

log = logging.getLogger(__name__)

_PROGRESS_SAVE_INTERVAL = 300.0
_MAX_WRITE_BACKOFF = 30.0


@dataclass(eq=False)
class Followed:
    """One followed job: its latest value and this process's knowledge about it."""

    job: Job
    lease_until: float  # monotonic; the store's lease may end later, never sooner
    resumed: bool = False  # taken from the store: read Slack back before posting
    claimed: Job | None = None  # the job as taken from the store, for the read-back
    # The observer's side.
    due_at: float = float("inf")  # monotonic time of the next turn; inf: none scheduled
    observing: bool = False  # a turn is in flight
    poked: bool = False  # someone asked for a turn while one was in flight
    errors: int = 0  # Einstein calls that failed in a row
    submit_tries: int = 0  # retrains sent without a confirmation
    submit_error: EinsteinError | None = None
    training: Training | None = None  # Einstein's last answer, for the success report
    metrics_tries: int = 0
    metrics: MetricsData | None = None  # the success's metrics, until its pictures are drawn
    # The deliverer's side.
    reconciled: bool = True
    card_shown: tuple[object, ...] | None = None
    card_shown_at: float = float("-inf")
    card_frozen: bool = False  # Slack will not let us edit the card any more
    uninstalled_since: float | None = None  # monotonic: when its workspace was first not found
    editing: bool = False
    pictures: list[tuple[str, bytes, str]] | None = None  # drawn, not yet uploaded
    drawing: bool = False
    # Writes.
    saved: Job | None = None
    saved_at: float = float("-inf")
    lock: asyncio.Lock = field(default_factory=asyncio.Lock)

    @property
    def id(self) -> str:
        return self.job.id


class HeldJobs:
    """The records of every job this process holds a lease on."""

    def __init__(
        self,
        *,
        store: JobStore,
        timing: Timing,
        clock: Callable[[], float] = time.monotonic,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._store = store
        self._timing = timing
        self._clock = clock
        self._sleep = sleep
        self._records: dict[str, Followed] = {}
        self._empty = asyncio.Event()
        self._empty.set()
        self.draining = False

    def __len__(self) -> int:
        return len(self._records)

    def __iter__(self) -> Iterator[Followed]:
        return iter(list(self._records.values()))

    def get(self, job_id: str) -> Followed | None:
        return self._records.get(job_id)

    def now(self) -> float:
        """This process's clock, read before a store call that leases a job (see `hold`)."""
        return self._clock()

    def hold(self, job: Job, *, resumed: bool = False, leased_at: float | None = None) -> Followed:
        """Start holding `job`, leased to this process at `leased_at` (default: just now).

        Callers pass the time read before the store call that leased the job: a process paused
        during that call must not count its lease from when it woke up.
        """
        started = self._clock() if leased_at is None else leased_at
        record = Followed(
            job=job,
            lease_until=started + self._timing.lease_seconds,
            resumed=resumed,
            claimed=job if resumed else None,
            reconciled=not resumed,
            saved=job,
            saved_at=self._clock(),
        )
        self._records[job.id] = record
        self._empty.clear()
        return record

    def drop(self, record: Followed) -> None:
        if self._records.get(record.id) is record:
            del self._records[record.id]
            if not self._records:
                self._empty.set()

    async def emptied(self) -> None:
        """Wait until no job is held."""
        await self._empty.wait()

    def holds(self, record: Followed) -> bool:
        return self._records.get(record.id) is record

    def may_post(self, record: Followed) -> bool:
        """Post only with a lease that outlives the post by a margin."""
        margin = min(10.0, self._timing.lease_seconds / 3)
        return (
            not self.draining and self.holds(record) and record.lease_until - self._clock() > margin
        )

    def fence(self, record: Followed) -> Callable[[], bool]:
        return lambda: self.may_post(record)

    async def persist(self, record: Followed, *, progress_only: bool = False) -> None:
        """Write the record's latest job, retrying a failing store until it takes the write.

        A write that only moves progress is skipped within five minutes of the last one:
        progress is redrawn from Einstein's next answer anyway, and a thousand trainings would
        otherwise cost a hundred writes a second. Raises `LeaseLost` (the record is dropped).
        """
        if progress_only and self._clock() - record.saved_at < _PROGRESS_SAVE_INTERVAL:
            return
        async with record.lock:
            failures = 0
            while True:
                job = record.job
                if job is record.saved:
                    return
                try:
                    await self._store.save(job)
                except LeaseLost:
                    self.drop(record)
                    raise
                except StoreError as exc:
                    failures += 1
                    delay = min(_MAX_WRITE_BACKOFF, 0.5 * 2 ** min(failures, 10))
                    log.error(
                        "could not record job %s (%s, attempt %d); the job is held and the "
                        "write tried again in %.1f s",
                        job.id,
                        exc,
                        failures,
                        delay,
                    )
                    await self._sleep(delay * random.uniform(0.8, 1.2))
                    continue
                if failures:
                    log.warning("job %s recorded after %d failed attempts", job.id, failures)
                record.saved, record.saved_at = job, self._clock()
                return

    async def renew(self) -> list[Followed]:
        """Extend every lease; returns the records another instance took over (now dropped)."""
        records = list(self._records.values())
        if not records:
            return []
        renewed_at = self._clock()
        held = await self._store.renew(
            [r.id for r in records], lease_seconds=self._timing.lease_seconds
        )
        lost = []
        for record in records:
            if record.id in held:
                record.lease_until = renewed_at + self._timing.lease_seconds
            elif self.holds(record):
                log.warning("job %s was taken over by another instance; letting it go", record.id)
                self.drop(record)
                lost.append(record)
        return lost

    async def claim(self, *, limit: int) -> list[Followed]:
        """Lease unfinished jobs nobody follows (or whose lease ran out) and hold them."""
        if limit <= 0 or self.draining:
            return []
        asked = self._clock()
        jobs = await self._store.claim(limit=limit, lease_seconds=self._timing.lease_seconds)
        records = [
            self.hold(job, resumed=True, leased_at=asked)
            for job in jobs
            if job.id not in self._records
        ]
        if records:
            log.info("following %d unfinished job(s) taken from the store", len(records))
        return records
