"""`python -m bot doctor` as operators run it, against the fake Slack and the simulator."""

from __future__ import annotations

import asyncio
import contextlib
import os
import sqlite3
import sys
from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import pytest

from bot.fakes.einstein.simulator import EinsteinSimulator
from bot.fakes.keys import generate_key_pair
from bot.fakes.loopback import free_port
from bot.fakes.slack import DEFAULT_SCOPES, FakeSlack, OAuthApp
from bot.store.jobs import SqlJobStore
from tests.conftest import postgres_database

ROOT = Path(__file__).resolve().parents[1]
ACCOUNT = "doctor@example.com"
BOT_TOKEN = "xoxb-s3cr3t-bot-token"
SIGNING_SECRET = "s3cr3t-signing-secret"


@dataclass
class Peers:
    slack: FakeSlack
    simulator: EinsteinSimulator
    env: dict[str, str]

    async def doctor(self, **changes: str) -> tuple[int, list[str]]:
        """Run the doctor with the environment changed; its exit code and output lines."""
        env = {k: v for k, v in (self.env | changes).items() if v}
        process = await asyncio.create_subprocess_exec(
            sys.executable,
            "-m",
            "bot",
            "doctor",
            cwd=env.pop("CWD"),
            env=env,
            stdout=asyncio.subprocess.PIPE,
            stderr=asyncio.subprocess.STDOUT,
        )
        output, _ = await asyncio.wait_for(process.communicate(), timeout=60)
        text = output.decode()
        for secret in ("s3cr3t", "BEGIN", "PRIVATE KEY"):
            assert secret not in text, text
        assert "Traceback" not in text, text
        assert process.returncode is not None
        return process.returncode, text.strip().splitlines()


def line(lines: list[str], name: str) -> str:
    """The line of the check called `name`."""
    found = [text for text in lines if text[6:].startswith(f"{name} ")]
    assert len(found) == 1, lines
    return found[0]


@pytest.fixture(scope="module")
def keys() -> tuple[str, str]:
    return generate_key_pair()


@pytest.fixture
async def peers(
    request: pytest.FixtureRequest, tmp_path: Path, keys: tuple[str, str]
) -> AsyncIterator[Peers]:
    """A healthy set-up: the fake Slack with every scope, the simulator knowing the key, and
    a SQLite database with the bot's schema; `@pytest.mark.slack(...)` changes the fake."""
    private_pem, public_pem = keys
    simulator = EinsteinSimulator()
    simulator.add_account(ACCOUNT, public_pem)
    marker = request.node.get_closest_marker("slack")
    slack = FakeSlack(**(marker.kwargs if marker else {}))
    await slack.start()
    einstein_url = await simulator.start()
    database = tmp_path / "jobs.sqlite3"
    store = SqlJobStore(f"sqlite:///{database}")
    await store.open()
    await store.close()
    env = {
        "PATH": os.environ.get("PATH", ""),
        "PYTHONPATH": str(ROOT),
        "CWD": str(tmp_path),  # no .env file of the developer's is read
        "SLACK_BOT_TOKEN": BOT_TOKEN,
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack.api_url,
        "EINSTEIN_API_URL": einstein_url,
        "EINSTEIN_ACCOUNT_ID": ACCOUNT,
        "EINSTEIN_PRIVATE_KEY": private_pem.replace("\n", "\\n"),
        "DATABASE_URL": f"sqlite:///{database}",
    }
    try:
        yield Peers(slack=slack, simulator=simulator, env=env)
    finally:
        await slack.stop()
        await simulator.stop()


async def test_all_pass(peers: Peers) -> None:
    """A right set-up passes every check and exits 0."""
    code, lines = await peers.doctor()
    assert code == 0, lines
    assert all(text.startswith("ok") for text in lines), lines
    names = ["configuration", "slack token", "slack scopes", "slack mode", "einstein token"]
    names += ["einstein account", "database", "policy file"]
    for name in names:
        assert line(lines, name)
    assert peers.slack.calls_to("auth.test"), "Slack was asked"
    assert peers.simulator.calls("getApiUsagePlansV2"), "Einstein was asked"


@pytest.mark.slack(scopes=[s for s in DEFAULT_SCOPES if s not in {"im:write", "files:write"}])
async def test_missing_scope(peers: Peers) -> None:
    """Scopes manifest.yml asks for that Slack did not grant are named, with the fix."""
    code, lines = await peers.doctor()
    assert code == 1
    scopes = line(lines, "slack scopes")
    assert scopes.startswith("FAIL")
    assert "lacks files:write, im:write" in scopes
    assert "reinstall the app" in scopes
    assert line(lines, "slack token").startswith("ok")


@pytest.mark.slack(tokens=["xoxb-another-token"])
async def test_wrong_token(peers: Peers) -> None:
    """A bot token Slack refuses (invalid_auth) fails with where to copy the right one."""
    code, lines = await peers.doctor()
    assert code == 1
    token = line(lines, "slack token")
    assert token.startswith("FAIL")
    assert "invalid_auth" in token
    assert "OAuth & Permissions" in token


async def test_socket_mode_needs_app_token(peers: Peers) -> None:
    """Socket Mode with a token that is not an app-level one fails the mode check."""
    code, lines = await peers.doctor(SLACK_APP_TOKEN="xoxb-s3cr3t-not-an-app-token")
    assert code == 1
    assert line(lines, "slack mode").startswith("FAIL")
    assert "xapp-" in line(lines, "slack mode")


async def test_socket_mode_app_token_accepted(peers: Peers) -> None:
    """Socket Mode with an app token Slack accepts passes, without a signing secret."""
    code, lines = await peers.doctor(SLACK_APP_TOKEN="xapp-s3cr3t", SLACK_SIGNING_SECRET="")
    assert code == 0, lines
    assert "apps.connections.open accepts" in line(lines, "slack mode")


@pytest.mark.slack(app_tokens=["xapp-the-right-one"])
async def test_socket_mode_app_token_refused(peers: Peers) -> None:
    """An app token Slack refuses fails the mode check with where to make one."""
    code, lines = await peers.doctor(SLACK_APP_TOKEN="xapp-s3cr3t")
    assert code == 1
    mode = line(lines, "slack mode")
    assert "Slack refuses SLACK_APP_TOKEN (invalid_auth)" in mode
    assert "connections:write" in mode


async def test_key_refused(peers: Peers) -> None:
    """A private key Einstein does not know for the account: the token check names the key."""
    other_key, _ = generate_key_pair()
    code, lines = await peers.doctor(EINSTEIN_PRIVATE_KEY=other_key.replace("\n", "\\n"))
    assert code == 1
    token = line(lines, "einstein token")
    assert token.startswith("FAIL")
    assert "EINSTEIN_PRIVATE_KEY" in token
    assert line(lines, "einstein account").startswith("FAIL")


async def test_unreadable_key(peers: Peers) -> None:
    """A private key that is not a PEM fails with start-up's message."""
    code, lines = await peers.doctor(EINSTEIN_PRIVATE_KEY="s3cr3t-garbage")
    assert code == 1
    assert "not a readable RSA private key PEM" in line(lines, "einstein token")


async def test_ready_token_refused(peers: Peers) -> None:
    """A ready EINSTEIN_ACCESS_TOKEN Einstein refuses fails the token check."""
    code, lines = await peers.doctor(EINSTEIN_ACCESS_TOKEN="s3cr3tTOKEN")
    assert code == 1
    token = line(lines, "einstein token")
    assert token.startswith("FAIL")
    assert "EINSTEIN_ACCESS_TOKEN" in token


async def test_ready_token_accepted(peers: Peers) -> None:
    """A ready token Einstein accepts passes without a key."""
    token = peers.simulator.issue_token(ACCOUNT)
    code, lines = await peers.doctor(EINSTEIN_ACCESS_TOKEN=token, EINSTEIN_PRIVATE_KEY="")
    assert code == 0, lines
    assert "ready EINSTEIN_ACCESS_TOKEN" in line(lines, "einstein token")


async def test_unreachable_database(peers: Peers) -> None:
    """A database nobody listens for fails quickly, without the URL's password."""
    url = f"postgresql://bot:s3cr3t-pw@127.0.0.1:{free_port()}/jobs"
    code, lines = await peers.doctor(DATABASE_URL=url)
    assert code == 1
    database = line(lines, "database")
    assert database.startswith("FAIL")
    assert "cannot connect to postgresql://bot:***@127.0.0.1" in database
    assert "DATABASE_URL" in database


async def test_postgresql_with_schema(peers: Peers) -> None:
    """A PostgreSQL database holding the bot's schema passes."""
    async with postgres_database() as url:
        store = SqlJobStore(url)
        await store.open()
        await store.close()
        code, lines = await peers.doctor(DATABASE_URL=url)
    assert code == 0, lines
    assert "connected, schema up to date" in line(lines, "database")


async def test_database_without_schema(peers: Peers, tmp_path: Path) -> None:
    """A database without the bot's tables says to migrate."""
    empty = tmp_path / "empty.sqlite3"
    empty.touch()
    code, lines = await peers.doctor(DATABASE_URL=f"sqlite:///{empty}")
    assert code == 1
    database = line(lines, "database")
    assert "no schema revision (the code's latest is " in database
    assert "python -m bot migrate" in database


async def test_database_at_another_revision(peers: Peers, tmp_path: Path) -> None:
    """A schema at another revision than the code's latest (a newer release's) fails."""
    path = tmp_path / "newer.sqlite3"
    store = SqlJobStore(f"sqlite:///{path}")
    await store.open()
    await store.close()
    with contextlib.closing(sqlite3.connect(path)) as db, db:
        db.execute("UPDATE alembic_version SET version_num = '9999'")
    code, lines = await peers.doctor(DATABASE_URL=f"sqlite:///{path}")
    assert code == 1
    assert "the schema is at revision 9999, the code's latest is " in line(lines, "database")


async def test_broken_policy_file(peers: Peers, tmp_path: Path) -> None:
    """A policy file start-up would refuse fails with its line number."""
    policy = tmp_path / "policy.yml"
    policy.write_text('models:\n  - match: "PROD*"\n    max_epochs: lots\n')
    code, lines = await peers.doctor(RETRAIN_POLICY_FILE=str(policy))
    assert code == 1
    text = line(lines, "policy file")
    assert text.startswith("FAIL")
    assert "line 3" in text


async def test_bad_setting(peers: Peers) -> None:
    """A malformed setting fails the configuration check with start-up's message."""
    code, lines = await peers.doctor(RETRAIN_POLL_INTERVAL="soon")
    assert code == 1
    assert line(lines, "configuration").startswith("FAIL  configuration     RETRAIN_POLL_INTERVAL")


@pytest.mark.slack(oauth=OAuthApp(client_id="1111.2222", client_secret="s3cr3t-client"))
async def test_installable_with_oauth(peers: Peers) -> None:
    """Installed with OAuth, the client ID and secret are checked instead of a bot token."""
    oauth = {
        "SLACK_BOT_TOKEN": "",
        "SLACK_CLIENT_ID": "1111.2222",
        "SLACK_STATE_SECRET": "s3cr3t-state-secret-long-enough",
    }
    code, lines = await peers.doctor(**oauth, SLACK_CLIENT_SECRET="s3cr3t-client")
    assert code == 0, lines
    assert "Slack accepts the client ID and secret" in line(lines, "slack token")
    assert line(lines, "slack scopes").startswith("ok")
    assert peers.slack.installs == []  # nothing was installed
    code, lines = await peers.doctor(**oauth, SLACK_CLIENT_SECRET="s3cr3t-wrong")
    assert code != 0
    assert "bad_client_secret" in line(lines, "slack token")
