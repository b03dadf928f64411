"""Acknowledgement latency of `/retrain`: Retrain Bot against a minimal Bolt app.

Both are served over HTTP on loopback in their own processes, and both get the same signed
slash-command requests from this process: N one at a time, then N with 50 in flight. The
minimal app is what Bolt's docs show: `AsyncApp` with a listener that only calls `ack()`, on
asyncio's own event loop. The bot runs on uvloop's (`bot.eventloop`); "minimal uvloop" is the
minimal app on uvloop, so each run shows what the loop alone is worth. "Bolt alone" is the
bot's own Bolt app, HTTP handling (`build_bolt`, its reading of the form body), loop and
collector settings (`bot.server.settle_collector`) with a listener that only acks: the bot
without its own work, so each run shows how much of the gap to the minimal app is that work and
how much the wiring.
"Bolt and store" is Bolt alone storing a new job through the bot's own store
before each answer, as the bot does, with no checks: the floor of an answer that waits for its
job's insert.
Retrain Bot gets real peers (the Einstein simulator and the fake Slack), so each command also
starts a real job in the background while the acks are measured. The peers run in a process
of their own: served from this one, the bot's calls to them would hold up the clock that
times its acks (and only its acks: the minimal app calls no peer).

    python scripts/bench_ack.py [--requests 300] [--concurrency 50] [--pin] [--runs 1]
                                [--bot-loop uvloop|asyncio] [--json out.json]
                                [--database-url postgresql://postgres@127.0.0.1:5432/test]

The bot and "Bolt and store" store their jobs in SQLite unless `--database-url` names a
PostgreSQL server, as on Heroku: each run then creates its own databases there and drops them.

With `--runs N` the whole comparison runs N times, each with fresh servers, and ends with
each ratio's runs, their median and how many runs met the target: one run's p99 is its
third-slowest answer, which moves by half from one run to the next on a shared machine.

With `--pin` the server being measured runs on a CPU of its own and this process and the
peers share the other one, as in production, where Slack and Einstein do not take the bot's
CPU. Unpinned, all three processes share every CPU.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import gc
import json
import os
import secrets
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from ackbench.apps import APPS, ON_ASYNCIO, STORE
from ackbench.peers import Peers, pinned_to
from followbench.bots import _database, _release
from followbench.measure import cpu_seconds
from followbench.scenario import POSTGRESQL

from bot.fakes.loopback import die_with_parent, free_port, model_ids, wait_healthy
from bot.fakes.slack import send_slash_command

SECRET = secrets.token_hex(16)
MODELS: list[str] = []
CHANNEL = "C0001"


def _percentile(values: Sequence[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


async def _measure(
    session: aiohttp.ClientSession,
    url: str,
    peers: Peers,
    *,
    requests: int,
    concurrency: int,
    first_model: int,
) -> list[float]:
    """Each request's latency in ms, in the order they were sent.

    This process's collector is off while they are sent, as `timeit` turns it off while it
    times: a full collection of this process (14-20 ms, in about one phase in ten) left the
    answers then in flight unread, whichever server was being measured."""
    gate = asyncio.Semaphore(concurrency)
    latencies = [0.0] * requests

    async def one(n: int) -> None:
        async with gate:
            answer = await send_slash_command(
                session,
                url,
                signing_secret=SECRET,
                text=f"{MODELS[first_model + n]} split=0.7",
                user_id="U0BENCH",
                channel_id=CHANNEL,
                response_url=peers.response_urls.pop(),
            )
            if answer.status != 200:
                raise RuntimeError(f"HTTP {answer.status}: {answer.body[:200]}")
            latencies[n] = answer.elapsed * 1000

    gc.collect()
    gc.disable()
    try:
        await asyncio.gather(*(one(n) for n in range(requests)))
    finally:
        gc.enable()
    return latencies


async def _bench_server(
    name: str,
    argv: list[str],
    env: dict[str, str],
    port: int,
    peers: Peers,
    args: argparse.Namespace,
    first_model: int,
    follows_jobs: bool = False,
) -> Phases:
    """Latencies per phase. With `follows_jobs`, each phase also waits until the bot has called
    Einstein's retrain for every command so far, and reports how long that took after the
    last ack: the background work is real. The rest of those jobs' first steps (recording
    Einstein's answers, their cards) may still be under way when the next phase begins."""
    process = subprocess.Popen(
        argv,
        cwd=ROOT,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        preexec_fn=pinned_to(args.cpus[1]) if args.cpus else die_with_parent,
    )
    url = f"http://127.0.0.1:{port}/slack/events"
    results: Phases = {}
    try:
        connector = aiohttp.TCPConnector(limit=args.concurrency)
        async with aiohttp.ClientSession(connector=connector) as session:
            await wait_healthy(session, port, process=process)
            # Warm-up: first-request costs (imports, connection set-up) are not the steady state.
            await _measure(session, url, peers, requests=20, concurrency=1, first_model=first_model)
            model = first_model + 20
            if follows_jobs:
                await _retrains_done(peers, model)
            for label, concurrency in (
                ("sequential", 1),
                (f"{args.concurrency} at a time", args.concurrency),
            ):
                cpu_before = cpu_seconds(process.pid)
                latencies = await _measure(
                    session,
                    url,
                    peers,
                    requests=args.requests,
                    concurrency=concurrency,
                    first_model=model,
                )
                model += args.requests
                results[label] = {
                    "p50_ms": statistics.median(latencies),
                    "p99_ms": _percentile(latencies, 0.99),
                    "max_ms": max(latencies),
                    # The server's own CPU time over the phase, its background work included.
                    "cpu_ms_per_request": (cpu_seconds(process.pid) - cpu_before)
                    * 1000
                    / args.requests,
                }
                line = (
                    f"{name:>14} {label:>14}: p50 {results[label]['p50_ms']:7.2f} ms  "
                    f"p99 {results[label]['p99_ms']:7.2f} ms  "
                    f"CPU {results[label]['cpu_ms_per_request']:.2f} ms a request"
                )
                if concurrency > 1:
                    # The first `concurrency` go out at once, on connections opened for them;
                    # the rest as answers come back. The p99 usually falls in the first group.
                    first, rest = latencies[:concurrency], latencies[concurrency:]
                    phase = results[label]
                    phase["first_mean_ms"] = statistics.mean(first)
                    phase["rest_mean_ms"] = statistics.mean(rest or first)
                    line += (
                        f"  (mean of the first {concurrency} {phase['first_mean_ms']:.1f} ms,"
                        f" of the rest {phase['rest_mean_ms']:.1f} ms)"
                    )
                if follows_jobs:
                    after = await _retrains_done(peers, model)
                    results[label]["retrains_done_after_s"] = after
                    line += f"  (its retrains all called {after:.2f} s after the last ack)"
                print(line, flush=True)
    finally:
        process.terminate()
        process.wait(timeout=20)
    return results


async def _retrains_done(peers: Peers, expected: int) -> float:
    """Seconds until the simulator has answered `expected` retrain calls in all."""
    started = time.perf_counter()
    while True:
        done = peers.retrains_done()
        if done >= expected:
            return time.perf_counter() - started
        if time.perf_counter() - started > 120:
            raise RuntimeError(f"the bot called retrain {done} times for {expected} commands")
        await asyncio.sleep(0.01)


async def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--requests", type=int, default=300)
    parser.add_argument("--concurrency", type=int, default=50)
    parser.add_argument(
        "--pin",
        action="store_true",
        help="the server on a CPU of its own, this process and the peers on another",
    )
    parser.add_argument("--runs", type=int, default=1, help="repeat with fresh servers")
    parser.add_argument(
        "--bot-loop",
        choices=["uvloop", "asyncio"],
        default="uvloop",
        help="the bot's event loop: uvloop's, as it runs, or asyncio's own, to compare",
    )
    parser.add_argument(
        "--database-url",
        default=None,
        help="a PostgreSQL server (admin URL) to create each run's databases on; else SQLite",
    )
    parser.add_argument("--json", type=Path, default=None, help="write the numbers here too")
    args = parser.parse_args()
    if args.database_url is not None and urlsplit(args.database_url).scheme not in POSTGRESQL:
        parser.error("--database-url takes a PostgreSQL URL (leave it out for SQLite)")

    args.cpus = None  # with --pin: (this process and the peers, the server)
    if args.pin:
        cpus = sorted(os.sched_getaffinity(0))
        if len(cpus) < 2:
            parser.error("--pin needs two CPUs")
        args.cpus = (cpus[0], cpus[1])
        os.sched_setaffinity(0, {cpus[0]})
    per_run = 20 + 2 * args.requests
    MODELS[:] = model_ids(args.runs * per_run, prefix="BENCH")
    peers = Peers.start(
        MODELS,
        response_urls=(1 + len(APPS)) * args.runs * per_run,  # the bot's, then each app's
        cpu=args.cpus[0] if args.cpus else None,
    )
    runs: list[dict[str, Any]] = []
    try:
        for run in range(args.runs):
            if args.runs > 1:
                print(f"run {run + 1} of {args.runs}", flush=True)
            results = await _one_run(peers, args, first_model=run * per_run)
            stats = {
                name.replace(" ", "_").replace("-", "_").lower(): r for name, r in results.items()
            }
            runs.append(stats | _ratios(results, args))
    finally:
        peers.stop()

    summary: dict[str, Any] = {
        "runs": runs,
        "requests": args.requests,
        "pinned": args.pin,
        "bot_loop": args.bot_loop,
        "database": "sqlite" if args.database_url is None else "postgresql",
    }
    if args.runs > 1:
        print(f"\nall {args.runs} runs:")
        for key, ratio in _RATIOS.items():
            target = ratio.target
            values = [r[key] for r in runs]
            met = sum(1 for v in values if target is not None and v <= target)
            line = f"  {key}: {' '.join(f'{v:.2f}' for v in values)}"
            line += f"  (median {statistics.median(values):.2f}"
            line += f", target <= {target}: met in {met} of {len(values)})" if target else ")"
            print(line)
            summary[f"{key}_median"] = statistics.median(values)
    if args.json:
        args.json.write_text(json.dumps(summary, indent=2))
    return 0


Phases = dict[str, dict[str, float]]  # a server's numbers, by phase


@dataclass(frozen=True)
class _Ratio:
    """A server's p50 one at a time, or its p99 fifty at a time, over the minimal app's."""

    server: str
    stat: str  # "p50_ms" (of the phase one at a time) or "p99_ms" (of the concurrent one)
    target: float | None  # None: a floor, for reading the rest
    note: str = ""


_RATIOS = {
    "p50_ratio_sequential": _Ratio("retrain-bot", "p50_ms", 0.5),
    "p99_ratio_concurrent": _Ratio("retrain-bot", "p99_ms", 1.0),
    "p99_ratio_concurrent_minimal_uvloop": _Ratio(
        "minimal uvloop", "p99_ms", None, "the minimal app on uvloop"
    ),
    "p99_ratio_concurrent_bolt_alone": _Ratio("Bolt alone", "p99_ms", None, "the bot's wiring"),
    "p99_ratio_concurrent_bolt_and_store": _Ratio(
        "Bolt and store", "p99_ms", None, "the wiring and the insert"
    ),
}


async def _one_run(
    peers: Peers, args: argparse.Namespace, *, first_model: int
) -> dict[str, Phases]:
    """The five servers one after another, each started fresh and stopped after its phases.

    The bot and "Bolt and store" each get a new database (a SQLite file, or one created on the
    `--database-url` server), migrated before they start, as Heroku's release phase does."""
    base_env = {k: v for k, v in os.environ.items() if not k.startswith(("SLACK_", "EINSTEIN_"))}
    with tempfile.TemporaryDirectory() as tmp:
        async with contextlib.AsyncExitStack() as stack:
            databases: list[str] = []
            for owner in ("bot", "floor"):
                workdir = Path(tmp) / owner
                workdir.mkdir()
                url = await stack.enter_async_context(_database(args.database_url, workdir=workdir))
                await _release(url, workdir=workdir)
                databases.append(url)
            bot_database, floor_database = databases
            bot_port = free_port()
            bot_env = base_env | {
                "SLACK_BOT_TOKEN": "xoxb-bench",
                "SLACK_SIGNING_SECRET": SECRET,
                "SLACK_API_URL": peers.slack_api_url,
                "EINSTEIN_API_URL": peers.einstein_url,
                "EINSTEIN_ACCESS_TOKEN": peers.einstein_token,
                "DATABASE_URL": bot_database,
                "PORT": str(bot_port),
                "LOG_LEVEL": "WARNING",
                "RETRAIN_POLL_INTERVAL": "10",
            }
            bot = await _bench_server(
                "retrain-bot",
                [sys.executable, "-m", "bot"]
                if args.bot_loop == "uvloop"
                else [sys.executable, "-c", ON_ASYNCIO],
                bot_env,
                bot_port,
                peers,
                args,
                first_model=first_model,
                follows_jobs=True,
            )
            results = {"retrain-bot": bot}
            for name, source, own in APPS:
                port = free_port()
                extra = [floor_database if arg == STORE else arg for arg in own]
                results[name] = await _bench_server(
                    name,
                    [sys.executable, "-c", source, str(port), SECRET, peers.slack_api_url, *extra],
                    base_env,
                    port,
                    peers,
                    args,
                    first_model=first_model,
                )
    return results


def _ratios(results: Mapping[str, Phases], args: argparse.Namespace) -> dict[str, float]:
    """The ratios of `_RATIOS` from each server's numbers by phase, printed and returned."""
    concurrent = f"{args.concurrency} at a time"
    ratios: dict[str, float] = {}
    print()
    for key, ratio in _RATIOS.items():
        phase = "sequential" if ratio.stat == "p50_ms" else concurrent
        ratios[key] = (
            results[ratio.server][phase][ratio.stat] / (results["minimal Bolt"][phase][ratio.stat])
        )
        shown = "one at a time" if phase == "sequential" else phase
        stat = ratio.stat.removesuffix("_ms")
        note = ratio.note or f"target <= {ratio.target}"
        print(f"{shown}: {ratio.server} {stat} / minimal {stat} = {ratios[key]:.2f} ({note})")
    return ratios


if __name__ == "__main__":
    sys.exit(asyncio.run(main()))
