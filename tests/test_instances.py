"""Several bot processes on one database, crashes at random points, and SIGTERM.

Every training the bot accepted ends with exactly one terminal reply, and no state is
announced twice, whatever happens to the processes.
"""

from __future__ import annotations

import asyncio
import random
from collections import Counter, defaultdict
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp
import pytest

from bot.fakes.einstein.simulator import EinsteinSimulator
from bot.fakes.loopback import model_ids
from bot.fakes.slack import FakeSlack
from bot.store.jobs import SqlJobStore
from tests.conftest import ACCOUNT, CHANNEL, postgres_database
from tests.processes import BotProcess, bot_env

TERMINAL = {"SUCCEEDED", "FAILED", "KILLED", "FAILED_WITH_RETRIES", "LOST", "CANCELLED"}


@asynccontextmanager
async def database(kind: str, tmp_path: Path) -> AsyncIterator[str]:
    if kind == "sqlite":
        yield f"sqlite:///{tmp_path / 'jobs.sqlite3'}"
        return
    async with postgres_database() as url:
        yield url


@asynccontextmanager
async def world(
    key_pair: tuple[str, str], models: list[str]
) -> AsyncIterator[tuple[EinsteinSimulator, FakeSlack, aiohttp.ClientSession]]:
    """Einstein and Slack stand-ins; trainings take a few seconds of wall time."""
    simulator = EinsteinSimulator(time_scale=60.0, queue_seconds=30.0, run_seconds=150.0)
    simulator.add_account(ACCOUNT, key_pair[1])
    for n, model in enumerate(models):
        simulator.add_model(model)
        if n % 4 == 3:
            simulator.script(model, outcome="FAILED", failure_msg="not enough examples")
    await simulator.start()
    slack = FakeSlack()
    await slack.start()
    try:
        async with aiohttp.ClientSession() as session:
            yield simulator, slack, session
    finally:
        await slack.stop()
        await simulator.stop()


def thread_states(slack: FakeSlack) -> dict[str, Counter[str]]:
    """Per job: how many posts announced each state (the card counts as CARD)."""
    states: dict[str, Counter[str]] = defaultdict(Counter)
    for message in slack.messages(CHANNEL):
        metadata = message.versions[0].metadata
        if metadata is not None:
            payload = metadata.event_payload
            states[payload["job_id"]][payload["state"]] += 1
    return states


def finished(slack: FakeSlack, count: int) -> bool:
    states = thread_states(slack)
    return len(states) == count and all(sum(c[s] for s in TERMINAL) for c in states.values())


def assert_exactly_once(slack: FakeSlack, models: list[str], simulator: EinsteinSimulator) -> None:
    states = thread_states(slack)
    assert len(states) == len(models), "one job, one card per command"
    for job_id, counts in states.items():
        assert counts["CARD"] == 1, (job_id, counts)
        assert sum(counts[s] for s in TERMINAL) == 1, (job_id, counts)
        assert all(n == 1 for n in counts.values()), (job_id, counts)
    retrains = Counter(call.form["modelId"] for call in simulator.calls("retrain") if call.form)
    assert retrains == Counter(models), "each model retrained exactly once"


async def wait_finished(slack: FakeSlack, count: int, *, timeout: float) -> None:
    await slack.wait_for(
        lambda: finished(slack, count), timeout=timeout, what=f"{count} finished threads"
    )
    await asyncio.sleep(0.5)  # room for a duplicate to show up, if there were one


@pytest.mark.parametrize("instances", [2, 3])
async def test_instances_share_postgres_and_take_over(
    instances: int, tmp_path: Path, key_pair: tuple[str, str]
) -> None:
    """N instances on one PostgreSQL database; one is killed mid-run; the others finish its
    jobs; no message is duplicated."""
    models = model_ids(4 * instances, prefix=f"INST{instances}")
    async with postgres_database() as url, world(key_pair, models) as (simulator, slack, session):
        env = bot_env(
            slack_url=slack.api_url,
            einstein_url=simulator.base_url,
            database_url=url,
            account=ACCOUNT,
            private_key=key_pair[0],
            RETRAIN_LEASE_SECONDS="2",
        )
        bots = [BotProcess(env, tmp_path / f"bot{i}.log") for i in range(instances)]
        try:
            await asyncio.gather(*(b.start(session) for b in bots))
            for n, model in enumerate(models):
                answer = await bots[n % instances].command(
                    session, model, response_url=slack.response_url()
                )
                assert answer.status == 200
            await asyncio.sleep(1.0)
            bots[0].kill()
            await wait_finished(slack, len(models), timeout=40)
        finally:
            for bot in bots:
                bot.close()
        assert_exactly_once(slack, models, simulator)


@pytest.mark.parametrize("backend", ["sqlite", "postgresql"])
async def test_sigkill_at_random_points(
    backend: str, tmp_path: Path, key_pair: tuple[str, str]
) -> None:
    """Killed three times at random moments (submitting, polling, posting), restarted each
    time: every job ends with exactly one terminal reply and no repeated state reply."""
    rng = random.Random(f"crash-{backend}")
    models = model_ids(8, prefix=f"CRASH{backend[:2].upper()}")
    async with (
        database(backend, tmp_path) as url,
        world(key_pair, models) as (simulator, slack, session),
    ):
        env = bot_env(
            slack_url=slack.api_url,
            einstein_url=simulator.base_url,
            database_url=url,
            account=ACCOUNT,
            private_key=key_pair[0],
            RETRAIN_LEASE_SECONDS="1",
        )
        bot = BotProcess(env, tmp_path / "bot.log")
        try:
            await bot.start(session)
            for model in models:
                await bot.command(session, model, response_url=slack.response_url())
            for _ in range(3):
                await asyncio.sleep(rng.uniform(0.05, 1.2))
                bot.kill()
                await bot.start(session)
            await wait_finished(slack, len(models), timeout=40)
        finally:
            bot.close()
        assert_exactly_once(slack, models, simulator)
        assert "Traceback" not in bot.log.read_text()


async def test_sigterm_exits_fast_and_leaves_jobs_resumable(
    tmp_path: Path, key_pair: tuple[str, str]
) -> None:
    """SIGTERM: the process exits well within Heroku's 30 s, gives its leases back, and the
    next process finishes the jobs at once rather than after the lease would have run out."""
    models = model_ids(4, prefix="TERM")
    async with postgres_database() as url, world(key_pair, models) as (simulator, slack, session):
        env = bot_env(
            slack_url=slack.api_url,
            einstein_url=simulator.base_url,
            database_url=url,
            account=ACCOUNT,
            private_key=key_pair[0],
            RETRAIN_LEASE_SECONDS="60",
        )
        first = BotProcess(env, tmp_path / "first.log")
        second = BotProcess(env, tmp_path / "second.log")
        try:
            await first.start(session)
            for model in models:
                await first.command(session, model, response_url=slack.response_url())
            await slack.wait_for(lambda: len(thread_states(slack)) == len(models), timeout=10)
            assert first.terminate() < 10
            store = SqlJobStore(url, owner="inspector")
            await store.open()
            try:
                unfinished = await store.unfinished()
                assert unfinished, "jobs are still unfinished after the stop"
                assert await store.claim(limit=100, lease_seconds=0.001), "leases were released"
            finally:
                await store.close()
            await second.start(session)
            await wait_finished(slack, len(models), timeout=20)
        finally:
            first.close()
            second.close()
        assert_exactly_once(slack, models, simulator)
        assert "Traceback" not in (tmp_path / "first.log").read_text()
