"""A real bot process killed mid-training and started again finishes the thread exactly once."""

from __future__ import annotations

import asyncio
import contextlib
import sqlite3
from collections import Counter
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from pathlib import Path

import aiohttp

from bot.fakes.einstein.simulator import EinsteinSimulator
from bot.fakes.slack import FakeSlack
from tests.conftest import ACCOUNT, CHANNEL, SIGNING_SECRET
from tests.processes import BotProcess, bot_env

MODEL = "7JXCXTRXTMNLJCEF2DR5CJ46QU"


@asynccontextmanager
async def peers(key_pair: tuple[str, str]) -> AsyncIterator[tuple[EinsteinSimulator, FakeSlack]]:
    simulator = EinsteinSimulator(time_scale=50.0, queue_seconds=30.0, run_seconds=150.0)
    simulator.add_account(ACCOUNT, key_pair[1])
    simulator.add_model(MODEL)
    await simulator.start()
    slack = FakeSlack()
    await slack.start()
    try:
        yield simulator, slack
    finally:
        await slack.stop()
        await simulator.stop()


def _bot(
    tmp_path: Path, key_pair: tuple[str, str], simulator: EinsteinSimulator, slack: FakeSlack
) -> BotProcess:
    """A bot process (not started) on a SQLite file in `tmp_path`, polling every 50 ms."""
    env = bot_env(
        slack_url=slack.api_url,
        einstein_url=simulator.base_url,
        database_url=f"sqlite:///{tmp_path / 'jobs.sqlite3'}",
        account=ACCOUNT,
        private_key=key_pair[0],
        RETRAIN_POLL_INTERVAL="0.05",
    )
    return BotProcess(env, tmp_path / "bot.log")


async def test_sigkill_mid_training_then_restart(tmp_path: Path, key_pair: tuple[str, str]) -> None:
    """SIGKILL while RUNNING; the next process posts the terminal reply exactly once."""
    async with peers(key_pair) as (simulator, slack), aiohttp.ClientSession() as session:
        bot = _bot(tmp_path, key_pair, simulator, slack)
        try:
            await bot.start(session)
            answer = await bot.command(session, MODEL, response_url=slack.response_url())
            assert answer.status == 200
            await slack.wait_for(
                lambda: any("started" in m.text for m in slack.messages(CHANNEL)),
                timeout=10,
                what="the RUNNING reply",
            )
            bot.kill()
            replies_before = [m for m in slack.messages(CHANNEL) if m.thread_ts]
            await bot.start(session)
            await slack.wait_for(
                lambda: any("succeeded" in m.text for m in slack.messages(CHANNEL)),
                timeout=25,
                what="the SUCCEEDED reply",
            )
            await asyncio.sleep(0.3)  # room for a duplicate to show up, if there were one
        finally:
            bot.close()
        messages = slack.messages(CHANNEL)
        cards = [m for m in messages if m.thread_ts is None]
        replies = [m for m in messages if m.thread_ts is not None]
        assert len(cards) == 1
        assert "Succeeded" in cards[0].text
        kinds = Counter(
            m.versions[0].metadata.event_payload["state"] for m in replies if m.versions[0].metadata
        )
        assert kinds == Counter({"QUEUED": 1, "RUNNING": 1, "SUCCEEDED": 1}), bot.log.read_text()
        assert len(replies) > len(replies_before)
        assert len(simulator.calls("retrain")) == 1
        log = bot.log.read_text()
        assert "Traceback" not in log
        for secret in (SIGNING_SECRET, "xoxb-test-token", *key_pair[0].splitlines()[1:-1]):
            assert secret not in log, "no secret in the process's log"


async def test_sigkill_right_after_the_ack_loses_no_command(
    tmp_path: Path, key_pair: tuple[str, str]
) -> None:
    """Killed the moment it confirmed a command, the bot's next process runs that retrain."""
    async with peers(key_pair) as (simulator, slack), aiohttp.ClientSession() as session:
        bot = _bot(tmp_path, key_pair, simulator, slack)
        try:
            await bot.start(session)
            answer = await bot.command(session, MODEL, response_url=slack.response_url())
            bot.kill()
            assert "Submitting the retrain" in answer.body
            await bot.start(session)
            await slack.wait_for(
                lambda: any("succeeded" in m.text for m in slack.messages(CHANNEL)),
                timeout=30,
                what="the SUCCEEDED reply",
            )
            await asyncio.sleep(0.3)  # room for a duplicate to show up, if there were one
        finally:
            bot.close()
        cards = [m for m in slack.messages(CHANNEL) if m.thread_ts is None]
        assert len(cards) == 1
        assert "Succeeded" in cards[0].text
        assert len(simulator.calls("retrain")) == 1


async def test_refused_attempts_and_the_move_to_a_dm_survive_a_restart(
    tmp_path: Path, key_pair: tuple[str, str]
) -> None:
    """Killed after two refused posts in a DM between people, the next process tries once
    more, moves the thread to the requester's DM and posts each reply there once."""
    people, dm = "D0PEOPLE01", "D0REQUEST1"
    async with peers(key_pair) as (simulator, slack), aiohttp.ClientSession() as session:
        simulator.script(MODEL, queue_seconds=300, run_seconds=150)

        def refused() -> list[object]:
            calls = slack.calls_to("chat.postMessage")
            return [c for c in calls if c.args.get("channel") == people]

        bot = _bot(tmp_path, key_pair, simulator, slack)
        try:
            await bot.start(session)
            await bot.command(
                session,
                MODEL,
                response_url=slack.response_url(),
                channel=people,
                channel_name="directmessage",
            )
            # Killed once two refusals are recorded: a kill between a refusal and its record
            # would leave one more attempt to the next process (at most one).
            await slack.wait_for(
                lambda: _refusals(tmp_path) >= 2, timeout=20, what="two refusals recorded"
            )
            bot.kill()
            await bot.start(session)
            await slack.wait_for(
                lambda: any("succeeded" in m.text for m in slack.messages(dm)),
                timeout=40,
                what="the SUCCEEDED reply in the DM",
            )
            await asyncio.sleep(0.3)  # room for a duplicate to show up, if there were one
        finally:
            bot.close()
        assert len(refused()) == 3
        messages = slack.messages(dm)
        assert len([m for m in messages if m.thread_ts is None]) == 1
        kinds = Counter(
            m.versions[0].metadata.event_payload["state"]
            for m in messages
            if m.thread_ts and m.versions[0].metadata
        )
        # RUNNING may pass unseen while no process runs; whatever is said is said once.
        assert kinds["SUCCEEDED"] == 1
        assert set(kinds.values()) == {1}, bot.log.read_text()


def _refusals(tmp_path: Path) -> int:
    """The refused posts the bot process recorded on its (only) job, read from its database."""
    with contextlib.closing(sqlite3.connect(tmp_path / "jobs.sqlite3")) as db:
        row = db.execute("SELECT max(refusals) FROM retrain_jobs").fetchone()
    return int(row[0] or 0) if row else 0
