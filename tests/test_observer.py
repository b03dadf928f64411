"""The observer on its own: the real store, the Einstein simulator and an injected clock."""

from __future__ import annotations

import asyncio
import secrets
from collections.abc import AsyncIterator, Iterator
from dataclasses import dataclass, field

import aiohttp
import pytest
import stamina

from bot.core import machine
from bot.core.jobs import Job, JobStatus, utcnow
from bot.core.options import RetrainOptions
from bot.core.schedule import Timing
from bot.einstein.auth import JwtTokenSource
from bot.einstein.client import EinsteinClient
from bot.einstein.retry import RetryPolicy
from bot.errors import StoreError
from bot.fakes.einstein.faults import RecordedRequest
from bot.fakes.einstein.simulator import EinsteinSimulator
from bot.follow.held import Followed, HeldJobs
from bot.follow.observer import Observer
from bot.store.audit import AuditKind, AuditLog
from bot.store.jobs import SqlJobStore

ACCOUNT = "observer-tests@example.com"
STATUS = "getTrainStatusAndProgress"


@pytest.fixture(autouse=True)
def _no_backoff_waits() -> Iterator[None]:
    with stamina.set_testing(True, attempts=100, cap=True):
        yield


@dataclass
class Clock:
    """Monotonic seconds that move only when the test says so."""

    now: float = 1000.0

    def __call__(self) -> float:
        return self.now


@dataclass
class Changes:
    """Stands where the deliverer would: records each job it is told about."""

    seen: list[Job] = field(default_factory=list)

    def changed(self, record: Followed) -> None:
        self.seen.append(record.job)


@dataclass
class Harness:
    sim: EinsteinSimulator
    store: SqlJobStore
    held: HeldJobs
    observer: Observer
    changes: Changes
    clock: Clock
    audit: AuditLog

    async def start(self, model_id: str) -> Followed:
        job = Job(
            id=secrets.token_hex(8),
            model_id=model_id,
            options=RetrainOptions(),
            requester="U1",
            channel="C1",
            origin_channel="C1",
            created_at=utcnow(),
        )
        await self.store.add(job, lease_seconds=30)
        record = self.held.hold(job)
        self.observer.watch(record)
        return record

    async def turn(self, seconds: float = 0.0) -> None:
        """Let `seconds` pass, run what is due, and wait for it."""
        self.clock.now += seconds
        self.observer.tick()
        await self.observer.settle()


@pytest.fixture
async def harness(store: SqlJobStore, key_pair: tuple[str, str]) -> AsyncIterator[Harness]:
    private_pem, public_pem = key_pair
    sim = EinsteinSimulator(time_scale=1.0, queue_seconds=1000.0, run_seconds=1000.0)
    sim.add_account(ACCOUNT, public_pem)
    base_url = await sim.start()
    timing = Timing(poll_interval=1.0, lease_seconds=30.0)
    clock = Clock()
    async with aiohttp.ClientSession() as session:
        tokens = JwtTokenSource(
            base_url=base_url, account_id=ACCOUNT, private_key_pem=private_pem, session=session
        )
        einstein = EinsteinClient(
            base_url=base_url,
            tokens=tokens,
            session=session,
            timeout=0.5,
            retry=RetryPolicy(attempts=1),
        )
        slept: list[float] = []

        async def no_sleep(seconds: float) -> None:
            slept.append(seconds)
            clock.now += seconds

        held = HeldJobs(store=store, timing=timing, clock=clock, sleep=no_sleep)
        changes = Changes()
        audit = AuditLog(store, sleep=no_sleep)
        observer = Observer(
            held=held,
            einstein=einstein,
            timing=timing,
            deliverer=changes,
            audit=audit,
            clock=clock,
        )
        yield Harness(sim, store, held, observer, changes, clock, audit)
    await sim.stop()


async def test_a_failed_look_after_an_unanswered_retrain_sends_no_second_retrain(
    harness: Harness,
) -> None:
    """Retrain unanswered, then the status check fails: the job waits, never retrains twice."""
    model = harness.sim.add_model()
    # The retrain reaches Einstein (the training starts) but its answer comes too late.
    harness.sim.fail_next("retrain", status=None, delay=1.0)
    record = await harness.start(model)
    await harness.turn()
    assert record.job.status == JobStatus.SUBMITTING
    [sent] = harness.sim.calls("retrain")
    await _answered(sent)
    harness.sim.fail_next(STATUS, status=503, times=3)
    for _ in range(3):
        await harness.turn(400.0)
        assert record.job.status == JobStatus.SUBMITTING
    assert len(harness.sim.calls("retrain")) == 1
    await harness.turn(400.0)
    assert record.job.status == JobStatus.QUEUED  # adopted the training the retrain started
    assert len(harness.sim.calls("retrain")) == 1
    stored = await harness.store.get(record.id)
    assert stored is not None
    assert stored.status == JobStatus.QUEUED


async def _answered(request: RecordedRequest) -> None:
    """Wait (real time, bounded) until the simulator has processed a delayed request."""
    deadline = asyncio.get_running_loop().time() + 5.0
    while request.status is None:
        assert asyncio.get_running_loop().time() < deadline, "the simulator never answered"
        await asyncio.sleep(0.02)


async def test_a_failing_store_write_is_retried_and_the_job_held(harness: Harness) -> None:
    """The store refuses writes for a while: the observer holds the job and writes it later."""
    model = harness.sim.add_model()
    record = await harness.start(model)
    real_save = harness.store.save
    failures = 3

    async def flaky_save(job: Job) -> None:
        nonlocal failures
        if failures:
            failures -= 1
            raise StoreError("job store failed: OperationalError")
        await real_save(job)

    harness.store.save = flaky_save  # type: ignore[method-assign]
    await harness.turn()
    assert failures == 0
    stored = await harness.store.get(record.id)
    assert stored is not None
    assert stored.status == JobStatus.QUEUED  # written once the store took it
    assert record.saved is record.job
    events = [e.kind for e in await harness.audit.events()]
    assert events == [AuditKind.SUBMITTED]


async def test_status_is_polled_on_schedule_and_changes_reach_the_deliverer(
    harness: Harness,
) -> None:
    """Each due turn polls once; every state change is written and handed on."""
    model = harness.sim.add_model()
    record = await harness.start(model)
    await harness.turn()
    polls = len(harness.sim.calls(STATUS))
    await harness.turn(0.1)  # not due yet
    assert len(harness.sim.calls(STATUS)) == polls
    await harness.turn(10.0)
    assert len(harness.sim.calls(STATUS)) == polls + 1
    assert harness.changes.seen[-1] is record.job
    assert {j.status for j in harness.changes.seen} >= {JobStatus.QUEUED}


async def test_no_retrain_is_sent_while_the_lease_is_unsafe(harness: Harness) -> None:
    """Past its lease (a paused process), no retrain goes out; it does once the lease is renewed."""
    model = harness.sim.add_model()
    record = await harness.start(model)
    harness.clock.now += 31.0  # the lease of 30 s ran out on this process's clock
    await harness.turn()
    assert harness.sim.calls("retrain") == []
    assert record.job.status == JobStatus.SUBMITTING
    assert await harness.held.renew() == []  # the store still has it leased to us
    await harness.turn(10.0)
    assert len(harness.sim.calls("retrain")) == 1
    assert record.job.status == JobStatus.QUEUED


async def test_a_lease_counts_from_before_the_claim(harness: Harness) -> None:
    """Paused while claiming, a process counts its lease from the claim, not from waking up."""
    model = harness.sim.add_model()
    record = await harness.start(model)
    harness.held.drop(record)
    await harness.store.release()
    real_claim = harness.store.claim

    async def claim_then_pause(*, limit: int, lease_seconds: float) -> list[Job]:
        jobs = await real_claim(limit=limit, lease_seconds=lease_seconds)
        harness.clock.now += 31.0  # stopped after the claim was written, before it returned
        return jobs

    harness.store.claim = claim_then_pause  # type: ignore[method-assign]
    [claimed] = await harness.held.claim(limit=10)
    assert not harness.held.may_post(claimed)


async def test_posts_recorded_while_the_metrics_come_are_kept(harness: Harness) -> None:
    """A card posted while a success's metrics are fetched stays recorded: the observer applies
    Einstein's answer to the job as it is then, so the card is never owed (and posted) twice."""
    model = harness.sim.add_model()
    harness.sim.script(model, queue_seconds=0.0, run_seconds=0.0)
    record = await harness.start(model)
    await harness.turn()
    assert record.job.status in (JobStatus.QUEUED, JobStatus.RUNNING)
    harness.sim.fail_next("getTrainedModelMetrics", status=None, delay=0.5, model_id=model)
    turn = asyncio.ensure_future(harness.turn(10.0))
    await asyncio.sleep(0.2)  # the success is seen; its metrics are on their way
    record.job = machine.card_posted(record.job, ts="1700000000.000100")  # the deliverer's write
    await turn
    assert record.job.status == JobStatus.SUCCEEDED
    assert record.job.result is not None
    assert record.job.parent_ts == "1700000000.000100"
    stored = await harness.store.get(record.id)
    assert stored is not None
    assert stored.parent_ts == "1700000000.000100"
