"""What a run found: each instance's share, the tables, and the targets met or not."""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Sequence
from dataclasses import asdict, dataclass, field
from typing import Any

from bot.fakes.einstein.simulator import EinsteinSimulator
from followbench.bots import Bot
from followbench.measure import Sample, Usage
from followbench.replies import ReplyLog
from followbench.scenario import STATUS_CALL, Course


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
    row("  until a status call could see it p95, s", ".2f", "delay_seen_s", "p95")
    row("  from that call to the reply p95, s", ".2f", "delay_told_s", "p95")
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
