"""Real bot processes for restart, crash and multi-instance tests."""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path

import aiohttp

from bot.fakes.loopback import die_with_parent, free_port, wait_healthy
from bot.fakes.slack import SentRequest, send_slash_command
from tests.conftest import CHANNEL, SIGNING_SECRET, USER

ROOT = Path(__file__).resolve().parents[1]


def bot_env(
    *,
    slack_url: str,
    einstein_url: str,
    database_url: str,
    account: str,
    private_key: str,
    **extra: str,
) -> dict[str, str]:
    return {
        "PATH": os.environ.get("PATH", ""),
        "SLACK_BOT_TOKEN": "xoxb-test-token",
        "SLACK_SIGNING_SECRET": SIGNING_SECRET,
        "SLACK_API_URL": slack_url,
        "EINSTEIN_API_URL": einstein_url,
        "EINSTEIN_ACCOUNT_ID": account,
        "EINSTEIN_PRIVATE_KEY": private_key,
        "DATABASE_URL": database_url,
        "RETRAIN_POLL_INTERVAL": "0.1",
        "SLACK_POST_INTERVAL": "0.01",
        # A killed process holds its jobs this long before another one takes them over.
        "RETRAIN_LEASE_SECONDS": "5",
        **extra,
    }


@dataclass
class BotProcess:
    """`python -m bot` on its own port; start, kill or stop it like an operator would."""

    env: dict[str, str]
    log: Path
    port: int = field(default_factory=free_port)
    process: subprocess.Popen[bytes] | None = None

    @property
    def url(self) -> str:
        return f"http://127.0.0.1:{self.port}/slack/events"

    async def start(self, session: aiohttp.ClientSession) -> None:
        with self.log.open("ab") as out:
            self.process = subprocess.Popen(
                [sys.executable, "-m", "bot"],
                cwd=ROOT,
                env=self.env | {"PORT": str(self.port)},
                stdout=out,
                stderr=subprocess.STDOUT,
                preexec_fn=die_with_parent,  # an interrupted test run leaves no bot behind
            )
        try:
            await wait_healthy(session, self.port, process=self.process)
        except (TimeoutError, RuntimeError):
            raise RuntimeError(f"the bot did not start: {self.log.read_text()[-2000:]}") from None

    def kill(self) -> None:
        assert self.process is not None
        self.process.send_signal(signal.SIGKILL)
        self.process.wait(timeout=10)

    def pause(self) -> None:
        """SIGSTOP: the process keeps its sockets and memory but runs no code, like a frozen VM."""
        assert self.process is not None
        self.process.send_signal(signal.SIGSTOP)

    def resume(self) -> None:
        """SIGCONT: the paused process goes on where it stopped, its timers long overdue."""
        assert self.process is not None
        self.process.send_signal(signal.SIGCONT)

    def terminate(self) -> float:
        """SIGTERM, as Heroku sends it; returns how long the process took to exit."""
        assert self.process is not None
        started = time.monotonic()
        self.process.send_signal(signal.SIGTERM)
        self.process.wait(timeout=30)
        return time.monotonic() - started

    @property
    def owner(self) -> str:
        """The start of the lease owner this process writes in the store (host-pid-random)."""
        assert self.process is not None
        return f"{socket.gethostname()}-{self.process.pid}-"

    def close(self) -> None:
        if self.process is not None and self.process.poll() is None:
            self.process.kill()
            self.process.wait(timeout=10)

    async def command(
        self,
        session: aiohttp.ClientSession,
        text: str,
        *,
        response_url: str,
        channel: str = CHANNEL,
        **extra: str,
    ) -> SentRequest:
        return await send_slash_command(
            session,
            self.url,
            signing_secret=SIGNING_SECRET,
            text=text,
            user_id=USER,
            channel_id=channel,
            response_url=response_url,
            **extra,
        )
