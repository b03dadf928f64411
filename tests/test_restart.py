"""A real bot process killed mid-training and started again finishes the thread exactly once."""

from __future__ import annotations

import asyncio
import os
import signal
import socket
import subprocess
import sys
from collections import Counter
from collections.abc import AsyncIterator, Iterator
from contextlib import asynccontextmanager, contextmanager
from pathlib import Path

import aiohttp

from bot.einstein.simulator import EinsteinSimulator
from bot.fakeslack import FakeSlack, send_slash_command
from tests.conftest import ACCOUNT, CHANNEL, SIGNING_SECRET, USER

ROOT = Path(__file__).resolve().parents[1]
MODEL = "7JXCXTRXTMNLJCEF2DR5CJ46QU"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@contextmanager
def bot_process(env: dict[str, str], log: Path) -> Iterator[subprocess.Popen[bytes]]:
    with log.open("ab") as out:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot"], cwd=ROOT, env=env, stdout=out, stderr=subprocess.STDOUT
        )
    try:
        yield process
    finally:
        if process.poll() is None:
            process.kill()
        process.wait(timeout=10)


async def _ready(session: aiohttp.ClientSession, port: int) -> None:
    for _ in range(300):
        try:
            async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
                if response.status == 200:
                    return
        except aiohttp.ClientError:
            pass
        await asyncio.sleep(0.05)
    raise TimeoutError("the bot did not become ready")


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


async def test_sigkill_mid_training_then_restart(tmp_path: Path, key_pair: tuple[str, str]) -> None:
    """SIGKILL while RUNNING; the next process posts the terminal reply exactly once."""
    async with peers(key_pair) as (simulator, slack), aiohttp.ClientSession() as session:
        port = _free_port()
        env = {
            "PATH": os.environ.get("PATH", ""),
            "SLACK_BOT_TOKEN": "xoxb-test-token",
            "SLACK_SIGNING_SECRET": SIGNING_SECRET,
            "SLACK_API_URL": slack.api_url,
            "EINSTEIN_API_URL": simulator.base_url,
            "EINSTEIN_ACCOUNT_ID": ACCOUNT,
            "EINSTEIN_PRIVATE_KEY": key_pair[0],
            "DATABASE_URL": f"sqlite:///{tmp_path / 'jobs.sqlite3'}",
            "RETRAIN_POLL_INTERVAL": "0.05",
            "SLACK_POST_INTERVAL": "0.01",
            "RETRAIN_LEASE_SECONDS": "5",  # the killed process holds its jobs this long
            "PORT": str(port),
        }
        log = tmp_path / "bot.log"
        with bot_process(env, log) as first:
            await _ready(session, port)
            answer = await send_slash_command(
                session,
                f"http://127.0.0.1:{port}/slack/events",
                signing_secret=SIGNING_SECRET,
                text=MODEL,
                user_id=USER,
                channel_id=CHANNEL,
                response_url=slack.response_url(),
            )
            assert answer.status == 200
            await slack.wait_for(
                lambda: any("started" in m.text for m in slack.messages(CHANNEL)),
                timeout=10,
                what="the RUNNING reply",
            )
            first.send_signal(signal.SIGKILL)
            first.wait(timeout=10)
        replies_before = [m for m in slack.messages(CHANNEL) if m.thread_ts]
        with bot_process(env, log):
            await _ready(session, port)
            await slack.wait_for(
                lambda: any("succeeded" in m.text for m in slack.messages(CHANNEL)),
                timeout=25,
                what="the SUCCEEDED reply",
            )
            await asyncio.sleep(0.3)  # room for a duplicate to show up, if there were one
        messages = slack.messages(CHANNEL)
        cards = [m for m in messages if m.thread_ts is None]
        replies = [m for m in messages if m.thread_ts is not None]
        assert len(cards) == 1
        assert "Succeeded" in cards[0].text
        kinds = Counter(
            m.versions[0].metadata.event_payload["state"] for m in replies if m.versions[0].metadata
        )
        assert kinds == Counter({"QUEUED": 1, "RUNNING": 1, "SUCCEEDED": 1}), log.read_text()
        assert len(replies) > len(replies_before)
        assert len(simulator.calls("retrain")) == 1
        assert "Traceback" not in log.read_text()
