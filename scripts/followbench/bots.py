"""The bots under test: each a `python -m bot` process, its database, the commands sent to it."""

from __future__ import annotations

import asyncio
import contextlib
import os
import secrets
import subprocess
import sys
import time
from collections.abc import AsyncIterator, Sequence
from dataclasses import dataclass
from pathlib import Path
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import asyncpg

from bot.fakes.einstein.simulator import EinsteinSimulator
from bot.fakes.loopback import die_with_parent, free_port
from bot.fakes.slack import (
    FakeSlack,
    send_slash_command,
)
from followbench.scenario import SECRET, Config, _channel_id

ROOT = Path(__file__).resolve().parents[2]


def _revision() -> str:
    """The commit the bot runs from, with `+dirty` when its files differ from it."""
    try:
        head = subprocess.run(
            ["git", "rev-parse", "--short", "HEAD"],  # noqa: S607 - git from PATH, read only
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
        changed = subprocess.run(
            ["git", "status", "--porcelain", "--", "bot"],  # noqa: S607 - as above
            cwd=ROOT,
            capture_output=True,
            text=True,
            check=True,
        ).stdout.strip()
    except (OSError, subprocess.CalledProcessError):
        return "unknown"
    return head + ("+dirty" if changed else "")


@dataclass(frozen=True, slots=True)
class Bot:
    """One `python -m bot` process of a run. Its Einstein access token is its own, so the
    simulator's record of every call (Authorization header included) tells the bots apart."""

    number: int
    port: int
    token: str
    log: Path
    process: subprocess.Popen[bytes]


def _start_bot(
    *,
    number: int,
    instances: int,
    workdir: Path,
    slack: FakeSlack,
    einstein_url: str,
    token: str,
    database_url: str,
    config: Config,
) -> Bot:
    port = free_port()
    drop = ("SLACK_", "EINSTEIN_", "RETRAIN_", "DATABASE_URL", "PORT", "LOG_")
    env = {k: v for k, v in os.environ.items() if not k.startswith(drop)} | {
        "PYTHONPATH": str(ROOT),
        "SLACK_BOT_TOKEN": "xoxb-bench",
        "SLACK_SIGNING_SECRET": SECRET,
        "SLACK_API_URL": slack.api_url,
        "EINSTEIN_API_URL": einstein_url,
        "EINSTEIN_ACCESS_TOKEN": token,
        "DATABASE_URL": database_url,
        "PORT": str(port),
        "LOG_LEVEL": "WARNING",
        "RETRAIN_POLL_INTERVAL": str(config.poll_interval),
    }
    log = workdir / ("bot.log" if instances == 1 else f"bot-{number}.log")
    # The working directory is the temporary one, so no `.env` file of the checkout applies.
    with log.open("wb") as output:
        process = subprocess.Popen(
            [sys.executable, "-m", "bot"],
            cwd=workdir,
            env=env,
            stdout=output,
            stderr=subprocess.STDOUT,
            preexec_fn=die_with_parent,
        )
    return Bot(number=number, port=port, token=token, log=log, process=process)


@contextlib.asynccontextmanager
async def _bots(
    config: Config,
    *,
    workdir: Path,
    slack: FakeSlack,
    simulator: EinsteinSimulator,
    einstein_url: str,
    database_url: str,
) -> AsyncIterator[list[Bot]]:
    """Start `config.instances` bots on one database, each with an access token of its own;
    stop them all on the way out."""
    await _release(database_url, workdir=workdir)
    bots: list[Bot] = []
    try:
        for number in range(1, config.instances + 1):
            bots.append(
                _start_bot(
                    number=number,
                    instances=config.instances,
                    workdir=workdir,
                    slack=slack,
                    einstein_url=einstein_url,
                    token=simulator.issue_token(),
                    database_url=database_url,
                    config=config,
                )
            )
        yield bots
    finally:
        await asyncio.gather(*(_stop_bot(bot.process) for bot in bots))


async def _release(database_url: str, *, workdir: Path) -> None:
    """Migrate the database as Heroku's release phase does (the Procfile's `release`), so the
    bots start on a schema at the latest revision, as they do in production."""
    process = await asyncio.create_subprocess_exec(
        sys.executable,
        "-m",
        "bot",
        "migrate",
        cwd=workdir,
        env=os.environ | {"PYTHONPATH": str(ROOT), "DATABASE_URL": database_url},
        stdout=asyncio.subprocess.DEVNULL,
        stderr=asyncio.subprocess.PIPE,
    )
    _, errors = await process.communicate()
    if process.returncode != 0:
        raise RuntimeError(f"python -m bot migrate failed: {errors.decode().strip()}")


async def _stop_bot(process: subprocess.Popen[bytes]) -> None:
    if process.poll() is not None:
        return
    process.terminate()
    for _ in range(200):  # the bot stops its jobs within about 5 s of SIGTERM
        if process.poll() is not None:
            return
        await asyncio.sleep(0.1)
    process.kill()
    process.wait()


async def _wait_idle(
    session: aiohttp.ClientSession, ports: Sequence[int], *, within: float
) -> bool:
    """Wait until no bot follows a job (their /healthz say so, in the same round, since one
    may take over another's job); False after `within` s."""
    deadline = time.monotonic() + within
    while True:
        if all(await asyncio.gather(*(_follows_nothing(session, port) for port in ports))):
            return True
        if time.monotonic() >= deadline:
            return False
        await asyncio.sleep(1.0)


async def _follows_nothing(session: aiohttp.ClientSession, port: int) -> bool:
    try:
        async with session.get(f"http://127.0.0.1:{port}/healthz") as response:
            return bool((await response.json()).get("jobs_followed", 0) == 0)
    except (aiohttp.ClientError, ValueError):
        return False


@contextlib.asynccontextmanager
async def _database(admin_url: str | None, *, workdir: Path) -> AsyncIterator[str]:
    """The DATABASE_URL of one run: a SQLite file in `workdir`, or a database created for the
    run on the PostgreSQL server of `admin_url` and dropped after it, so no run sees another's
    rows."""
    if admin_url is None:
        yield f"sqlite:///{workdir / 'bench.sqlite3'}"
        return
    parts = urlsplit(admin_url)
    admin = urlunsplit(parts._replace(scheme="postgresql"))
    name = f"retrain_bench_{secrets.token_hex(4)}"
    # The name is ours (hex digits), not input: formatting it into the statement is safe.
    await _execute(admin, f"CREATE DATABASE {name}")
    try:
        yield urlunsplit(parts._replace(scheme="postgresql", path=f"/{name}"))
    finally:
        # FORCE ends the connections of a bot that did not stop.
        await _execute(admin, f"DROP DATABASE IF EXISTS {name} WITH (FORCE)")


async def _execute(url: str, statement: str) -> None:
    connection = await asyncpg.connect(url)
    try:
        await connection.execute(statement)
    finally:
        await connection.close()


async def _send_commands(
    session: aiohttp.ClientSession,
    urls: Sequence[str],
    slack: FakeSlack,
    model_ids: Sequence[str],
    *,
    concurrency: int,
    channels: int,
    spread_over: float,
) -> list[str]:
    """Send one signed `/retrain` per model, evenly over `spread_over` seconds with at most
    `concurrency` in flight, to the `urls` in turn (as Heroku's router spreads requests over
    dynos); returns the failures."""
    gate = asyncio.Semaphore(concurrency)
    failures: list[str] = []
    start = time.monotonic()
    step = spread_over / len(model_ids) if model_ids else 0.0

    async def one(n: int, model_id: str) -> None:
        await asyncio.sleep(max(0.0, start + n * step - time.monotonic()))
        async with gate:
            try:
                answer = await send_slash_command(
                    session,
                    urls[n % len(urls)],
                    signing_secret=SECRET,
                    text=model_id,
                    user_id="U0BENCH",
                    channel_id=_channel_id(n, channels=channels),
                    response_url=slack.response_url(),
                )
            except (TimeoutError, aiohttp.ClientError) as exc:
                failures.append(f"{model_id}: {exc.__class__.__name__}")
                return
            if answer.status != 200:
                failures.append(f"{model_id}: HTTP {answer.status}")

    await asyncio.gather(*(one(n, model_id) for n, model_id in enumerate(model_ids)))
    return failures
