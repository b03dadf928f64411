"""The deliverer on its own: the real store, the fake Slack Web API and an injected clock."""

from __future__ import annotations

import base64
import secrets
from collections.abc import AsyncIterator
from dataclasses import dataclass

import aiohttp
import pytest
from slack_sdk.web.async_client import AsyncWebClient

from bot.core.jobs import Job, JobStatus, Result, utcnow
from bot.core.options import RetrainOptions
from bot.core.owed import FAILURE_INLINE_LIMIT, FAILURE_TEXT, pending
from bot.core.schedule import Timing
from bot.einstein.auth import JwtTokenSource
from bot.einstein.client import EinsteinClient
from bot.fakes.einstein.simulator import EinsteinSimulator
from bot.fakes.slack import FakeSlack
from bot.follow.deliverer import Deliverer
from bot.follow.held import Followed, HeldJobs
from bot.slack.notify import Notifier
from bot.slack.outbox import Outbox
from bot.store.jobs import SqlJobStore
from tests.test_observer import Clock

CHANNEL = "C0001"  # the fake workspace's #general
ACCOUNT = "deliverer-tests@example.com"
TIMING = Timing(poll_interval=1.0, lease_seconds=30.0)


@dataclass
class Harness:
    sim: EinsteinSimulator
    store: SqlJobStore
    slack: FakeSlack
    notifier: Notifier
    clock: Clock
    held: HeldJobs
    deliverer: Deliverer
    einstein: EinsteinClient

    async def add(self, **changes: object) -> Followed:
        """A stored job leased to this process, held and handed to the deliverer."""
        job = Job(
            id=secrets.token_hex(8),
            model_id=base64.b32encode(secrets.token_bytes(16)).decode()[:26],
            options=RetrainOptions(),
            requester="U0DELIVER1",
            channel=CHANNEL,
            origin_channel=CHANNEL,
            created_at=utcnow(),
        ).with_changes(**changes)
        await self.store.add(job, lease_seconds=TIMING.lease_seconds)
        record = self.held.hold(job)
        self.deliverer.changed(record)
        return record

    def restarted(self) -> tuple[HeldJobs, Deliverer]:
        """A new process's view: nothing held, nothing in its queues."""
        held = HeldJobs(store=self.store, timing=TIMING, clock=self.clock)
        deliverer = Deliverer(
            held=held,
            notifier=self.notifier,
            einstein=self.einstein,
            timing=TIMING,
            clock=self.clock,
        )
        return held, deliverer

    def states(self) -> list[str]:
        """The state each post in the channel announces, in posting order."""
        return [
            str(m.versions[0].metadata.event_payload["state"])
            for m in self.slack.messages(CHANNEL)
            if m.versions[0].metadata is not None
        ]


@pytest.fixture
async def harness(store: SqlJobStore, key_pair: tuple[str, str]) -> AsyncIterator[Harness]:
    sim = EinsteinSimulator()
    sim.add_account(ACCOUNT, key_pair[1])
    base_url = await sim.start()
    slack = FakeSlack()
    await slack.start()
    clock = Clock()
    async with aiohttp.ClientSession() as session:
        client = AsyncWebClient(token="xoxb-test-token", base_url=slack.api_url, session=session)
        notifier = Notifier(outbox=Outbox(client=client, post_interval=0.0), session=session)
        einstein = EinsteinClient(
            base_url=base_url,
            tokens=JwtTokenSource(
                base_url=base_url, account_id=ACCOUNT, private_key_pem=key_pair[0], session=session
            ),
            session=session,
        )
        held = HeldJobs(store=store, timing=TIMING, clock=clock)
        deliverer = Deliverer(
            held=held, notifier=notifier, einstein=einstein, timing=TIMING, clock=clock
        )
        yield Harness(sim, store, slack, notifier, clock, held, deliverer, einstein)
        for task in deliverer.stop():
            task.cancel()
    await slack.stop()
    await sim.stop()


async def test_every_milestone_seen_is_posted_in_order_and_recorded(harness: Harness) -> None:
    """A job seen queued, now running: card, then QUEUED, then RUNNING, each one stored."""
    record = await harness.add(status=JobStatus.RUNNING, reached=frozenset({JobStatus.QUEUED}))
    await harness.deliverer.settle()
    assert harness.states() == ["CARD", "QUEUED", "RUNNING"]
    stored = await harness.store.get(record.id)
    assert stored is not None
    assert stored.parent_ts == harness.slack.messages(CHANNEL)[0].ts
    assert {"QUEUED", "RUNNING"} <= stored.reported


async def test_a_lease_too_close_to_its_end_posts_nothing(harness: Harness) -> None:
    """Past the lease's safety margin (a paused process), the deliverer makes no post."""
    await harness.add(status=JobStatus.QUEUED)
    harness.clock.now += TIMING.lease_seconds - 1.0  # before its worker's first turn
    await harness.deliverer.settle()
    assert harness.slack.calls_to("chat.postMessage") == []


async def test_card_edits_are_coalesced_to_the_latest_state(harness: Harness) -> None:
    """Three changes before the card's turn: one edit, showing the last; its reply once."""
    record = await harness.add(status=JobStatus.RUNNING)
    await harness.deliverer.settle()
    assert harness.states() == ["CARD", "RUNNING"]
    for progress in (0.3, 0.6):
        record.job = record.job.with_changes(progress=progress)
        harness.deliverer.changed(record)
    record.job = record.job.with_changes(
        status=JobStatus.FAILED, failure_msg="not enough examples", finished_at=utcnow()
    )
    harness.deliverer.changed(record)
    await harness.deliverer.settle()
    [update] = harness.slack.calls_to("chat.update")
    assert "Failed" in str(update.args)
    assert harness.states() == ["CARD", "RUNNING", "FAILED"]


async def test_an_owed_attachment_is_delivered_by_the_next_process(harness: Harness) -> None:
    """Crashed after the failure reply, before its attachment: the store still lists the job
    as pending, and the next process attaches the whole message once."""
    message = "x" * (FAILURE_INLINE_LIMIT + 500)
    record = await harness.add(status=JobStatus.RUNNING)
    await harness.deliverer.settle()
    failed = record.job.with_changes(
        status=JobStatus.FAILED,
        failure_msg=message,
        finished_at=utcnow(),
        reported=record.job.reported | {JobStatus.FAILED},
    )
    assert pending(failed)
    await harness.store.save(failed)
    await harness.store.release([failed.id])
    held, deliverer = harness.restarted()
    [resumed] = await held.claim(limit=10)
    assert resumed.id == failed.id
    deliverer.changed(resumed)
    await deliverer.settle()
    [upload] = harness.slack.files
    assert upload.length == len(message)
    stored = await harness.store.get(failed.id)
    assert stored is not None
    assert FAILURE_TEXT in stored.reported
    assert not pending(stored)
    assert await harness.store.claim(limit=10, lease_seconds=30) == []


async def test_drawing_pictures_does_not_hold_the_channel(harness: Harness) -> None:
    """While one job's pictures are drawn (its data slow to come), the next job in the same
    channel gets its final reply; the pictures follow in their own thread once drawn."""
    slow = await harness.add(status=JobStatus.RUNNING)
    other = await harness.add(status=JobStatus.RUNNING)
    await harness.deliverer.settle()
    harness.sim.add_model(slow.job.model_id)
    harness.sim.fail_next(
        "getTrainedModelLearningCurve", status=None, delay=1.0, model_id=slow.job.model_id
    )
    slow.job = slow.job.with_changes(
        status=JobStatus.SUCCEEDED, progress=1.0, finished_at=utcnow(), result=Result()
    )
    harness.deliverer.changed(slow)
    other.job = other.job.with_changes(
        status=JobStatus.FAILED, failure_msg="not enough examples", finished_at=utcnow()
    )
    harness.deliverer.changed(other)
    await harness.deliverer.settle()
    assert harness.states().count("FAILED") == 1, "the other job's reply did not wait"
    assert harness.slack.files == [], "the pictures are still being drawn"
    await harness.slack.wait_for(
        lambda: harness.slack.files, timeout=10, what="the slow job's pictures"
    )
    await harness.deliverer.settle()
    stored = await harness.store.get(slow.id)
    assert stored is not None
    assert "PICTURES" in stored.reported
