"""An instance paused past its lease (SIGSTOP) wakes up (SIGCONT) after another took its jobs.

The woken process still believes it follows those jobs: it has replies queued, a card edit
pending, a retrain about to be sent. None of it may go out. Two real processes on one database;
they use different Slack tokens, so the fake Slack tells their calls apart.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections.abc import Awaitable, Callable
from pathlib import Path

import pytest
import sqlalchemy as sa

from bot.fakes.einstein.simulator import EinsteinSimulator
from bot.fakes.loopback import model_ids
from bot.fakes.slack import FakeSlack
from bot.store.jobs import SqlJobStore
from bot.store.schema import jobs_table
from tests.conftest import ACCOUNT
from tests.processes import BotProcess, bot_env
from tests.test_instances import assert_exactly_once, database, wait_finished, world

PAUSED_TOKEN, OTHER_TOKEN = "xoxb-test-paused-AAAA", "xoxb-test-other-BBBB"
# Calls that show something in Slack (an upload shows once it is completed).
SHOWING = {"chat.postMessage", "chat.update", "chat.postEphemeral", "files.completeUploadExternal"}


async def leases(url: str) -> dict[str, str | None]:
    """Who holds each job that still owes something: job id → lease owner."""
    store = SqlJobStore(url, owner="inspector")
    await store.open()
    try:
        c = jobs_table.c
        async with store.engine.connect() as conn:
            rows = (await conn.execute(sa.select(c.id, c.lease_owner).where(c.pending))).all()
    finally:
        await store.close()
    return {row.id: row.lease_owner for row in rows}


def write_locked(url: str) -> bool:
    """Whether a process holds SQLite's write lock (a paused one would block every other)."""
    connection = sqlite3.connect(url.removeprefix("sqlite:///"), timeout=0)
    try:
        connection.execute("BEGIN IMMEDIATE")
        connection.rollback()
    except sqlite3.OperationalError:
        return True
    finally:
        connection.close()
    return False


async def pause_outside_writes(bot: BotProcess, url: str) -> None:
    """SIGSTOP `bot`, at a moment it is not inside a SQLite write transaction.

    On SQLite a process paused mid-write keeps the file locked, and nobody can take anything
    over until it wakes; PostgreSQL only locks the rows, which the takeover does not need.
    """
    for _ in range(100):
        bot.pause()
        if not url.startswith("sqlite") or not write_locked(url):
            return
        bot.resume()
        await asyncio.sleep(0.01)
    raise AssertionError("the bot never left the SQLite write lock")


def shown_by(slack: FakeSlack, token: str, *, after: float = float("-inf")) -> list[str]:
    return [
        f"{c.method} {c.args.get('channel')} {c.args.get('ts') or ''}".rstrip()
        for c in slack.calls
        if c.caller == token[-4:] and c.method in SHOWING and c.time > after
    ]


@pytest.mark.parametrize("backend", ["postgresql", "sqlite"])
async def test_paused_past_lease_sends_nothing_when_woken(
    backend: str, tmp_path: Path, key_pair: tuple[str, str]
) -> None:
    """Woken after another instance took its jobs, a paused one sends nothing; jobs end once."""
    models = model_ids(6, prefix=f"PAUSE{backend[:2].upper()}")
    slow = models[-1]  # its retrain is on its way when the process is paused
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
            RETRAIN_LEASE_SECONDS="2",
        )
        # Slow posting keeps replies queued in the paused process.
        paused = BotProcess(
            env | {"SLACK_BOT_TOKEN": PAUSED_TOKEN, "SLACK_POST_INTERVAL": "0.3"},
            tmp_path / "paused.log",
        )
        other = BotProcess(env | {"SLACK_BOT_TOKEN": OTHER_TOKEN}, tmp_path / "other.log")
        try:
            await asyncio.gather(paused.start(session), other.start(session))
            for model in models[:-1]:
                await paused.command(session, model, response_url=slack.response_url())
            await slack.wait_for(
                lambda: len(shown_by(slack, PAUSED_TOKEN)) >= 3, timeout=10, what="first posts"
            )
            # The baseline look before the retrain hangs while the process is paused.
            simulator.fail_next("getTrainedModelMetrics", status=None, delay=1.0, model_id=slow)
            await paused.command(session, slow, response_url=slack.response_url())
            await slack.wait_for(
                lambda: _asked_metrics(simulator, slow), timeout=10, what="the baseline look"
            )
            await pause_outside_writes(paused, url)
            held = await leases(url)

            async def taken_over() -> bool:
                owners = await leases(url)
                return all(not (o or "").startswith(paused.owner) for o in owners.values())

            await _poll(taken_over, timeout=15, what="the other instance to take the jobs over")
            await slack.wait_for(
                lambda: _retrained(simulator, slow), timeout=10, what="the slow model's retrain"
            )
            paused.resume()
            woken_at = time.monotonic()
            await wait_finished(slack, len(models), timeout=30)
            await asyncio.sleep(1.0)  # the woken process's overdue timers have all fired
            assert paused.process is not None
            assert paused.process.poll() is None, "the woken process is still serving"
        finally:
            paused.resume()
            paused.close()
            other.close()
        assert any(owner and owner.startswith(paused.owner) for owner in held.values()), (
            "the paused process held unfinished jobs"
        )
        assert shown_by(slack, OTHER_TOKEN), "the other instance finished them"
        assert shown_by(slack, PAUSED_TOKEN, after=woken_at) == [], "nothing from the woken one"
        assert_exactly_once(slack, models, simulator)
        for log in (paused.log, other.log):
            assert "Traceback" not in log.read_text()


def _asked_metrics(simulator: EinsteinSimulator, model: str) -> bool:
    return any(r.model_id == model for r in simulator.calls("getTrainedModelMetrics"))


def _retrained(simulator: EinsteinSimulator, model: str) -> bool:
    return any(r.model_id == model for r in simulator.calls("retrain"))


async def _poll(condition: Callable[[], Awaitable[bool]], *, timeout: float, what: str) -> None:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if await condition():
            return
        await asyncio.sleep(0.05)
    raise TimeoutError(f"waited {timeout} s for {what}")
