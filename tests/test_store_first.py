"""A command is stored before it is confirmed, and a database that is slow or gone is said so.

The ack waits for the access check and the insert (at most `ACK_BUDGET`): what the requester
reads is either a refusal or a promise the store already keeps.
"""

from __future__ import annotations

import asyncio
import sqlite3
import time
from collections import Counter

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from bot.core.jobs import JobStatus
from tests.conftest import CHANNEL, POSTGRES_URL, Stack
from tests.test_instances import thread_states

MODEL = "7JXCXTRXTMNLJCEF2DR5CJ46QU"
OTHER_MODEL = "OTHERAAAAAAAAAAAAAAAAAAAAA"


async def test_the_job_is_stored_when_the_confirmation_arrives(stack: Stack) -> None:
    """By the time Slack has the "Submitting" answer, the job is in the store."""
    stack.simulator.add_model(MODEL)
    stack.simulator.script(MODEL, stall=True)
    answer, _ = await stack.command(MODEL)
    assert "Submitting the retrain" in answer.body
    job = await stack.bot.store.active_for_model(MODEL)
    assert job is not None
    assert job.requester != ""
    assert job.status in {JobStatus.SUBMITTING, JobStatus.QUEUED}


async def test_a_slow_database_gets_an_honest_answer_then_the_outcome(stack: Stack) -> None:
    """An insert that outlasts the ack's budget is answered in time, then settled privately."""
    stack.simulator.add_model(MODEL)
    path = stack.database_url.removeprefix("sqlite:///")
    blocker = sqlite3.connect(path, isolation_level=None)
    blocker.execute("BEGIN EXCLUSIVE")  # every writer now waits, up to SQLite's busy timeout
    try:
        started = time.monotonic()
        answer, url = await stack.command(MODEL)
        took = time.monotonic() - started
        assert answer.status == 200
        assert took < 3.0, "Slack's window"
        assert "not recorded yet" in answer.body
        assert stack.simulator.calls("retrain") == [], "nothing goes to Einstein unrecorded"
    finally:
        blocker.execute("ROLLBACK")
        blocker.close()
    later = await stack.wait_private(url, timeout=10)
    assert "recorded after all" in later
    [job] = await stack.wait_final()
    assert job.status == JobStatus.SUCCEEDED
    assert len(stack.simulator.calls("retrain")) == 1


async def _admin(sql: str, **params: str) -> None:
    admin = create_async_engine(
        POSTGRES_URL.replace("postgresql://", "postgresql+asyncpg://"), isolation_level="AUTOCOMMIT"
    )
    try:
        async with admin.connect() as conn:
            await conn.execute(sa.text(sql), params)
    finally:
        await admin.dispose()


async def _refuse_connections(name: str, *, refuse: bool) -> None:
    await _admin(f'ALTER DATABASE "{name}" WITH ALLOW_CONNECTIONS {"false" if refuse else "true"}')
    if refuse:
        await _admin(
            "SELECT pg_terminate_backend(pid) FROM pg_stat_activity "
            "WHERE datname = :name AND pid <> pg_backend_pid()",
            name=name,
        )


@pytest.mark.database("postgresql")
async def test_database_gone_refuses_new_commands_and_followed_jobs_carry_on(
    stack: Stack,
) -> None:
    """PostgreSQL refusing connections: a new command is refused in time, in plain words; the
    followed training still ends with one reply per state once the database is back."""
    stack.simulator.add_model(MODEL)
    stack.simulator.add_model(OTHER_MODEL)
    stack.simulator.script(MODEL, run_seconds=1200.0)  # about 4 s of wall time
    await stack.command(MODEL)
    await stack.slack.wait_for(
        lambda: "RUNNING" in Counter(s for c in thread_states(stack.slack).values() for s in c),
        timeout=10,
        what="the RUNNING reply",
    )
    name = stack.database_url.rsplit("/", 1)[1]
    await _refuse_connections(name, refuse=True)
    try:
        started = time.monotonic()
        answer, _ = await stack.command(OTHER_MODEL)
        assert time.monotonic() - started < 3.0, "Slack's window"
        assert answer.status == 200
        assert "not started" in answer.body
        assert "database is not answering" in answer.body
        assert "Traceback" not in answer.body
        await asyncio.sleep(1.0)  # polls keep coming; their writes wait for the database
    finally:
        await _refuse_connections(name, refuse=False)
    [job] = await stack.wait_final(timeout=20)
    assert job.status == JobStatus.SUCCEEDED
    [counts] = thread_states(stack.slack).values()
    assert counts == Counter({"CARD": 1, "QUEUED": 1, "RUNNING": 1, "SUCCEEDED": 1})
    assert [c.form["modelId"] for c in stack.simulator.calls("retrain") if c.form] == [MODEL]
    again, _ = await stack.command(OTHER_MODEL)
    assert "Submitting the retrain" in again.body
    finished = await stack.wait_final(count=2, timeout=20)
    assert {j.model_id: j.status for j in finished} == {
        MODEL: JobStatus.SUCCEEDED,
        OTHER_MODEL: JobStatus.SUCCEEDED,
    }
    assert len(stack.cards(CHANNEL)) == 2
