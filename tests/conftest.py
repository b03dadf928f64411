"""Shared fixtures: stores on both backends, the simulator, the fake Slack and a served bot."""

from __future__ import annotations

import asyncio
import os
import sys
import tempfile
import uuid
from collections.abc import AsyncIterator
from contextlib import AsyncExitStack, asynccontextmanager
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

import aiohttp
import pytest
import sqlalchemy as sa
from sqlalchemy.ext.asyncio import create_async_engine

from bot.app import Bot, create_bot
from bot.core.jobs import Job
from bot.core.owed import due_replies
from bot.fakes.einstein.simulator import EinsteinSimulator
from bot.fakes.keys import generate_key_pair
from bot.fakes.slack import FakeSlack, OAuthApp, SentRequest, send_slash_command
from bot.fakes.slack import Message as SlackMessage
from bot.server import start_http
from bot.settings import Settings
from bot.store.jobs import SqlJobStore
from tests.postgres import DEFAULT_URL, Provided, provide_postgres

POSTGRES_URL = os.environ.get("TEST_POSTGRES_URL", DEFAULT_URL)
_provided: Provided | None = None


@pytest.hookimpl(tryfirst=True)  # before pytest-xdist decides whether to spread the run
def pytest_configure(config: pytest.Config) -> None:
    """Find the PostgreSQL server, or start a throwaway one (see tests/postgres.py)."""
    global POSTGRES_URL, _provided  # one server per run, chosen once here
    _provided = provide_postgres(POSTGRES_URL)
    if not _provided.url and _spreads_over_workers(config):
        # A worker cannot stop the run with one line (pytest_collection_modifyitems): with
        # no server, the run stays in this process, as xdist itself does for --pdb.
        config.option.dist, config.option.tx = "no", []
    if _provided.url:
        POSTGRES_URL = _provided.url
        # Test modules, and xdist's workers, read it here: one server for the whole run.
        os.environ["TEST_POSTGRES_URL"] = POSTGRES_URL


def pytest_sessionstart(session: pytest.Session) -> None:
    """Say which server the run uses when it is not the one asked for."""
    if _provided is not None and _provided.note and _provided.url:
        reporter = session.config.pluginmanager.get_plugin("terminalreporter")
        if reporter is not None:
            reporter.write_line(f"PostgreSQL: {_provided.note}")


def _spreads_over_workers(config: pytest.Config) -> bool:
    """Whether this is the controller of a run that pytest-xdist spreads over processes."""
    return getattr(config.option, "dist", "no") != "no" and not hasattr(config, "workerinput")


def pytest_collection_modifyitems(config: pytest.Config, items: list[pytest.Item]) -> None:
    """Without a server, a run holding PostgreSQL tests stops here with one line."""
    if _provided is not None and not _provided.url and any(map(_needs_postgres, items)):
        pytest.exit(f"PostgreSQL tests: {_provided.note}", returncode=4)


def pytest_unconfigure(config: pytest.Config) -> None:
    if _provided is not None:
        _provided.close()


def _needs_postgres(item: pytest.Item) -> bool:
    callspec = getattr(item, "callspec", None)
    if callspec is not None and "postgresql" in callspec.params.values():
        return True
    marker = item.get_closest_marker("database")
    if marker is not None and marker.args == ("postgresql",):
        return True
    module = getattr(item, "module", None)
    return any(hasattr(module, name) for name in ("postgres_database", "POSTGRES_URL"))


@pytest.fixture
def sqlite_url(tmp_path: Path) -> str:
    return f"sqlite:///{tmp_path / 'jobs.sqlite3'}"


@asynccontextmanager
async def postgres_database() -> AsyncIterator[str]:
    """A fresh database on the real PostgreSQL server (its URL), dropped afterwards."""
    name = f"retrain_test_{uuid.uuid4().hex[:12]}"
    admin = create_async_engine(
        POSTGRES_URL.replace("postgresql://", "postgresql+asyncpg://"), isolation_level="AUTOCOMMIT"
    )
    async with admin.connect() as conn:
        await conn.execute(sa.text(f'CREATE DATABASE "{name}"'))
    try:
        yield POSTGRES_URL.rsplit("/", 1)[0] + f"/{name}"
    finally:
        async with admin.connect() as conn:
            await conn.execute(sa.text(f'DROP DATABASE IF EXISTS "{name}" WITH (FORCE)'))
        await admin.dispose()


@pytest.fixture(params=["sqlite", "postgresql"])
async def database_url(request: pytest.FixtureRequest, sqlite_url: str) -> AsyncIterator[str]:
    """Each store test runs once on SQLite and once on PostgreSQL."""
    if request.param == "sqlite":
        yield sqlite_url
        return
    async with postgres_database() as url:
        yield url


@pytest.fixture
async def store(database_url: str) -> AsyncIterator[SqlJobStore]:
    store = SqlJobStore(database_url)
    await store.open()
    try:
        yield store
    finally:
        await store.close()


# -- the served bot between the Einstein simulator and the fake Slack ------------------------

SIGNING_SECRET = "test-signing-secret-0123456789abcdef"
# `@pytest.mark.oauth(**OAuthApp fields)`: the served bot is installable with OAuth instead.
OAUTH_APP = OAuthApp(client_id="1111.2222", client_secret="test-client-secret")
ACCOUNT = "bot@example.com"
CHANNEL = "C0001"
USER = "U0REQUEST1"


@dataclass
class Stack:
    """A real bot served on a loopback port, with its real peers on loopback ports."""

    simulator: EinsteinSimulator
    slack: FakeSlack
    bot: Bot
    url: str
    session: aiohttp.ClientSession
    usergroups: dict[str, list[str]] = field(default_factory=dict)  # the fake's, mutable
    database_url: str = ""

    async def command(
        self, text: str, *, user: str = USER, channel: str = CHANNEL, **extra: Any
    ) -> tuple[SentRequest, str]:
        """Send a signed /retrain like Slack; returns the answer and the response_url used."""
        response_url = self.slack.response_url(team_id=extra.get("team_id"))
        answer = await send_slash_command(
            self.session,
            self.url,
            signing_secret=SIGNING_SECRET,
            text=text,
            user_id=user,
            channel_id=channel,
            response_url=response_url,
            **extra,
        )
        return answer, response_url

    def private(self, response_url: str) -> list[str]:
        return [post.text or "" for post in self.slack.responses.get(response_url, [])]

    async def wait_private(self, response_url: str, *, timeout: float = 5.0) -> str:
        posts = await self.slack.wait_for(
            lambda: self.private(response_url), timeout=timeout, what="a private answer"
        )
        return posts[-1]

    def cards(self, channel: str = CHANNEL) -> list[SlackMessage]:
        return [m for m in self.slack.messages(channel) if m.thread_ts is None]

    def replies(self, channel: str = CHANNEL) -> list[SlackMessage]:
        return [m for m in self.slack.messages(channel) if m.thread_ts is not None]

    async def wait_final(self, *, count: int = 1, timeout: float = 15.0) -> list[Job]:
        async def done() -> list[Job]:
            jobs = await self.bot.store.recent(limit=100)
            final = [j for j in jobs if j.is_final and not due_replies(j)]
            return final if len(final) >= count else []

        deadline = asyncio.get_running_loop().time() + timeout
        while asyncio.get_running_loop().time() < deadline:
            jobs = await done()
            if jobs:
                return jobs
            await asyncio.sleep(0.02)
        raise TimeoutError(f"fewer than {count} job(s) finished in {timeout} s")


# A test still running after this long dumps the stack of every asyncio task: a hang on an
# await shows where it waits, which the thread dump of faulthandler cannot show.
HANG_REPORT_AFTER = 60.0


@pytest.fixture(autouse=True)
async def _report_hangs(request: pytest.FixtureRequest) -> AsyncIterator[None]:
    def report() -> None:
        # Output is captured while a test runs, and lost if the run is killed: a file stays.
        path = Path(tempfile.gettempdir()) / f"retrain-tests-hang-{os.getpid()}.txt"
        with path.open("a", encoding="utf-8") as out:
            print(f"--- {request.node.nodeid} still running after", HANG_REPORT_AFTER, file=out)
            for task in asyncio.all_tasks():
                task.print_stack(limit=15, file=out)
        print(f"\n{request.node.nodeid} still running; asyncio tasks in {path}", file=sys.stderr)

    handle = asyncio.get_running_loop().call_later(HANG_REPORT_AFTER, report)
    try:
        yield
    finally:
        handle.cancel()


@pytest.fixture(scope="session")
def key_pair() -> tuple[str, str]:
    return generate_key_pair()


@pytest.fixture
def simulator() -> EinsteinSimulator:
    """Trainings of 30+150 simulated seconds take under a second at this scale."""
    return EinsteinSimulator(time_scale=300.0, queue_seconds=30.0, run_seconds=150.0)


@pytest.fixture
async def stack(
    request: pytest.FixtureRequest,
    simulator: EinsteinSimulator,
    key_pair: tuple[str, str],
    sqlite_url: str,
) -> AsyncIterator[Stack]:
    """The served bot; `@pytest.mark.timing(stall_after=...)` shrinks the follower's timing."""
    private_pem, public_pem = key_pair
    simulator.add_account(ACCOUNT, public_pem)
    database = request.node.get_closest_marker("database")
    async with AsyncExitStack() as resources:
        database_url = (
            await resources.enter_async_context(postgres_database())
            if database and database.args == ("postgresql",)
            else sqlite_url
        )
        async for served in _served(request, simulator, private_pem, database_url):
            yield served


async def _served(
    request: pytest.FixtureRequest,
    simulator: EinsteinSimulator,
    private_pem: str,
    database_url: str,
) -> AsyncIterator[Stack]:
    einstein_url = await simulator.start()
    usergroups: dict[str, list[str]] = {}
    fake = request.node.get_closest_marker("slack")
    slack = FakeSlack(usergroups=usergroups, **(fake.kwargs if fake else {}))
    await slack.start()
    configured = request.node.get_closest_marker("settings")
    defaults: dict[str, Any] = {
        "slack_post_interval": 0.01,
        "retrain_poll_interval": 0.05,
    }
    oauth = request.node.get_closest_marker("oauth")
    slack_credentials: dict[str, Any] = (
        {
            "slack_client_id": OAUTH_APP.client_id,
            "slack_client_secret": OAUTH_APP.client_secret,
            "slack_state_secret": "test-state-secret-0123456789",
        }
        if oauth
        else {"slack_bot_token": "xoxb-test-token"}
    )
    settings = Settings(
        **(defaults | (configured.kwargs if configured else {})),
        **slack_credentials,
        slack_signing_secret=SIGNING_SECRET,
        slack_api_url=slack.api_url,
        einstein_api_url=einstein_url,
        einstein_account_id=ACCOUNT,
        einstein_private_key=private_pem,
        database_url=database_url,
        _env_file=None,
    )
    marker = request.node.get_closest_marker("timing")
    timing = {"claim_interval": 0.05, "card_interval": 0.5} | (marker.kwargs if marker else {})
    bot = create_bot(settings, **timing)
    await bot.start()
    runner = await start_http(bot, host="127.0.0.1", port=0)
    port = runner.addresses[0][1]
    if oauth:
        root = f"http://127.0.0.1:{port}"
        slack.set_oauth(
            replace(OAUTH_APP, redirect_uri=f"{root}/slack/oauth_redirect", **oauth.kwargs)
        )
        slack.set_events_url(f"{root}/slack/events", signing_secret=SIGNING_SECRET)
    async with aiohttp.ClientSession() as session:
        yield Stack(
            usergroups=usergroups,
            simulator=simulator,
            slack=slack,
            bot=bot,
            url=f"http://127.0.0.1:{port}/slack/events",
            session=session,
            database_url=database_url,
        )
    await runner.cleanup()
    await bot.stop()
    await slack.stop()
    await simulator.stop()
