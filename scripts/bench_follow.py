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
import os
import random
import re
import secrets
import signal
import statistics
import subprocess
import sys
import tempfile
import time
from collections import Counter
from collections.abc import AsyncIterator, Sequence
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit, urlunsplit

import aiohttp
import asyncpg

ROOT = Path(__file__).resolve().parents[1]
sys.path.insert(0, str(ROOT))

from bot.core.jobs import FINAL_STATUSES
from bot.fakes.einstein.simulator import EinsteinSimulator
from bot.fakes.loopback import die_with_parent, free_port, wait_healthy
from bot.fakes.slack import (
    Channel,
    FakeSlack,
    FileShared,
    MessagePosted,
    SlackEvent,
    send_slash_command,
)
from bot.slack.marks import METADATA_EVENT

SECRET = secrets.token_hex(16)
STATUS_CALL = "getTrainStatusAndProgress"
POSTGRESQL = ("postgres", "postgresql", "postgresql+asyncpg")
_CLOCK_TICKS = os.sysconf("SC_CLK_TCK")


@dataclass(frozen=True, slots=True)
class Config:
    """One benchmark run's knobs; durations are simulated seconds."""

    trainings: int
    poll_interval: float
    time_scale: float
    queue: tuple[float, float]
    run: tuple[float, float]
    failed_share: float
    per_channel: int
    submit_seconds: float
    concurrency: int
    instances: int
    sample_interval: float
    drain_timeout: float
    seed: int


@dataclass(frozen=True, slots=True)
class Course:
    """One training as the simulator planned it, converted to wall-clock time."""

    model_id: str
    outcome: str
    created: float
    started: float
    ended: float


@dataclass(frozen=True, slots=True)
class Sample:
    """The bots' CPU time and memory, and this process's CPU time, at one moment.

    `tree_*` cover every bot process and every process below it (the pictures worker, the
    multiprocessing resource tracker); `main_*` the bot processes alone; `instance_*` each bot's
    tree, in the order the bots were started. With one bot the totals are that bot's.
    """

    at: float
    tree_cpu: float
    main_cpu: float
    tree_pss_kib: int
    processes: int
    own_cpu: float
    instance_cpu: tuple[float, ...]
    instance_pss_kib: tuple[int, ...]


@dataclass(slots=True)
class ReplyLog:
    """Records, as the fake Slack reports them, the first post of each (model, state)."""

    expected: int
    first: dict[tuple[str, str], float] = field(default_factory=dict)
    posts: Counter[tuple[str, str]] = field(default_factory=Counter)
    finished: set[str] = field(default_factory=set)
    done: asyncio.Event = field(default_factory=asyncio.Event)
    # Uploads name no model; the thread they land in does, through its card. A ts is unique
    # only within its channel.
    card_model: dict[tuple[str, str], str] = field(default_factory=dict)
    files: dict[str, float] = field(default_factory=dict)

    def __call__(self, event: SlackEvent) -> None:
        if isinstance(event, FileShared):
            thread = (event.file.channel or "", event.file.thread_ts or "")
            model_id = self.card_model.get(thread)
            if model_id is not None:
                self.files.setdefault(model_id, event.file.time)
            return
        if not isinstance(event, MessagePosted):
            return
        metadata = event.message.metadata
        if metadata is None or metadata.event_type != METADATA_EVENT:
            return
        model_id = str(metadata.event_payload.get("model_id"))
        state = str(metadata.event_payload.get("state"))
        if state == "CARD":
            self.card_model[(event.message.channel, event.message.ts)] = model_id
        key = (model_id, state)
        self.posts[key] += 1
        # The fake's clock is time.time (set in `_run`), the same clock the simulator runs on.
        self.first.setdefault(key, event.message.versions[0].time)
        if state in FINAL_STATUSES:
            self.finished.add(model_id)
            self.expect(self.expected)

    def expect(self, count: int) -> None:
        self.expected = count
        if len(self.finished) >= count:
            self.done.set()


# --- /proc measurements ----------------------------------------------------------------------


def _stat(pid: int) -> tuple[int, float]:
    """(parent pid, CPU seconds) of a process, from /proc/<pid>/stat."""
    with open(f"/proc/{pid}/stat", encoding="ascii") as handle:
        # The command name may contain spaces and parentheses; the fields after the last ")"
        # start at field 3 (state): ppid (field 4) is at 1, utime and stime (14, 15) at 11, 12.
        fields = handle.read().rsplit(")", 1)[1].split()
    return int(fields[1]), (int(fields[11]) + int(fields[12])) / _CLOCK_TICKS


def _status_kib(pid: int, key: str) -> int:
    with open(f"/proc/{pid}/status", encoding="ascii") as handle:
        for line in handle:
            if line.startswith(key + ":"):
                return int(line.split()[1])
    raise RuntimeError(f"{key} missing from /proc/{pid}/status")


def _pss_kib(pid: int) -> int:
    """Proportional set size: pages shared between processes are split among them, so the sum
    over the tree counts each page once (a sum of RSS would count shared libraries twice)."""
    try:
        with open(f"/proc/{pid}/smaps_rollup", encoding="ascii") as handle:
            for line in handle:
                if line.startswith("Pss:"):
                    return int(line.split()[1])
    except FileNotFoundError:
        pass
    return _status_kib(pid, "VmRSS")


@dataclass(slots=True)
class Meter:
    """Samples the bots' process trees: /proc has no children list here, so parents are read."""

    roots: tuple[int, ...]
    # CPU seconds last seen per process, one map per bot; a process that has ended keeps its
    # last value.
    cpu: tuple[dict[int, float], ...] = ()

    def __post_init__(self) -> None:
        self.cpu = tuple({} for _ in self.roots)

    def trees(self) -> list[dict[int, float]]:
        """CPU seconds of each root and its live descendants, by pid."""
        parents: dict[int, tuple[int, float]] = {}
        for name in os.listdir("/proc"):
            if name.isdigit():
                with contextlib.suppress(OSError, ValueError, IndexError):
                    parents[int(name)] = _stat(int(name))
        trees = []
        for root in self.roots:
            members = {root}
            grew = True
            while grew:
                found = {pid for pid, (ppid, _) in parents.items() if ppid in members}
                grew = not found <= members
                members |= found
            trees.append({pid: parents[pid][1] for pid in members if pid in parents})
        return trees

    def sample(self) -> Sample:
        pss: list[int] = []
        processes = 0
        for live, seen in zip(self.trees(), self.cpu, strict=True):
            seen.update(live)
            processes += len(live)
            pss.append(0)
            for pid in live:
                with contextlib.suppress(OSError):
                    pss[-1] += _pss_kib(pid)
        instance_cpu = tuple(sum(seen.values()) for seen in self.cpu)
        return Sample(
            at=time.time(),
            tree_cpu=sum(instance_cpu),
            main_cpu=sum(
                seen.get(root, 0.0) for root, seen in zip(self.roots, self.cpu, strict=True)
            ),
            tree_pss_kib=sum(pss),
            processes=processes,
            own_cpu=time.process_time(),
            instance_cpu=instance_cpu,
            instance_pss_kib=tuple(pss),
        )

    async def run(self, samples: list[Sample], interval: float) -> None:
        while True:
            samples.append(self.sample())
            await asyncio.sleep(interval)


@dataclass(frozen=True, slots=True)
class Usage:
    """CPU use over a window, in % of one core: all bots, the bot processes alone, this
    process, and each bot's tree."""

    tree: float
    main: float
    own: float
    seconds: float
    instances: tuple[float, ...] = ()


def _usage(samples: Sequence[Sample], start: float, end: float) -> Usage:
    """CPU use over the samples inside [start, end]."""
    inside = [s for s in samples if start <= s.at <= end]
    if len(inside) < 2:
        return Usage(float("nan"), float("nan"), float("nan"), 0.0)
    first, last = inside[0], inside[-1]
    wall = last.at - first.at
    return Usage(
        tree=100 * (last.tree_cpu - first.tree_cpu) / wall,
        main=100 * (last.main_cpu - first.main_cpu) / wall,
        own=100 * (last.own_cpu - first.own_cpu) / wall,
        seconds=wall,
        instances=tuple(
            100 * (b - a) / wall for a, b in zip(first.instance_cpu, last.instance_cpu, strict=True)
        ),
    )


# --- setting up ------------------------------------------------------------------------------


def _model_id(n: int) -> str:
    """26 characters of Einstein's A-Z2-7 alphabet, distinct for each n."""
    alphabet = "ABCDEFGHIJKLMNOPQRSTUVWXYZ234567"
    digits = ""
    while True:
        n, rest = divmod(n, 32)
        digits = alphabet[rest] + digits
        if n == 0:
            break
    return "FOLLOW" + digits.rjust(20, "A")


def _channel_count(config: Config) -> int:
    return -(-config.trainings // config.per_channel)


def _channel_id(n: int, *, channels: int) -> str:
    # Round robin, so each channel's commands are spread over the whole submission window.
    return f"C{n % channels:08d}"


def _simulator(config: Config) -> tuple[EinsteinSimulator, list[str]]:
    """A simulator with N trained models, each with its next training scripted."""
    rng = random.Random(config.seed)
    simulator = EinsteinSimulator(time_scale=config.time_scale, seed=config.seed)
    model_ids = [_model_id(n) for n in range(config.trainings)]
    for model_id in model_ids:
        # Each model gets its own dataset, so the one-training-per-dataset rule never refuses.
        simulator.add_model(model_id)
        simulator.script(
            model_id,
            outcome="FAILED" if rng.random() < config.failed_share else "SUCCEEDED",
            # Random lengths spread the state changes out instead of firing them in one burst.
            queue_seconds=rng.uniform(*config.queue),
            run_seconds=rng.uniform(*config.run),
        )
    return simulator, model_ids


def _courses(
    simulator: EinsteinSimulator, model_ids: Sequence[str], *, time_scale: float
) -> dict[str, Course]:
    """Each training's transition times as the simulator fixed them when it accepted it."""
    # Simulated time runs `time_scale` times as fast as the wall clock from a common origin;
    # one reading of both clocks anchors the conversion.
    wall_anchor, sim_anchor = time.time(), simulator.now()

    def wall(simulated: float) -> float:
        return wall_anchor + (simulated - sim_anchor) / time_scale

    courses: dict[str, Course] = {}
    for model_id in model_ids:
        # The plan is not part of the HTTP API; it is the ground truth the bot cannot see.
        plans = simulator._models[model_id].plans
        if len(plans) < 2:  # the retrain never reached the simulator
            continue
        plan = plans[-1]
        courses[model_id] = Course(
            model_id=model_id,
            outcome=plan.outcome,
            created=wall(plan.created_at),
            started=wall(plan.started_at),
            ended=wall(plan.ended_at),
        )
    return courses


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


# --- one run ---------------------------------------------------------------------------------


def _percentile(values: Sequence[float], q: float) -> float:
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(q * len(ordered)))]


def _spread(values: Sequence[float]) -> dict[str, float]:
    return {
        "p50": statistics.median(values) if values else float("nan"),
        "p95": _percentile(values, 0.95),
        "max": max(values, default=float("nan")),
        "count": len(values),
    }


def _deadline(config: Config) -> float:
    """Seconds after the last command by which every training must have been reported."""
    longest = (config.queue[1] + config.run[1]) / config.time_scale
    # A queued training is polled at most every 3.6 intervals (3x with +20 % jitter); the
    # rest is room for a slow machine, not an expected delay.
    return longest + 4 * config.poll_interval + 120


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

    courses = _courses(simulator, model_ids, time_scale=config.time_scale)

    # Delay from each state change to the reply announcing it.
    started_delays: list[float] = []
    ended_delays: list[float] = []
    missing: list[str] = []
    for model_id, course in courses.items():
        for state, changed, delays in (
            ("RUNNING", course.started, started_delays),
            (course.outcome, course.ended, ended_delays),
        ):
            posted = replies.first.get((model_id, state))
            if posted is None:
                missing.append(f"{model_id}:{state}")
            else:
                delays.append(posted - changed)

    # The quiet window: every training runs and has said so, and none has ended yet.
    running_replies = [replies.first.get((m, "RUNNING"), c.started) for m, c in courses.items()]
    quiet_start = max([*running_replies, *(c.started for c in courses.values())], default=0.0)
    quiet_end = min((c.ended for c in courses.values()), default=0.0)
    quiet = _usage(samples, quiet_start, quiet_end)
    whole = _usage(samples, started, drained)
    # Following proper, without the pictures still being drawn after the last final reply.
    following = _usage(samples, started, reported)
    idle = _usage(samples, 0.0, idle_end)
    idle_tree_kib = idle_sample.tree_pss_kib
    # With several bots, the totals are sums: of their VmHWM, and of their trees' PSS.
    peak_rss_kib = sum(peaks_rss_kib)
    peak_tree_kib = max((s.tree_pss_kib for s in samples), default=0)
    # The whole bot's peak: the larger of the bot process's exact high-water mark and the
    # sampled peak of its process tree, so a peak between two samples is never missed.
    peak_kib = max(peak_rss_kib, peak_tree_kib)
    log_lines = [line for lines in logs for line in lines]

    polls = Counter(
        r.model_id for r in simulator.requests if r.operation == STATUS_CALL and r.status == 200
    )
    per_training = [polls.get(m, 0) for m in courses]
    minutes = [
        (c.ended - c.created) * config.time_scale / 60 for c in courses.values() if c.ended > 0
    ]
    quiet_polls = sum(
        1
        for r in simulator.requests
        if r.operation == STATUS_CALL and quiet_start <= r.time <= quiet_end
    )
    # Pictures follow the success reply; how far behind they come shows a backlog.
    picture_lags = [
        at - replies.first[(m, "SUCCEEDED")]
        for m, at in replies.files.items()
        if (m, "SUCCEEDED") in replies.first
    ]
    successes = sum(1 for c in courses.values() if c.outcome == "SUCCEEDED")
    updates = slack.calls_to("chat.update")
    target = config.poll_interval + 1.0
    all_delays = started_delays + ended_delays
    extras: dict[str, Any] = {}
    if config.instances > 1:
        shares = _shares(simulator, bots)
        extras["trainings_moved"] = shares.moved
        extras["per_instance"] = _per_instance(
            bots=bots,
            shares=shares,
            courses=courses,
            samples=samples,
            idle=idle_sample,
            peaks_rss_kib=peaks_rss_kib,
            windows={"quiet": quiet, "follow": following, "whole": whole},
            logs=logs,
        )
    if details:
        extras["details"] = _details(courses, replies, polls)
    return {
        "trainings": config.trainings,
        "instances": config.instances,
        "database": "sqlite" if database_url is None else "postgresql",
        "poll_interval_s": config.poll_interval,
        "time_scale": config.time_scale,
        "queue_s": list(config.queue),
        "run_s": list(config.run),
        "per_channel": config.per_channel,
        "submit_over_s": config.submit_seconds,
        "commands_failed": len(failures),
        "timed_out": timed_out,
        "bot_revision": revision,
        "submit_seconds": sent - started,
        "reported_seconds": reported - started,
        "run_seconds": drained - started,
        "drain_seconds": drained - reported,
        "drained": went_idle,
        "idle_rss_mb": idle_rss_kib / 1024,
        "idle_memory_mb": idle_tree_kib / 1024,
        "main_peak_rss_mb": peak_rss_kib / 1024,
        "tree_peak_pss_mb": peak_tree_kib / 1024,
        "peak_memory_mb": peak_kib / 1024,
        "processes_max": max((s.processes for s in samples), default=0),
        "memory_kb_per_training": (peak_kib - idle_tree_kib) / config.trainings,
        "idle_cpu_pct": idle.tree,
        "cpu_pct": whole.tree,
        "cpu_pct_main": whole.main,
        "follow_cpu_pct": following.tree,
        "follow_cpu_pct_main": following.main,
        "cpu_seconds": samples[-1].tree_cpu - samples[0].tree_cpu if samples else float("nan"),
        "quiet_window_s": quiet.seconds,
        "quiet_cpu_pct": quiet.tree,
        "quiet_cpu_pct_main": quiet.main,
        "quiet_cpu_ms_per_poll": (
            10 * quiet.tree * quiet.seconds / quiet_polls if quiet_polls else float("nan")
        ),
        "bench_process_cpu_pct": whole.own,
        "bench_process_quiet_cpu_pct": quiet.own,
        "status_calls_per_training": statistics.fmean(per_training) if per_training else 0.0,
        "status_calls_max": max(per_training, default=0),
        "status_calls_per_sim_minute": (
            sum(per_training) / sum(minutes) if minutes else float("nan")
        ),
        "card_edits_per_training": len(updates) / config.trainings,
        "files_per_training": len(slack.files) / config.trainings,
        "successes_with_pictures": f"{len(replies.files)} of {successes}",
        "pictures_lag_s": _spread(picture_lags),
        "delay_started_s": _spread(started_delays),
        "delay_ended_s": _spread(ended_delays),
        "delay_all_s": _spread(all_delays),
        "delay_target_s": target,
        "delays_over_target": sum(1 for d in all_delays if d > target),
        "replies_missing": len(missing),
        "replies_repeated": sum(n - 1 for n in replies.posts.values() if n > 1),
        "bot_log_warnings": sum(1 for line in log_lines if " WARNING " in line),
        "bot_log_errors": sum(1 for line in log_lines if " ERROR " in line),
        "bot_log_top": _log_summary(log_lines),
    } | extras


@dataclass(slots=True)
class Shares:
    """Which bot did what, read from the simulator's record of every call and the access token
    each call carried."""

    # The retrain calls each bot made: the commands it took.
    commands: Counter[int] = field(default_factory=Counter)
    status_calls: Counter[int] = field(default_factory=Counter)
    # Per model, the bot whose status call saw the training end: the bot that held the job's
    # lease then, and so posted its final reply (a bot posts only for jobs it holds).
    last_poller: dict[str, int] = field(default_factory=dict)
    pollers: dict[str, set[int]] = field(default_factory=dict)

    @property
    def moved(self) -> int:
        """Trainings followed by more than one bot: a lease that expired and was taken over."""
        return sum(1 for bots in self.pollers.values() if len(bots) > 1)


def _shares(simulator: EinsteinSimulator, bots: Sequence[Bot]) -> Shares:
    by_token = {f"Bearer {bot.token}": bot.number for bot in bots}
    shares = Shares()
    for request in simulator.requests:  # in the order they arrived
        number = by_token.get(request.headers.get("Authorization", ""))
        if number is None or request.status != 200:
            continue
        if request.operation == "retrain":
            shares.commands[number] += 1
        elif request.operation == STATUS_CALL and request.model_id is not None:
            shares.status_calls[number] += 1
            shares.last_poller[request.model_id] = number
            shares.pollers.setdefault(request.model_id, set()).add(number)
    return shares


def _per_instance(
    *,
    bots: Sequence[Bot],
    shares: Shares,
    courses: dict[str, Course],
    samples: Sequence[Sample],
    idle: Sample,
    peaks_rss_kib: Sequence[int],
    windows: dict[str, Usage],
    logs: Sequence[Sequence[str]],
) -> list[dict[str, Any]]:
    """Each bot's share of the trainings, its memory and its CPU."""
    rows = []
    for i, bot in enumerate(bots):
        trainings = sum(1 for m in courses if shares.last_poller.get(m) == bot.number)
        peak_pss_kib = max((s.instance_pss_kib[i] for s in samples), default=0)
        cpu = {
            f"{name}_cpu_pct": usage.instances[i] if usage.instances else float("nan")
            for name, usage in windows.items()
        }
        rows.append(
            {
                "instance": bot.number,
                "commands": shares.commands[bot.number],
                "trainings": trainings,
                "share_pct": 100 * trainings / len(courses) if courses else float("nan"),
                "status_calls": shares.status_calls[bot.number],
                "idle_memory_mb": idle.instance_pss_kib[i] / 1024,
                "peak_rss_mb": peaks_rss_kib[i] / 1024,
                "peak_pss_mb": peak_pss_kib / 1024,
                "peak_memory_mb": max(peaks_rss_kib[i], peak_pss_kib) / 1024,
                **cpu,
                "log_warnings": sum(1 for line in logs[i] if " WARNING " in line),
                "log_errors": sum(1 for line in logs[i] if " ERROR " in line),
            }
        )
    return rows


def _log_summary(lines: Sequence[str], *, top: int = 5) -> list[str]:
    """The most frequent warning and error lines, with ids and numbers folded together."""
    counts: Counter[str] = Counter()
    for line in lines:
        _, found, rest = line.partition(" WARNING ")
        if not found:
            _, found, rest = line.partition(" ERROR ")
        if found:
            counts[f"{found.strip()} " + re.sub(r"\b[0-9a-f]*\d[0-9a-f]*\b", "#", rest)] += 1
    return [f"{n} x {message}" for message, n in counts.most_common(top)]


def _details(
    courses: dict[str, Course], replies: ReplyLog, polls: Counter[str | None]
) -> list[dict[str, Any]]:
    """Per training: the simulator's transition times, the replies' times, the status calls."""
    by_model: dict[str, dict[str, float]] = {}
    for (model_id, state), at in replies.first.items():
        by_model.setdefault(model_id, {})[state] = at
    return [
        asdict(course) | {"replies": by_model.get(m, {}), "status_calls": polls.get(m, 0)}
        for m, course in courses.items()
    ]


# --- reporting -------------------------------------------------------------------------------


def _verdict(ok: bool) -> str:
    return "met" if ok else "NOT met"


def _table(results: Sequence[dict[str, Any]]) -> str:
    rows: list[tuple[str, list[str]]] = []

    def row(label: str, fmt: str, key: str, sub: str | None = None) -> None:
        values = [r[key][sub] if sub else r[key] for r in results]
        rows.append((label, [format(v, fmt) for v in values]))

    def pair(label: str, first: str, second: str) -> None:
        rows.append((label, [f"{r[first]} / {r[second]}" for r in results]))

    row("trainings", "d", "trainings")
    row("time to send all commands, s", ".1f", "submit_seconds")
    row("time to the last final reply, s", ".0f", "reported_seconds")
    row("time until the bot is idle, s", ".0f", "run_seconds")
    row("bot processes (most at once)", "d", "processes_max")
    row("memory idle, MB", ".1f", "idle_memory_mb")
    row("RSS peak, bot process (VmHWM), MB", ".1f", "main_peak_rss_mb")
    row("PSS peak, all bot processes, MB", ".1f", "tree_peak_pss_mb")
    row("memory per training, KB", ".1f", "memory_kb_per_training")
    row("CPU idle, % of a core", ".1f", "idle_cpu_pct")
    row("CPU until the last final reply, % of a core", ".1f", "follow_cpu_pct")
    row("  of which the bot process, %", ".1f", "follow_cpu_pct_main")
    row("CPU until the bot is idle, % of a core", ".1f", "cpu_pct")
    row("  of which the bot process, %", ".1f", "cpu_pct_main")
    row("quiet window, s", ".0f", "quiet_window_s")
    row("CPU quiet window, % of a core", ".1f", "quiet_cpu_pct")
    row("  of which the bot process, %", ".1f", "quiet_cpu_pct_main")
    row("CPU per status poll (quiet), ms", ".2f", "quiet_cpu_ms_per_poll")
    row("status calls per training", ".1f", "status_calls_per_training")
    row("status calls per simulated minute", ".2f", "status_calls_per_sim_minute")
    row("card edits per training", ".1f", "card_edits_per_training")
    row("files uploaded per training", ".2f", "files_per_training")
    row("pictures after success reply p50, s", ".1f", "pictures_lag_s", "p50")
    row("pictures after success reply p95, s", ".1f", "pictures_lag_s", "p95")
    row("delay QUEUED->RUNNING p50, s", ".2f", "delay_started_s", "p50")
    row("delay QUEUED->RUNNING p95, s", ".2f", "delay_started_s", "p95")
    row("delay RUNNING->final p50, s", ".2f", "delay_ended_s", "p50")
    row("delay RUNNING->final p95, s", ".2f", "delay_ended_s", "p95")
    row("delay all p50, s", ".2f", "delay_all_s", "p50")
    row("delay all p95, s", ".2f", "delay_all_s", "p95")
    row("delay all max, s", ".2f", "delay_all_s", "max")
    row("delays over target", "d", "delays_over_target")
    pair("replies missing / repeated", "replies_missing", "replies_repeated")
    pair("bot log warnings / errors", "bot_log_warnings", "bot_log_errors")
    row("benchmark process CPU, %", ".1f", "bench_process_cpu_pct")
    width = max(len(label) for label, _ in rows)
    cells = max(12, *(len(v) for _, values in rows for v in values))
    return "\n".join(
        f"{label:<{width}}  " + "  ".join(f"{v:>{cells}}" for v in values) for label, values in rows
    )


def _instance_table(result: dict[str, Any]) -> str:
    """One column per bot: its share of the trainings, its memory and its CPU."""
    bots = result["per_instance"]

    def row(label: str, fmt: str, key: str) -> tuple[str, list[str]]:
        return label, [format(b[key], fmt) for b in bots]

    rows = [
        ("instance", [f"#{b['instance']}" for b in bots]),
        row("commands taken", "d", "commands"),
        row("trainings followed to the end", "d", "trainings"),
        row("  share, %", ".1f", "share_pct"),
        row("status calls", "d", "status_calls"),
        row("memory idle (PSS), MB", ".1f", "idle_memory_mb"),
        row("RSS peak, bot process (VmHWM), MB", ".1f", "peak_rss_mb"),
        row("PSS peak, its processes, MB", ".1f", "peak_pss_mb"),
        row("CPU quiet window, % of a core", ".1f", "quiet_cpu_pct"),
        row("CPU until the last final reply, %", ".1f", "follow_cpu_pct"),
        row("CPU until every bot is idle, %", ".1f", "whole_cpu_pct"),
        ("log warnings / errors", [f"{b['log_warnings']} / {b['log_errors']}" for b in bots]),
    ]
    width = max(len(label) for label, _ in rows)
    cells = max(8, *(len(v) for _, values in rows for v in values))
    lines = [
        f"N={result['trainings']}, {len(bots)} instances on {result['database']}; "
        f"trainings followed by more than one instance: {result['trainings_moved']}",
        *(
            f"{label:<{width}}  " + "  ".join(f"{v:>{cells}}" for v in values)
            for label, values in rows
        ),
    ]
    return "\n".join(lines)


def _targets(result: dict[str, Any]) -> list[str]:
    """The targets that apply to the N that was run: memory and CPU up to N = 1,000 (with
    several instances per instance, one dyno's budget, so the largest is checked), the delay
    at every N, and from N = 5,000 on the pictures' lag behind the success reply."""
    lines: list[str] = []
    if result["trainings"] <= 1000:
        if "per_instance" in result:
            memory = max(b["peak_memory_mb"] for b in result["per_instance"])
            quiet = max(b["quiet_cpu_pct"] for b in result["per_instance"])
            which = ("of the largest instance ", ", busiest instance")
        else:
            memory, quiet, which = result["peak_memory_mb"], result["quiet_cpu_pct"], ("", "")
        lines.append(f"peak memory {which[0]}{memory:.1f} MB < 150 MB: {_verdict(memory < 150)}")
        lines.append(
            f"CPU between state changes{which[1]} {quiet:.1f}% < 10% of a core: "
            f"{_verdict(quiet < 10)}"
            if quiet == quiet  # NaN: no moment had every training running with nothing changing
            else "CPU between state changes: no quiet window (the state changes overlapped)"
        )
    p95 = result["delay_all_s"]["p95"]
    lines.append(
        f"delay p95 {p95:.2f} s <= {result['delay_target_s']:.1f} s: "
        f"{_verdict(p95 <= result['delay_target_s'])}"
    )
    if result["trainings"] >= 5000:
        lag = result["pictures_lag_s"]["p95"]
        lines.append(
            f"pictures p95 {lag:.1f} s <= 30 s after the success reply: {_verdict(lag <= 30)}"
        )
    return lines


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
