"""CPU time of one `/retrain` inside Bolt, without HTTP: where `bench_ack.py`'s gap comes from.

In one process, signed `/retrain <model> split=0.7` requests are dispatched fifty at a time to
three Bolt apps, and the process's CPU time is divided by the number of requests:

- **retrain-bot**: the bot's own app (`create_bot`), on SQLite in a temporary directory, with
  the Einstein simulator and the fake Slack in this process. Each command is checked and its
  job stored before the answer, as over HTTP; the background work the jobs start is held while
  a round is dispatched (each round is one burst, `bot.foreground`) and runs between rounds,
  outside the clock.
- **Bolt alone**: an app built as the bot's (`build_bolt`) whose listener only acks: what the
  bot pays Bolt.
- **minimal Bolt**: `AsyncApp` with a listener that only calls `ack()`, as Bolt's docs show
  (Bolt's 10 ms ack polling is waiting, not CPU).

HTTP (aiohttp's parsing and answering) costs every app the same and is left out; so is the
noise of other processes, which makes a 10% change visible here that `bench_ack.py` cannot
show in one run.

    python scripts/bench_dispatch.py [--rounds 6] [--requests 500]
"""

from __future__ import annotations

import argparse
import asyncio
import gc
import logging
import statistics
import sys
import tempfile
import time
from collections.abc import Awaitable, Callable, Sequence
from pathlib import Path

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

import aiohttp
from slack_bolt.async_app import AsyncApp
from slack_bolt.request.async_request import AsyncBoltRequest
from slack_bolt.response import BoltResponse
from slack_sdk.web.async_client import AsyncWebClient

from bot.app import Bot, create_bot
from bot.fakes.einstein.simulator import EinsteinSimulator
from bot.fakes.loopback import model_ids
from bot.fakes.slack import FakeSlack
from bot.fakes.slack.signing import sign_slack_request, slash_command_body
from bot.server import settle_collector
from bot.settings import Settings
from bot.slack.bolt import build_bolt
from bot.slack.inbound import SlackRequest

SECRET = "bench-dispatch-signing-secret-0123"  # noqa: S105 - the fake Slack's, for this run
BURST = 50

Headers = dict[str, str | Sequence[str]]
Dispatch = Callable[[str, Headers], Awaitable[BoltResponse]]
Signed = list[tuple[str, Headers]]


def _requests(models: list[str]) -> Signed:
    signed: Signed = []
    for model in models:
        body = slash_command_body(
            text=f"{model} split=0.7",
            user_id="U0BENCH",
            channel_id="C0001",
            response_url="http://127.0.0.1:9/response",
        )
        headers: Headers = {
            **sign_slack_request(signing_secret=SECRET, body=body, timestamp=int(time.time())),
            "content-type": "application/x-www-form-urlencoded",
        }
        signed.append((body.decode(), headers))
    return signed


async def _round(dispatch: Dispatch, requests: Signed) -> float:
    """CPU µs a request, dispatching `requests` fifty at a time."""
    # As `python -m bot` does after start-up: what lives on is moved out of the collector's
    # sight, so a full collection does not walk what earlier rounds left, and the youngest
    # generation is collected as serving sets it.
    gc.collect()
    settle_collector()

    async def one(body: str, headers: Headers) -> None:
        response = await dispatch(body, headers)
        if response.status != 200:
            raise RuntimeError(f"HTTP {response.status}: {response.body[:200]}")

    # The event loop's thread only: the database's own thread, busy with the background
    # writes of the rounds before, would otherwise count.
    started = time.thread_time()
    for first in range(0, len(requests), BURST):
        await asyncio.gather(*(one(*r) for r in requests[first : first + BURST]))
    return (time.thread_time() - started) / len(requests) * 1e6


def _bot_dispatch(bot: Bot) -> Dispatch:
    async def dispatch(body: str, headers: Headers) -> BoltResponse:
        with bot.foreground.answering():
            return await bot.bolt.async_dispatch(SlackRequest(body=body, headers=headers))

    return dispatch


def _app_dispatch(app: AsyncApp) -> Dispatch:
    async def dispatch(body: str, headers: Headers) -> BoltResponse:
        return await app.async_dispatch(AsyncBoltRequest(body=body, headers=headers))

    return dispatch


async def _only_ack(ack: Callable[[], Awaitable[None]]) -> None:
    await ack()


async def _bot_round(settings: Settings, warm_up: Signed, requests: Signed) -> float:
    """A fresh bot (its own database), warmed up and settled, then one measured round."""
    bot = create_bot(settings)
    await bot.start()
    try:
        dispatch = _bot_dispatch(bot)
        await _round(dispatch, warm_up)
        await asyncio.sleep(1.5)  # the warm-up's jobs are submitted and their cards posted
        # One burst: the jobs' background work waits (at most `bot.foreground`'s hold, 1 s,
        # longer than a round takes) and runs after the clock stops.
        with bot.foreground.answering():
            return await _round(dispatch, requests)
    finally:
        await bot.stop()


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--rounds", type=int, default=6)
    parser.add_argument("--requests", type=int, default=500, help="a round, for each app")
    args = parser.parse_args()
    logging.basicConfig(level=logging.ERROR)

    warm = 100
    models = model_ids(args.rounds * (warm + args.requests), prefix="DISPATCH")
    # Each command needs a model of its own: a second retrain of one is a duplicate.
    signed = _requests(models)
    simulator = EinsteinSimulator(time_scale=1.0)
    for model in models:
        simulator.add_model(model)
    einstein_url = await simulator.start()
    slack = FakeSlack()
    await slack.start()
    results: dict[str, list[float]] = {"retrain-bot": [], "Bolt alone": [], "minimal Bolt": []}
    try:
        async with aiohttp.ClientSession() as session:
            for k in range(args.rounds):
                first = k * (warm + args.requests)
                warm_up = signed[first : first + warm]
                requests = signed[first + warm : first + warm + args.requests]
                with tempfile.TemporaryDirectory() as workdir:
                    settings = Settings(
                        slack_bot_token="xoxb-bench",  # noqa: S106 - the fake Slack's
                        slack_signing_secret=SECRET,
                        slack_api_url=slack.api_url,
                        einstein_api_url=einstein_url,
                        einstein_access_token=simulator.issue_token(),
                        database_url=f"sqlite:///{Path(workdir) / 'bench.sqlite3'}",
                        _env_file=None,
                    )
                    results["retrain-bot"].append(await _bot_round(settings, warm_up, requests))
                # The other two with no bot running.
                alone = build_bolt(settings, session, None)
                alone.command("/retrain")(_only_ack)
                minimal = AsyncApp(
                    client=AsyncWebClient(token="xoxb-bench", base_url=slack.api_url),  # noqa: S106
                    signing_secret=SECRET,
                )
                minimal.command("/retrain")(_only_ack)
                for name, app in (("Bolt alone", alone), ("minimal Bolt", minimal)):
                    await _round(_app_dispatch(app), warm_up)
                    results[name].append(await _round(_app_dispatch(app), requests))
    finally:
        await slack.stop()
        await simulator.stop()

    print(f"CPU time a request, {BURST} at a time, {args.rounds} rounds of {args.requests}:")
    for name, values in results.items():
        runs = " ".join(f"{v:4.0f}" for v in values)
        median = statistics.median(values)
        print(f"{name:>14}: {runs} µs  (min {min(values):.0f}, median {median:.0f})")
    return 0


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
