"""Follow-scale benchmark: bots following N concurrent trainings on the Einstein simulator.

For each N a fresh bot runs as `python -m bot` (HTTP mode, SQLite in a temporary directory)
against the Einstein simulator and the fake Slack, both served from this process (their CPU use
is reported too, to show they are not the bottleneck). N distinct models are scripted with a
queued and a running phase of random length; N signed `/retrain` commands start them, sent
evenly over `--submit-seconds` and spread over channels of `--per-channel` trainings (the bot
paces its posts per channel, as Slack requires). The bot follows every training to its end and
is measured from outside, through /proc:

- peak memory of the bot's processes (the bot and, once pictures are drawn, its worker): the
  larger of the bot process's VmHWM and the sampled peak of the tree's summed PSS;
- CPU time (utime + stime) of those processes over the whole run (first command until the bot
  follows no job), and over the quiet window: from the moment every training runs and every
  "Training started" reply is posted until the first training ends, when no training changes
  state and the bot only polls and keeps the cards' progress current;
- Einstein status calls (`GET v2/language/train/{modelId}`) per training;
- the delay from each state change in the simulator (taken from the simulator's own plan of the
  training, in wall-clock time) to the thread reply announcing it in the fake Slack
  (QUEUED->RUNNING and RUNNING->SUCCEEDED/FAILED), against one poll interval plus one second.

With `--instances K`, K bots run side by side on one database (`--database-url`: a PostgreSQL
server, where each run gets a database of its own, dropped after it), and the commands go to
each in turn. Each bot has its own Einstein access token, so the simulator's record of the
calls tells which bot took each command and followed each training. The measures above are then
summed over the bots, and each bot's share, memory and CPU are reported apart.

    python scripts/bench_follow.py [--trainings 100 1000 5000] [--poll-interval 10]
                                   [--queue 30 60] [--run 120 180] [--json out.json]
                                   [--instances 3 --database-url postgresql://...]

Linux only (/proc). Every run has a deadline; the bots are stopped on any exit.
"""

from __future__ import annotations

import argparse
import asyncio
import contextlib
import json
import signal
import sys
import tempfile
import time
from collections.abc import Sequence
from dataclasses import asdict
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import aiohttp

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from followbench.analysis import Seen, summarise
from followbench.bots import _bots, _database, _revision, _send_commands, _wait_idle
from followbench.measure import Meter, Sample, _status_kib
from followbench.replies import ReplyLog
from followbench.report import (
    _instance_table,
    _table,
    _targets,
)
from followbench.scenario import (
    POSTGRESQL,
    Config,
    _channel_count,
    _channel_id,
    _deadline,
    _simulator,
)

from bot.fakes.loopback import wait_healthy
from bot.fakes.slack import (
    Channel,
    FakeSlack,
)


async def _run(config: Config, *, database_url: str | None, details: bool) -> dict[str, Any]:
    revision = _revision()
    simulator, model_ids = _simulator(config)
    replies = ReplyLog(expected=config.trainings)
    # The bot paces posts to about one a second per channel, as Slack requires, so a thousand
    # trainings in one channel would measure that pacing, not the follower: they are spread
    # over channels of `per_channel` trainings each, as teams would spread them.
    channels = [
        Channel(id=_channel_id(n, channels=_channel_count(config)), name=f"bench-{n}")
        for n in range(_channel_count(config))
    ]
    slack = FakeSlack(channels=channels, clock=time.time, on_event=replies)
    einstein_url = await simulator.start()
    await slack.start()
    samples: list[Sample] = []
    try:
        with tempfile.TemporaryDirectory(prefix="bench-follow-") as tmp:
            workdir = Path(tmp)
            # Unwound in reverse: the session closes, the bots stop, then their database goes.
            async with contextlib.AsyncExitStack() as stack:
                bots_database = await stack.enter_async_context(
                    _database(database_url, workdir=workdir)
                )
                bots = await stack.enter_async_context(
                    _bots(
                        config,
                        workdir=workdir,
                        slack=slack,
                        simulator=simulator,
                        einstein_url=einstein_url,
                        database_url=bots_database,
                    )
                )
                connector = aiohttp.TCPConnector(limit=config.concurrency)
                session = await stack.enter_async_context(
                    aiohttp.ClientSession(connector=connector)
                )
                for bot in bots:
                    await wait_healthy(session, bot.port, timeout=30, process=bot.process)
                meter = Meter(roots=tuple(bot.process.pid for bot in bots))
                sampler = asyncio.ensure_future(meter.run(samples, config.sample_interval))
                stack.callback(sampler.cancel)
                # A few seconds with no job: what the bot costs before it follows anything.
                await asyncio.sleep(5)
                idle_rss_kib = sum(_status_kib(bot.process.pid, "VmRSS") for bot in bots)
                idle_sample = meter.sample()
                idle_end = time.time()
                started = time.time()
                failures = await _send_commands(
                    session,
                    [f"http://127.0.0.1:{bot.port}/slack/events" for bot in bots],
                    slack,
                    model_ids,
                    concurrency=config.concurrency,
                    channels=_channel_count(config),
                    spread_over=config.submit_seconds,
                )
                sent = time.time()
                # A command the bot did not take starts no training and gets no final reply.
                replies.expect(config.trainings - len(failures))
                print(
                    f"  N={config.trainings}: {config.trainings - len(failures)} commands "
                    f"accepted in {sent - started:.1f} s; following…",
                    flush=True,
                )
                timed_out = False
                try:
                    await asyncio.wait_for(replies.done.wait(), timeout=_deadline(config))
                except TimeoutError:
                    timed_out = True
                reported = time.time()
                # Work after the final reply (the success pictures) still belongs to the run:
                # it ends when no bot follows a job any more.
                went_idle = await _wait_idle(
                    session,
                    [bot.port for bot in bots],
                    within=0 if timed_out else config.drain_timeout,
                )
                drained = time.time()
                for bot in bots:
                    if bot.process.poll() is not None:
                        raise RuntimeError(
                            f"bot {bot.number} exited with code {bot.process.returncode}"
                        )
                peaks_rss_kib = [_status_kib(bot.process.pid, "VmHWM") for bot in bots]
                samples.append(meter.sample())
            logs = [bot.log.read_text(errors="replace").splitlines() for bot in bots]
    finally:
        await slack.stop()
        await simulator.stop()

    seen = Seen(
        simulator=simulator,
        slack=slack,
        model_ids=model_ids,
        replies=replies,
        samples=samples,
        bots=bots,
        logs=logs,
        failures=failures,
        revision=revision,
        idle_sample=idle_sample,
        idle_rss_kib=idle_rss_kib,
        idle_end=idle_end,
        started=started,
        sent=sent,
        reported=reported,
        drained=drained,
        timed_out=timed_out,
        went_idle=went_idle,
        peaks_rss_kib=peaks_rss_kib,
    )
    return summarise(config, seen, database_url=database_url, details=details)


async def _main(args: argparse.Namespace) -> int:
    results: list[dict[str, Any]] = []
    for n in args.trainings:
        config = Config(
            trainings=n,
            poll_interval=args.poll_interval,
            time_scale=args.time_scale,
            queue=(args.queue[0], args.queue[1]),
            run=(args.run[0], args.run[1]),
            failed_share=args.failed_share,
            per_channel=args.per_channel,
            submit_seconds=args.submit_seconds,
            concurrency=args.concurrency,
            instances=args.instances,
            sample_interval=args.sample_interval,
            drain_timeout=args.drain_timeout,
            seed=args.seed,
        )
        bots = "a bot process" if args.instances == 1 else f"{args.instances} bot processes"
        on = "" if args.database_url is None else " on a new PostgreSQL database"
        print(f"N={n}: starting {bots}{on} ({asdict(config)})", flush=True)
        result = await _run(config, database_url=args.database_url, details=args.details)
        results.append(result)
        for line in _targets(result):
            print(f"  N={n}: {line}", flush=True)
        if result["timed_out"]:
            print(f"  N={n}: TIMED OUT before every training was reported", flush=True)
        elif not result["drained"]:
            print(
                f"  N={n}: the bot still followed jobs {config.drain_timeout:.0f} s after the "
                "last final reply (see --drain-timeout)",
                flush=True,
            )
        for line in result["bot_log_top"]:
            print(f"  N={n}: bot log: {line}", flush=True)
        if args.json:
            # Written after every run, so a long series keeps what it measured if stopped.
            args.json.write_text(json.dumps(results, indent=2))
    print()
    if args.instances > 1:
        print(f"all {args.instances} instances together (memory and CPU: their sums)")
    print(_table(results))
    for result in results:
        if "per_instance" in result:
            print()
            print(_instance_table(result))
    return 0 if not any(r["timed_out"] for r in results) else 1


def _parse_args(argv: Sequence[str] | None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=(__doc__ or "").split("\n\n")[0])
    parser.add_argument("--trainings", type=int, nargs="+", default=[100, 1000])
    parser.add_argument("--poll-interval", type=float, default=10.0, help="seconds (wall)")
    parser.add_argument(
        "--time-scale", type=float, default=1.0, help="simulated seconds per wall second"
    )
    parser.add_argument(
        "--queue",
        type=float,
        nargs=2,
        default=[30.0, 60.0],
        metavar=("MIN", "MAX"),
        help="queued phase, simulated seconds",
    )
    parser.add_argument(
        "--run",
        type=float,
        nargs=2,
        default=[120.0, 180.0],
        metavar=("MIN", "MAX"),
        help="running phase, simulated seconds",
    )
    parser.add_argument("--failed-share", type=float, default=0.1, help="share that fails")
    parser.add_argument(
        "--per-channel", type=int, default=5, help="trainings started in each channel"
    )
    parser.add_argument(
        "--submit-seconds",
        type=float,
        default=20.0,
        help="the commands are sent evenly over this many seconds",
    )
    parser.add_argument("--concurrency", type=int, default=50, help="commands in flight")
    parser.add_argument(
        "--instances",
        type=int,
        default=1,
        help="bot processes sharing the database; the commands go to each in turn",
    )
    parser.add_argument(
        "--database-url",
        default=None,
        help="a PostgreSQL server (postgresql://user@host:port/db): each run creates a "
        "database there and drops it after; default: SQLite in a temporary directory",
    )
    parser.add_argument("--sample-interval", type=float, default=0.5, help="seconds")
    parser.add_argument("--seed", type=int, default=7)
    parser.add_argument(
        "--drain-timeout",
        type=float,
        default=600.0,
        help="seconds to wait, after the last final reply, for the bot to finish every job",
    )
    parser.add_argument("--json", type=Path, default=None, help="write the numbers here too")
    parser.add_argument("--details", action="store_true", help="add per-training times to the JSON")
    args = parser.parse_args(argv)
    for name in ("queue", "run"):
        low, high = getattr(args, name)
        if not 0 <= low <= high:
            parser.error(f"--{name} needs 0 <= MIN <= MAX")
    if min(args.per_channel, *args.trainings, args.concurrency, args.instances) < 1:
        parser.error("--trainings, --per-channel, --concurrency and --instances must be positive")
    if args.database_url is not None and urlsplit(args.database_url).scheme not in POSTGRESQL:
        parser.error("--database-url takes a PostgreSQL URL (leave it out for SQLite)")
    if args.queue[0] <= 0:
        parser.error("--queue MIN must be positive: the QUEUED->RUNNING change is measured")
    return args


def main(argv: Sequence[str] | None = None) -> int:
    args = _parse_args(argv)

    async def guarded() -> int:
        # SIGTERM cancels like Ctrl-C does, so the `finally` blocks stop the bot process.
        task = asyncio.current_task()
        assert task is not None
        asyncio.get_running_loop().add_signal_handler(signal.SIGTERM, task.cancel)
        return await _main(args)

    with contextlib.suppress(KeyboardInterrupt, asyncio.CancelledError):
        return asyncio.run(guarded())
    return 130


if __name__ == "__main__":
    sys.exit(main())
