"""From what a run saw to its numbers: delays, memory, CPU, calls, pictures, the log."""

from __future__ import annotations

import bisect
import statistics
from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any

from bot.fakes.einstein.simulator import EinsteinSimulator
from bot.fakes.slack import FakeSlack
from followbench.bots import Bot
from followbench.measure import Sample, _usage
from followbench.replies import ReplyLog
from followbench.report import _details, _log_summary, _per_instance, _shares
from followbench.scenario import STATUS_CALL, Config, _courses, _spread


@dataclass(frozen=True, slots=True)
class Seen:
    """What one run recorded: the peers, the bots, the samples and the moments it passed."""

    simulator: EinsteinSimulator
    slack: FakeSlack
    model_ids: list[str]
    replies: ReplyLog
    samples: list[Sample]
    bots: Sequence[Bot]
    logs: list[list[str]]
    failures: list[Any]
    revision: str
    idle_sample: Sample
    idle_rss_kib: int
    idle_end: float
    started: float
    sent: float
    reported: float
    drained: float
    timed_out: bool
    went_idle: bool
    peaks_rss_kib: list[int]


def summarise(
    config: Config, seen: Seen, *, database_url: str | None, details: bool
) -> dict[str, Any]:
    """The run's numbers, as `bench_follow.py` prints and saves them."""
    courses = _courses(seen.simulator, seen.model_ids, time_scale=config.time_scale)

    # Delay from each state change to the reply announcing it, and its two parts: until the
    # first status call that could see the change, and from that call to the reply.
    status_times: dict[str | None, list[float]] = {}
    for r in seen.simulator.requests:
        if r.operation == STATUS_CALL and r.status == 200:
            status_times.setdefault(r.model_id, []).append(r.time)
    started_delays: list[float] = []
    ended_delays: list[float] = []
    seen_delays: list[float] = []
    told_delays: list[float] = []
    missing: list[str] = []
    for model_id, course in courses.items():
        calls = sorted(status_times.get(model_id, []))
        for state, changed, delays in (
            ("RUNNING", course.started, started_delays),
            (course.outcome, course.ended, ended_delays),
        ):
            posted = seen.replies.first.get((model_id, state))
            if posted is None:
                missing.append(f"{model_id}:{state}")
                continue
            delays.append(posted - changed)
            at = bisect.bisect_left(calls, changed)
            if at < len(calls) and calls[at] <= posted:
                seen_delays.append(calls[at] - changed)
                told_delays.append(posted - calls[at])

    # The quiet window: every training runs and has said so, and none has ended yet.
    running_replies = [
        seen.replies.first.get((m, "RUNNING"), c.started) for m, c in courses.items()
    ]
    quiet_start = max([*running_replies, *(c.started for c in courses.values())], default=0.0)
    quiet_end = min((c.ended for c in courses.values()), default=0.0)
    quiet = _usage(seen.samples, quiet_start, quiet_end)
    whole = _usage(seen.samples, seen.started, seen.drained)
    # Following proper, without the pictures still being drawn after the last final reply.
    following = _usage(seen.samples, seen.started, seen.reported)
    idle = _usage(seen.samples, 0.0, seen.idle_end)
    idle_tree_kib = seen.idle_sample.tree_pss_kib
    # With several seen.bots, the totals are sums: of their VmHWM, and of their trees' PSS.
    peak_rss_kib = sum(seen.peaks_rss_kib)
    peak_tree_kib = max((s.tree_pss_kib for s in seen.samples), default=0)
    # The whole bot's peak: the larger of the bot process's exact high-water mark and the
    # sampled peak of its process tree, so a peak between two seen.samples is never missed.
    peak_kib = max(peak_rss_kib, peak_tree_kib)
    log_lines = [line for lines in seen.logs for line in lines]

    polls = Counter({model_id: len(times) for model_id, times in status_times.items()})
    per_training = [polls.get(m, 0) for m in courses]
    minutes = [
        (c.ended - c.created) * config.time_scale / 60 for c in courses.values() if c.ended > 0
    ]
    quiet_polls = sum(
        1
        for r in seen.simulator.requests
        if r.operation == STATUS_CALL and quiet_start <= r.time <= quiet_end
    )
    # Pictures follow the success reply; how far behind they come shows a backlog.
    picture_lags = [
        at - seen.replies.first[(m, "SUCCEEDED")]
        for m, at in seen.replies.files.items()
        if (m, "SUCCEEDED") in seen.replies.first
    ]
    successes = sum(1 for c in courses.values() if c.outcome == "SUCCEEDED")
    updates = seen.slack.calls_to("chat.update")
    target = config.poll_interval + 1.0
    all_delays = started_delays + ended_delays
    extras: dict[str, Any] = {}
    if config.instances > 1:
        shares = _shares(seen.simulator, seen.bots)
        extras["trainings_moved"] = shares.moved
        extras["per_instance"] = _per_instance(
            bots=seen.bots,
            shares=shares,
            courses=courses,
            samples=seen.samples,
            idle=seen.idle_sample,
            peaks_rss_kib=seen.peaks_rss_kib,
            windows={"quiet": quiet, "follow": following, "whole": whole},
            logs=seen.logs,
        )
    if details:
        extras["details"] = _details(courses, seen.replies, polls)
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
        "commands_failed": len(seen.failures),
        "timed_out": seen.timed_out,
        "bot_revision": seen.revision,
        "submit_seconds": seen.sent - seen.started,
        "reported_seconds": seen.reported - seen.started,
        "run_seconds": seen.drained - seen.started,
        "drain_seconds": seen.drained - seen.reported,
        "drained": seen.went_idle,
        "idle_rss_mb": seen.idle_rss_kib / 1024,
        "idle_memory_mb": idle_tree_kib / 1024,
        "main_peak_rss_mb": peak_rss_kib / 1024,
        "tree_peak_pss_mb": peak_tree_kib / 1024,
        "peak_memory_mb": peak_kib / 1024,
        "processes_max": max((s.processes for s in seen.samples), default=0),
        "memory_kb_per_training": (peak_kib - idle_tree_kib) / config.trainings,
        "idle_cpu_pct": idle.tree,
        "cpu_pct": whole.tree,
        "cpu_pct_main": whole.main,
        "follow_cpu_pct": following.tree,
        "follow_cpu_pct_main": following.main,
        "cpu_seconds": seen.samples[-1].tree_cpu - seen.samples[0].tree_cpu
        if seen.samples
        else float("nan"),
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
        "files_per_training": len(seen.slack.files) / config.trainings,
        "successes_with_pictures": f"{len(seen.replies.files)} of {successes}",
        "pictures_lag_s": _spread(picture_lags),
        "delay_started_s": _spread(started_delays),
        "delay_ended_s": _spread(ended_delays),
        "delay_all_s": _spread(all_delays),
        "delay_seen_s": _spread(seen_delays),
        "delay_told_s": _spread(told_delays),
        "delay_target_s": target,
        "delays_over_target": sum(1 for d in all_delays if d > target),
        "replies_missing": len(missing),
        "replies_repeated": sum(n - 1 for n in seen.replies.posts.values() if n > 1),
        "bot_log_warnings": sum(1 for line in log_lines if " WARNING " in line),
        "bot_log_errors": sum(1 for line in log_lines if " ERROR " in line),
        "bot_log_top": _log_summary(log_lines),
    } | extras
