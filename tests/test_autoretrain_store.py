"""Schedules and triggers in the store: round trip, due, and a claim only one instance wins."""

from __future__ import annotations

import asyncio
from datetime import UTC, datetime, timedelta

from bot.core.autoretrain import AutoKind, AutoRetrain, fire_job_id, new_auto_id
from bot.core.options import RetrainOptions
from bot.core.recurrence import parse_recurrence
from bot.store.autoretrains import AutoRetrainStore
from bot.store.jobs import SqlJobStore

NOW = datetime(2026, 3, 2, 12, 0, tzinfo=UTC)


def _schedule(**changes: object) -> AutoRetrain:
    auto = AutoRetrain(
        id=new_auto_id(AutoKind.SCHEDULE),
        kind=AutoKind.SCHEDULE,
        model_id="MODEL1",
        options=RetrainOptions(train_split_ratio=0.7),
        creator="U1",
        channel="C1",
        created_at=NOW - timedelta(days=1),
        team_id="T1",
        recurrence=parse_recurrence("0 9 * * MON-FRI", "Europe/Paris"),
        next_run=NOW - timedelta(minutes=5),
    )
    return auto.with_changes(**changes)


def _trigger(**changes: object) -> AutoRetrain:
    auto = AutoRetrain(
        id=new_auto_id(AutoKind.TRIGGER),
        kind=AutoKind.TRIGGER,
        model_id="MODEL2",
        options=RetrainOptions(with_feedback=True),
        creator="U2",
        channel="C2",
        created_at=NOW,
        threshold=20,
        baseline=7,
    )
    return auto.with_changes(**changes)


async def test_round_trip_and_removal(store: SqlJobStore) -> None:
    """What is added reads back field for field, in creation order; removal says if it found one."""
    autos = AutoRetrainStore(store)
    schedule, trigger = _schedule(), _trigger()
    await autos.add(schedule)
    await autos.add(trigger)
    assert await autos.all() == [schedule, trigger]
    assert await autos.get(trigger.id) == trigger
    assert await autos.remove(schedule.id) is True
    assert await autos.remove(schedule.id) is False
    assert await autos.all() == [trigger]


async def test_due_lists_past_schedules_and_pending_fires(store: SqlJobStore) -> None:
    """Due: schedules whose run has come, and any fire left pending; never future runs."""
    autos = AutoRetrainStore(store)
    past, future = _schedule(), _schedule(next_run=NOW + timedelta(hours=1))
    stuck, waiting = _trigger(pending="7"), _trigger()
    for auto in (past, future, stuck, waiting):
        await autos.add(auto)
    assert {a.id for a in await autos.due(NOW)} == {past.id, stuck.id}
    assert {a.id for a in await autos.triggers()} == {stuck.id, waiting.id}


async def test_one_claim_wins(store: SqlJobStore, database_url: str) -> None:
    """Two stores (two instances) claiming the same fire at once: exactly one wins."""
    other = SqlJobStore(database_url)
    await other.open()
    try:
        autos, rival = AutoRetrainStore(store), AutoRetrainStore(other)
        schedule = _schedule()
        await autos.add(schedule)
        fire = schedule.next_run.isoformat() if schedule.next_run else ""
        moved = schedule.with_changes(next_run=NOW + timedelta(days=1))
        wins = await asyncio.gather(
            autos.claim(schedule, fire=fire, moved=moved, at=NOW),
            rival.claim(schedule, fire=fire, moved=moved, at=NOW),
        )
        assert sorted(wins) == [False, True]
        stored = await autos.get(schedule.id)
        assert stored is not None
        assert (stored.pending, stored.next_run, stored.claimed_at) == (fire, moved.next_run, NOW)
        # A process that finds the fire still pending takes it over once, whoever races it.
        later = NOW + timedelta(minutes=5)
        takeovers = await asyncio.gather(
            autos.reclaim(stored, at=later), rival.reclaim(stored, at=later)
        )
        assert sorted(takeovers) == [False, True]
        # Pending: nobody claims it again until it is settled.
        assert await rival.claim(stored, fire="again", moved=stored, at=NOW) is False
        job_id = fire_job_id(schedule.id, fire)
        await rival.settle(schedule.id, fire=fire, job_id=job_id, at=NOW)
        settled = await autos.get(schedule.id)
        assert settled is not None
        assert (settled.pending, settled.last_job_id, settled.fired_at) == (None, job_id, NOW)
        assert settled.claimed_at is None
    finally:
        await other.close()


async def test_trigger_claim_moves_the_baseline(store: SqlJobStore) -> None:
    """A trigger's claim compares and moves its baseline; a stale reader loses."""
    autos = AutoRetrainStore(store)
    trigger = _trigger()
    await autos.add(trigger)
    moved = trigger.with_changes(baseline=31)
    assert await autos.claim(trigger, fire="31", moved=moved, at=NOW) is True
    await autos.settle(trigger.id, fire="31", job_id=None, at=NOW)
    assert (
        await autos.claim(trigger, fire="31", moved=moved, at=NOW) is False
    )  # read before the move
    stored = await autos.get(trigger.id)
    assert stored is not None
    assert (stored.baseline, stored.last_job_id) == (31, None)


def test_fire_job_ids_are_shared_and_distinct() -> None:
    """Every instance derives the same job ID for a fire; another fire gets another one."""
    assert fire_job_id("sch-abc", "2026-03-02T09:00") == fire_job_id("sch-abc", "2026-03-02T09:00")
    assert fire_job_id("sch-abc", "2026-03-02T09:00") != fire_job_id("sch-abc", "2026-03-03T09:00")
