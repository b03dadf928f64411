"""Adaptive polling: queued less often, failing with backoff, always jittered."""

from __future__ import annotations

import math
import statistics
from datetime import UTC, datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from bot.core.jobs import Job
from bot.core.options import RetrainOptions
from bot.core.schedule import Timing, poll_delay, slot_end

NOW = datetime(2026, 1, 1, tzinfo=UTC)
TIMING = Timing(poll_interval=10.0, max_backoff=300.0)


def _job(**changes: object) -> Job:
    job = Job(
        id="j",
        model_id="M",
        options=RetrainOptions(),
        requester="U",
        channel="C",
        origin_channel="C",
        created_at=NOW,
    )
    return job.with_changes(**changes)


def _delays(job: Job, *, errors: int = 0, n: int = 400) -> list[float]:
    return [poll_delay(job, timing=TIMING, errors=errors, now=NOW) for _ in range(n)]


@pytest.mark.parametrize(
    ("changes", "errors", "center"),
    [
        ({"status": "RUNNING"}, 0, 10.0),
        ({"status": "QUEUED", "queue_position": 1}, 0, 10.0),
        ({"status": "QUEUED", "queue_position": 3}, 0, 20.0),
        ({"status": "QUEUED", "queue_position": 40}, 0, 30.0),
        ({"status": "RUNNING"}, 1, 20.0),
        ({"status": "RUNNING"}, 3, 80.0),
        ({"status": "RUNNING"}, 12, 300.0),
    ],
)
def test_delay_by_state(changes: dict[str, object], errors: int, center: float) -> None:
    """Running at the interval, queued up to 3x by position, errors doubling up to the cap;
    the jitter only shortens a delay, so the interval is the longest wait between two polls."""
    delays = _delays(_job(**changes), errors=errors)
    assert min(delays) >= center * 0.8
    assert max(delays) <= center
    assert statistics.mean(delays) == pytest.approx(center * 0.9, rel=0.05)


def test_jitter_spreads_polls() -> None:
    """A thousand jobs started together do not poll in lock-step."""
    delays = _delays(_job(status="RUNNING"), n=1000)
    assert len({round(d, 3) for d in delays}) > 700  # ~787 expected over 2,000 buckets
    assert statistics.pstdev(delays) > 0.5


def test_awaiting_approval_wakes_for_the_expiry() -> None:
    """A job waiting for approval looks again around its expiry, not later."""
    job = _job(status="AWAITING_APPROVAL", approval_expires_at=NOW + timedelta(seconds=2))
    assert max(_delays(job)) <= 2


def test_awaiting_approval_wakes_for_the_reminder() -> None:
    """Half-way to a distant expiry, the job looks again to remind the approvers."""
    job = _job(status="AWAITING_APPROVAL", approval_expires_at=NOW + timedelta(seconds=4))
    assert max(_delays(job)) <= 2
    reminded = job.with_changes(reached=frozenset({"REMINDER"}))
    assert min(_delays(reminded)) > 2


def test_takeover_bound() -> None:
    """The documented bound: the lease plus one claim interval with its jitter."""
    assert Timing(lease_seconds=30, claim_interval=5).takeover_bound == 36.0


@given(
    now=st.floats(min_value=0, max_value=1e6),
    seconds=st.floats(min_value=0, max_value=3600),
    interval=st.sampled_from([0.01, 0.5, 1.0, 10.0, 60.0]),
)
def test_naps_end_on_the_next_slot(now: float, seconds: float, interval: float) -> None:
    slot = Timing(poll_interval=interval).poll_slot
    end = slot_end(now, seconds, slot=slot)
    assert now + seconds <= end < now + seconds + slot + 1e-6
    assert math.isclose(end / slot, round(end / slot), abs_tol=1e-6)


def test_polls_due_close_together_wake_together() -> None:
    slot = TIMING.poll_slot
    assert slot == 0.5  # twenty slots in a 10 s interval
    ends = {slot_end(100.0, delay, slot=slot) for delay in (8.01, 8.2, 8.33, 8.49)}
    assert ends == {108.5}
    assert slot_end(100.0, 8.51, slot=slot) == 109.0
