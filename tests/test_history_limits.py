"""Slack's 2025 history limits (one read a minute per method, 15 messages a page): the fake
enforces them on demand, and a restart reads back only what the store says may be unrecorded."""

from __future__ import annotations

import asyncio
import random
import secrets
from collections import Counter, defaultdict
from pathlib import Path

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.core import machine
from bot.core.jobs import Job, Result, utcnow
from bot.core.options import RetrainOptions
from bot.core.owed import DM_RESULT
from bot.fakes.einstein.simulator import EinsteinSimulator
from bot.fakes.loopback import model_ids
from bot.fakes.slack import FakeSlack
from bot.slack.direct import render_result
from tests.conftest import ACCOUNT, CHANNEL, USER, Stack
from tests.processes import BotProcess, bot_env
from tests.test_instances import TERMINAL, assert_exactly_once, thread_states, wait_finished

READS = ("conversations.history", "conversations.replies")


async def test_the_fake_limits_history_reads_per_method_when_asked() -> None:
    """Limited: a second read of a method within the interval is a 429 with Retry-After, the
    other method still answers, and the interval's end lets the method through again."""
    now = [0.0]
    async with FakeSlack(history_limits=True, clock=lambda: now[0]) as fake:
        client = AsyncWebClient(token="xoxb-test", base_url=fake.api_url)
        parent = await client.chat_postMessage(channel=CHANNEL, text="parent")
        await client.conversations_history(channel=CHANNEL)
        with pytest.raises(SlackApiError) as refused:
            await client.conversations_history(channel=CHANNEL)
        assert refused.value.response.status_code == 429
        assert refused.value.response.headers["Retry-After"] == "60"
        await client.conversations_replies(channel=CHANNEL, ts=parent["ts"])
        now[0] = 60.0
        await client.conversations_history(channel=CHANNEL)


async def test_the_fake_cuts_a_limited_page_to_15_messages() -> None:
    """Limited, a page holds at most 15 messages whatever `limit` asks; unlimited, it does not."""
    for limited, expected in ((True, 15), (False, 20)):
        async with FakeSlack(history_limits=limited) as fake:
            client = AsyncWebClient(token="xoxb-test", base_url=fake.api_url)
            for n in range(20):
                await client.chat_postMessage(channel=CHANNEL, text=f"message {n}")
            page = await client.conversations_history(channel=CHANNEL, limit=100)
            assert len(page["messages"]) == expected


async def test_the_fake_leaves_history_unlimited_by_default() -> None:
    """Without the option, reads follow each other freely."""
    async with FakeSlack() as fake:
        client = AsyncWebClient(token="xoxb-test", base_url=fake.api_url)
        for _ in range(3):
            await client.conversations_history(channel=CHANNEL)


async def _in_flight(stack: Stack, model: str) -> Job:
    """A job a dead process left: its retrain sent, Einstein training, nothing recorded yet."""
    stack.simulator.add_model(model)
    job = Job(
        id=secrets.token_hex(8),
        model_id=model,
        options=RetrainOptions(),
        requester=USER,
        channel=CHANNEL,
        origin_channel=CHANNEL,
        created_at=utcnow(),
    )
    training = await stack.bot.einstein.retrain(model, job.options)
    return machine.observe(job, training, now=utcnow())


def _dm_results(stack: Stack, dm: str) -> Counter[str]:
    """Per job: how many result DMs its requester got."""
    counts: Counter[str] = Counter()
    for message in stack.slack.messages(dm):
        metadata = message.versions[0].metadata
        if metadata is not None and metadata.event_payload["state"] == DM_RESULT:
            counts[metadata.event_payload["job_id"]] += 1
    return counts


@pytest.mark.slack(history_limits=True, history_interval=1.0)
async def test_a_restart_under_the_history_limits_tells_everything_once(stack: Stack) -> None:
    """Six jobs taken over at once from a dead process, Slack allowing one read per second and
    method: only the threads with possibly unrecorded posts are read, in pages of 15, and
    every card, reply and result DM is there exactly once."""
    _, url = await stack.command("notify dm")
    await stack.wait_private(url)
    notifier = stack.bot.notifier
    recorded, recorded_too, reply_lost, card_lost, nothing, dm_lost = [
        await _in_flight(stack, model) for model in model_ids(6, prefix="LIMITS")
    ]
    jobs: list[Job] = []
    for job in (recorded, recorded_too):
        job = machine.card_posted(job, ts=await notifier.post_card(job))
        await notifier.post_reply(job, "QUEUED")
        jobs.append(machine.posted(job, "QUEUED"))  # all said and all recorded
    job = machine.card_posted(reply_lost, ts=await notifier.post_card(reply_lost))
    await notifier.post_reply(job, "QUEUED")
    jobs.append(job)  # the reply's record was lost
    await notifier.post_card(card_lost)
    jobs.append(card_lost)  # the card's ts was lost
    jobs.append(nothing)  # nothing posted: the card is owed
    job = machine.card_posted(dm_lost, ts=await notifier.post_card(dm_lost))
    await notifier.post_reply(job, "QUEUED")
    training = await stack.bot.einstein.training_status(job.model_id)
    succeeded = training.model_copy(update={"status": "SUCCEEDED"})
    job = machine.with_result(
        machine.observe(job, succeeded, now=utcnow()), Result(test_accuracy=0.9)
    )
    job = machine.posted(job, "QUEUED", "RUNNING", "SUCCEEDED", "PICTURES")
    await notifier.post_reply(job, "RUNNING")
    await notifier.post_reply(job, "SUCCEEDED")
    dm = await notifier.direct.open(USER)
    await notifier.direct.post(dm, render_result(job, link=None), job=job, state=DM_RESULT)
    jobs.append(job)  # the result DM's record was lost
    reads_before = len([c for c in stack.slack.calls if c.method in READS])
    for job in jobs:
        await stack.bot.store.add(job, lease_seconds=30)
    await stack.bot.store.release([job.id for job in jobs])  # the process that held them died

    def told() -> bool:
        states = thread_states(stack.slack)
        ended = all(sum(states[j.id][s] for s in TERMINAL) for j in jobs)
        return ended and len(_dm_results(stack, dm)) == len(jobs)

    await stack.slack.wait_for(told, timeout=30, what="every thread and DM told")
    await stack.slack.wait_for(
        lambda: stack.bot.follower.running == 0, timeout=10, what="every job let go"
    )
    states = thread_states(stack.slack)
    for job in jobs:
        assert states[job.id]["CARD"] == 1, states[job.id]
        assert set(states[job.id].values()) == {1}, states[job.id]
    assert _dm_results(stack, dm) == Counter({job.id: 1 for job in jobs})
    reads = [c for c in stack.slack.calls if c.method in READS][reads_before:]
    answered: dict[str, list[object]] = defaultdict(list)
    for call in reads:
        assert int(call.args["limit"]) <= 15
        if call.ok:
            answered[call.method].append(call.args["channel"])
    # The card found (card_lost) has its thread read; reply_lost's thread is read.
    assert len(answered["conversations.replies"]) == 2
    # card_lost's and nothing's channel history, and dm_lost's DM.
    assert sorted(answered["conversations.history"]) == sorted([CHANNEL, CHANNEL, dm])
    assert any(call.status == 429 for call in reads), "the limit was met"


async def test_sigkill_at_random_points_under_the_history_limits(
    tmp_path: Path, key_pair: tuple[str, str]
) -> None:
    """A real bot process killed twice at random moments over five jobs, Slack allowing one
    history read per second and method: every thread still tells each state exactly once."""
    rng = random.Random("history-limits")
    models = model_ids(5, prefix="HLIMIT")
    simulator = EinsteinSimulator(time_scale=60.0, queue_seconds=30.0, run_seconds=150.0)
    simulator.add_account(ACCOUNT, key_pair[1])
    for model in models:
        simulator.add_model(model)
    await simulator.start()
    # Posts at Slack's pace keep replies owed for a while, so a kill leaves threads to read.
    slack = FakeSlack(
        history_limits=True, history_interval=1.0, post_rate_per_channel=10.0, post_burst=1
    )
    await slack.start()
    env = bot_env(
        slack_url=slack.api_url,
        einstein_url=simulator.base_url,
        database_url=f"sqlite:///{tmp_path / 'jobs.sqlite3'}",
        account=ACCOUNT,
        private_key=key_pair[0],
        RETRAIN_LEASE_SECONDS="1",
    )
    bot = BotProcess(env, tmp_path / "bot.log")
    try:
        async with aiohttp.ClientSession() as session:
            await bot.start(session)
            for model in models:
                await bot.command(session, model, response_url=slack.response_url())
            for _ in range(2):
                await asyncio.sleep(rng.uniform(0.1, 1.5))
                bot.kill()
                await bot.start(session)
            await wait_finished(slack, len(models), timeout=60)
    finally:
        bot.close()
        await slack.stop()
        await simulator.stop()
    assert_exactly_once(slack, models, simulator)
    reads = [c for c in slack.calls if c.method in READS]
    assert all(int(c.args["limit"]) <= 15 for c in reads)
    assert "Traceback" not in bot.log.read_text()
