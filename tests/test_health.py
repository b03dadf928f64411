"""`GET /healthz`: which instance answers, the jobs it follows, whether its database does."""

from __future__ import annotations

from typing import Any

import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from bot.fakes.einstein.simulator import EinsteinSimulator
from tests.conftest import ACCOUNT, POSTGRES_URL, Stack, _served, postgres_database

MODEL = "7JXCXTRXTMNLJCEF2DR5CJ46QU"
PASSWORD = "db-secret-0123456789"  # PostgreSQL trusts the test user: any password is let in


async def health(stack: Stack) -> tuple[int, dict[str, Any], str]:
    url = stack.url.replace("/slack/events", "/healthz")
    async with stack.session.get(url) as response:
        text = await response.text()
        return response.status, await response.json(), text


async def test_a_healthy_bot_names_itself_and_its_jobs(stack: Stack) -> None:
    """200 with the store's lease owner as the instance, the jobs followed and the database ok."""
    stack.simulator.add_model(MODEL)
    stack.simulator.script(MODEL, stall=True)
    await stack.command(MODEL)
    await stack.slack.wait_for(lambda: stack.bot.follower.running == 1, what="a followed job")
    status, body, _ = await health(stack)
    assert status == 200
    assert body["instance"] == stack.bot.store.owner
    assert body["jobs_followed"] == 1
    assert body["database"] == "ok"


async def _drop(url: str) -> None:
    name = url.rsplit("/", 1)[1]
    admin = create_async_engine(
        POSTGRES_URL.replace("postgresql://", "postgresql+asyncpg://"), isolation_level="AUTOCOMMIT"
    )
    try:
        async with admin.connect() as conn:
            await conn.execute(sa.text(f'DROP DATABASE "{name}" WITH (FORCE)'))
    finally:
        await admin.dispose()


async def test_a_dropped_database_answers_503_with_a_reason_and_no_secret(
    request: pytest.FixtureRequest, simulator: EinsteinSimulator, key_pair: tuple[str, str]
) -> None:
    """The bot's PostgreSQL database dropped under it: 503, a plain reason, no URL or password."""
    simulator.add_account(ACCOUNT, key_pair[1])
    async with postgres_database() as plain_url:
        url = plain_url.replace("postgres@", f"postgres:{PASSWORD}@")
        async for stack in _served(request, simulator, key_pair[0], url):
            status, body, _ = await health(stack)
            assert status == 200
            await _drop(plain_url)
            status, body, text = await health(stack)
            assert status == 503
            assert body["database"] not in ("", "ok")
            assert body["instance"] == stack.bot.store.owner
            for secret in (PASSWORD, plain_url, plain_url.rsplit("/", 1)[1], "xoxb-test-token"):
                assert secret not in text
