"""When to look again: the follower's timing and the pure rule for the next poll."""

from __future__ import annotations

import math
import random
from dataclasses import dataclass
from datetime import datetime

from bot.core.jobs import Job, JobStatus
from bot.core.machine import reminder_at

__all__ = ["Timing", "poll_delay", "slot_end"]

# A delay is drawn between this share of its base and the base itself.
_JITTER = 0.8


@dataclass(frozen=True, slots=True)
class Timing:
    """How often the follower polls, edits and renews; tests shrink these."""

    poll_interval: float = 10.0
    card_interval: float = 5.0
    lease_seconds: float = 30.0
    claim_interval: float = 5.0
    stall_after: float = 1800.0
    queue_stall_after: float = 1800.0  # a training still queued this long is said once
    unreachable_after: float = 600.0
    max_backoff: float = 300.0
    slack_pause: float = 300.0  # after Slack refuses the channel itself, before trying again
    card_edits_per_minute: float = 50.0  # Slack's Tier 3 budget for chat.update
    schedule_tick: float = 15.0  # how often due schedules are looked for
    trigger_interval: float = 900.0  # how often feedback triggers count feedback
    regression_alert: float = 2.0  # points of accuracy or macro F1 lost that the reply warns of
    # A job whose workspace has no installation waits this long for Slack's app_uninstalled
    # before the deliverer stops it itself.
    uninstalled_grace: float = 60.0

    @property
    def poll_slot(self) -> float:
        """Naps end on multiples of this many seconds, so the polls due within one slot run
        together: a process woken 200 times a second for one poll each spends most of its CPU
        waking up (docs/benchmarks.md). At 10 s polls that is 0.5 s: twenty slots an interval,
        still far from a thousand jobs in lock-step."""
        return min(0.5, self.poll_interval / 20)

    @property
    def takeover_bound(self) -> float:
        """At most this long after an instance dies, another one follows its jobs."""
        return self.lease_seconds + self.claim_interval * 1.2


def poll_delay(job: Job, *, timing: Timing, errors: int, now: datetime) -> float:
    """Seconds until the job's next poll.

    Running: every interval. Queued: less often the further back in the queue (up to 3x), so
    trainings about to start are seen starting. Failing: exponential backoff. Always with
    jitter, so jobs started or resumed together never poll in step, and the jitter only
    shortens the delay: a running training is looked at again within the interval, so a change
    is seen within it. (With jitter both ways, ±20%, one change in twenty waited more than the
    interval to be seen: 10.2 s at 10 s polls, by simulation and in `bench_follow.py`.)
    """
    interval = timing.poll_interval
    if job.is_final:  # only Slack posts are pending
        base = min(interval, 5.0)
    elif job.status == JobStatus.AWAITING_APPROVAL:  # only the reminder and expiry to watch
        moments = [m for m in (reminder_at(job), job.approval_expires_at) if m is not None]
        left = min((m - now).total_seconds() for m in moments) if moments else interval
        base = max(0.05, min(interval * 3, left))
    elif errors:
        base = min(timing.max_backoff, interval * 2**errors)
    elif job.status in (JobStatus.SUBMITTING, JobStatus.QUEUED):
        position = job.queue_position or 1
        base = interval * min(3.0, 1.0 + (position - 1) / 2)
    else:
        base = interval
    return base * random.uniform(_JITTER, 1.0)


def slot_end(now: float, seconds: float, *, slot: float) -> float:
    """The first multiple of `slot` at or after `now + seconds`: naps that would end within one
    slot end together, and the loop wakes once for all of them."""
    return math.ceil((now + seconds) / slot) * slot
