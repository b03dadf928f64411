"""The bot's peers for `bench_ack.py`: the Einstein simulator and the fake Slack, in a process
of their own, so their work does not hold up the clock that times the acks."""

from __future__ import annotations

import asyncio
import multiprocessing
import os
from collections.abc import Callable
from dataclasses import dataclass
from multiprocessing.connection import Connection

from bot.fakes.einstein.simulator import EinsteinSimulator
from bot.fakes.loopback import die_with_parent
from bot.fakes.slack import FakeSlack

__all__ = ["Peers", "pinned_to"]


@dataclass
class Peers:
    """The Einstein simulator and the fake Slack, served by a child process (`_serve_peers`)."""

    process: multiprocessing.process.BaseProcess
    conn: Connection
    einstein_url: str
    einstein_token: str
    slack_api_url: str
    response_urls: list[str]

    @classmethod
    def start(cls, models: list[str], *, response_urls: int, cpu: int | None) -> Peers:
        parent, child = multiprocessing.get_context("spawn").Pipe()
        process = multiprocessing.get_context("spawn").Process(
            target=_serve_peers, args=(child, models, response_urls, cpu), daemon=True
        )
        process.start()
        ready = parent.recv()
        return cls(process=process, conn=parent, **ready)

    def retrains_done(self) -> int:
        self.conn.send("retrains")
        return int(self.conn.recv())

    def stop(self) -> None:
        self.conn.send("stop")
        self.process.join(timeout=20)


def pinned_to(cpu: int) -> Callable[[], None]:
    def start() -> None:
        die_with_parent()
        os.sched_setaffinity(0, {cpu})

    return start


def _serve_peers(conn: Connection, models: list[str], response_urls: int, cpu: int | None) -> None:
    if cpu is not None:
        os.sched_setaffinity(0, {cpu})
    asyncio.run(_peers_main(conn, models, response_urls))


async def _peers_main(conn: Connection, models: list[str], response_urls: int) -> None:
    simulator = EinsteinSimulator(time_scale=1.0)
    for model in models:
        simulator.add_model(model)
    einstein_url = await simulator.start()
    slack = FakeSlack()
    await slack.start()
    conn.send(
        {
            "einstein_url": einstein_url,
            "einstein_token": simulator.issue_token(),
            "slack_api_url": slack.api_url,
            "response_urls": [slack.response_url() for _ in range(response_urls)],
        }
    )
    loop = asyncio.get_running_loop()
    try:
        while (asked := await loop.run_in_executor(None, conn.recv)) != "stop":
            assert asked == "retrains"
            retrains = simulator.calls("retrain")
            conn.send(sum(1 for r in retrains if r.status == 200))
    finally:
        await slack.stop()
        await simulator.stop()
