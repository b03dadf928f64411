"""Resuming after a crash between a Slack post and the store write posts nothing twice."""

from __future__ import annotations

import secrets
from collections import Counter

from bot.core.jobs import Job, utcnow
from bot.core.machine import observe
from bot.core.options import RetrainOptions
from tests.conftest import CHANNEL, USER, Stack

MODEL = "7JXCXTRXTMNLJCEF2DR5CJ46QU"


async def _job_in_flight(stack: Stack) -> Job:
    """A job as a dead process left it: Einstein training, stored, nothing posted yet."""
    stack.simulator.add_model(MODEL)
    job = Job(
        id=secrets.token_hex(8),
        model_id=MODEL,
        options=RetrainOptions(),
        requester=USER,
        channel=CHANNEL,
        origin_channel=CHANNEL,
        created_at=utcnow(),
    )
    training = await stack.bot.einstein.retrain(MODEL, job.options)
    job = observe(job, training, now=utcnow())
    await stack.bot.store.add(job, lease_seconds=30)
    return job


async def _die(stack: Stack, job: Job) -> None:
    """The process that held the job is gone: its lease is free for the next claim."""
    await stack.bot.store.release([job.id])


def _states(stack: Stack) -> Counter[str]:
    return Counter(
        m.versions[0].metadata.event_payload["state"]
        for m in stack.slack.messages(CHANNEL)
        if m.versions[0].metadata
    )


async def test_reply_posted_but_not_recorded(stack: Stack) -> None:
    """A reply already in the thread (seen by its metadata) is not posted again on resume."""
    job = await _job_in_flight(stack)
    ts = await stack.bot.notifier.post_card(job)
    job = job.with_changes(parent_ts=ts)
    await stack.bot.notifier.post_reply(job, "QUEUED")  # the process died before recording it
    await stack.bot.store.save(job)
    await _die(stack, job)
    await stack.wait_final()
    assert _states(stack) == Counter({"CARD": 1, "QUEUED": 1, "RUNNING": 1, "SUCCEEDED": 1})


async def test_card_posted_but_not_recorded(stack: Stack) -> None:
    """A card posted by a process that died before storing its ts is adopted, not reposted."""
    job = await _job_in_flight(stack)
    await stack.bot.notifier.post_card(job)  # the ts never reached the store
    await _die(stack, job)
    [final] = await stack.wait_final()
    assert _states(stack)["CARD"] == 1
    assert final.parent_ts == stack.cards()[0].ts
    assert all(r.thread_ts == final.parent_ts for r in stack.replies())


async def test_without_history_scope_the_job_still_finishes(stack: Stack) -> None:
    """Without the history scope the bot cannot read back, says so in the log, and goes on."""
    job = await _job_in_flight(stack)
    ts = await stack.bot.notifier.post_card(job)
    await stack.bot.store.save(job.with_changes(parent_ts=ts))
    stack.slack.fail_next("conversations.replies", error="missing_scope")
    await _die(stack, job)
    [final] = await stack.wait_final()
    assert final.status == "SUCCEEDED"
    assert _states(stack)["SUCCEEDED"] == 1


async def test_slack_down_at_resume_waits_before_posting(stack: Stack) -> None:
    """A transient error reading the thread back delays posting instead of risking a repeat."""
    job = await _job_in_flight(stack)
    ts = await stack.bot.notifier.post_card(job)
    job = job.with_changes(parent_ts=ts)
    await stack.bot.notifier.post_reply(job, "QUEUED")
    await stack.bot.store.save(job)
    stack.slack.fail_next("conversations.replies", status=503, times=3)
    await _die(stack, job)
    await stack.wait_final()
    assert _states(stack)["QUEUED"] == 1
    assert len(stack.slack.calls_to("conversations.replies")) >= 4
