"""Schedules and feedback triggers end to end: signed commands, fires, the channel, the trail."""

from __future__ import annotations

import asyncio
import json
from datetime import UTC, datetime, timedelta
from zoneinfo import ZoneInfo

import pytest
import sqlalchemy as sa

from bot.app import Bot, create_bot
from bot.core.autoretrain import AutoKind, AutoRetrain
from bot.core.options import RetrainOptions
from bot.core.recurrence import Recurrence
from bot.fakes.slack import Channel
from bot.store.audit import AuditKind, AuditLog
from bot.store.autoretrains import AutoRetrainStore
from bot.store.schema import autoretrains_table
from tests.conftest import CHANNEL, USER, Stack

MODEL = "7JXCXTRXTMNLJCEF2DR5CJ46QU"
FAST = pytest.mark.timing(schedule_tick=0.05, trigger_interval=0.1)


async def _autos(stack: Stack) -> list[AutoRetrain]:
    return await AutoRetrainStore(stack.bot.store).all()  # type: ignore[arg-type]


async def _make_due(bot: Bot, auto_id: str, *, ago: timedelta) -> None:
    """Time passes: the schedule's next run is now `ago` in the past."""
    async with bot.store.begin() as conn:  # type: ignore[attr-defined]
        await conn.execute(
            autoretrains_table.update()
            .where(autoretrains_table.c.id == auto_id)
            .values(next_run=datetime.now(UTC) - ago)
        )


async def _fired(stack: Stack) -> list[str | None]:
    """The outcomes of the fires in the trail."""
    events = await AuditLog(stack.bot.store).events()  # type: ignore[arg-type]
    return [e.outcome for e in events if e.kind == AuditKind.SCHEDULE_FIRED]


async def _wait(condition: object, *, timeout: float = 10.0) -> None:
    deadline = asyncio.get_running_loop().time() + timeout
    while asyncio.get_running_loop().time() < deadline:
        if await condition():  # type: ignore[operator]
            return
        await asyncio.sleep(0.02)
    raise TimeoutError("condition not met")


async def test_schedule_is_made_listed_and_removed(stack: Stack) -> None:
    """The answer gives the ID and the next run in each reader's time; the list and the trail
    show it; its creator removes it."""
    stack.simulator.add_model(MODEL)
    _, url = await stack.command(f'schedule {MODEL} cron="0 6 * * MON" tz=Europe/Paris split=0.7')
    answer = await stack.wait_private(url)
    (auto,) = await _autos(stack)
    assert auto.id in answer
    assert "<!date^" in answer
    assert "Next run" in answer
    assert auto.next_run is not None
    assert auto.next_run.astimezone(ZoneInfo("Europe/Paris")).hour == 6
    _, url = await stack.command("schedules")
    listing = await stack.wait_private(url)
    assert auto.id in listing
    assert "split=0.7" in listing
    assert "At 06:00 on Monday (Europe/Paris)" in listing
    _, url = await stack.command(f"unschedule {auto.id}")
    assert "removed" in await stack.wait_private(url)
    assert await _autos(stack) == []
    kinds = [e.kind for e in await AuditLog(stack.bot.store).events()]  # type: ignore[arg-type]
    assert AuditKind.SCHEDULE_CREATED in kinds
    assert AuditKind.SCHEDULE_REMOVED in kinds


@FAST
async def test_a_due_schedule_fires_once_as_a_normal_job(stack: Stack) -> None:
    """Days of missed hourly runs start one retrain, whose card names the schedule and its
    creator; the next run is after now."""
    stack.simulator.add_model(MODEL)
    _, url = await stack.command(f"schedule {MODEL} cron=@hourly epochs=5")
    await stack.wait_private(url)
    (auto,) = await _autos(stack)
    await _make_due(stack.bot, auto.id, ago=timedelta(days=3))
    await stack.wait_final()
    await asyncio.sleep(0.3)  # more passes of the loop: nothing more may fire
    assert len(stack.simulator.calls("retrain")) == 1
    assert await _fired(stack) == ["started"]
    (card,) = stack.cards()
    assert f"schedule `{auto.id}` of <@{USER}>" in str(card.blocks)
    (fired,) = await _autos(stack)
    assert fired.pending is None
    assert fired.next_run is not None
    assert fired.next_run > datetime.now(UTC)
    assert fired.last_job_id is not None


@FAST
@pytest.mark.settings(retrain_allowed_users=USER)
async def test_a_refused_fire_is_said_once(stack: Stack) -> None:
    """A creator no longer allowed: the fire is refused in the channel, once for two fires."""
    stack.simulator.add_model(MODEL)
    autos = AutoRetrainStore(stack.bot.store)  # type: ignore[arg-type]
    auto = AutoRetrain(
        id="sch-abcdef",
        kind=AutoKind.SCHEDULE,
        model_id=MODEL,
        options=RetrainOptions(),
        creator="U0FORMERLY",
        channel=CHANNEL,
        created_at=datetime.now(UTC),
        recurrence=Recurrence("@hourly"),
        next_run=datetime.now(UTC) - timedelta(minutes=1),
    )
    await autos.add(auto)
    for _ in range(2):
        await _make_due(stack.bot, auto.id, ago=timedelta(minutes=1))
        await _wait(lambda: _settled(autos, auto.id))
    notes = [m.text for m in stack.slack.messages(CHANNEL) if "did not start" in (m.text or "")]
    assert len(notes) == 1
    assert "sch-abcdef" in notes[0]
    assert stack.simulator.calls("retrain") == []


async def _settled(autos: AutoRetrainStore, auto_id: str) -> bool:
    auto = await autos.get(auto_id)
    return (
        auto is not None
        and auto.pending is None
        and auto.next_run is not None
        and (auto.next_run > datetime.now(UTC))
    )


@FAST
async def test_a_fire_while_training_is_skipped_with_a_note(stack: Stack) -> None:
    """The model already training: the fire starts nothing and says so in the channel."""
    stack.simulator.add_model(MODEL)
    stack.simulator.script(MODEL, queue_seconds=30, run_seconds=3000)
    await stack.command(MODEL)
    _, url = await stack.command(f"schedule {MODEL} cron=@daily")
    await stack.wait_private(url)
    (auto,) = await _autos(stack)
    await _make_due(stack.bot, auto.id, ago=timedelta(minutes=1))
    await stack.slack.wait_for(
        lambda: [m for m in stack.slack.messages(CHANNEL) if "skipped this run" in (m.text or "")],
        timeout=10,
        what="a skip note",
    )
    # The command's own retrain may be called after the note: background work waits for
    # requests being answered (bot.foreground). The skipped fire adds none.
    await stack.slack.wait_for(lambda: stack.simulator.calls("retrain"), what="the retrain")
    assert len(stack.simulator.calls("retrain")) == 1


@FAST
async def test_feedback_trigger_fires_when_enough_feedback_arrived(stack: Stack) -> None:
    """`when feedback>=3`: two new examples do nothing, the third retrains with feedback."""
    stack.simulator.add_model(MODEL)
    stack.simulator.add_feedback(MODEL, count=4)  # before the trigger: not counted
    _, url = await stack.command(f"when {MODEL} feedback&gt;=3")
    answer = await stack.wait_private(url)
    (auto,) = await _autos(stack)
    assert auto.baseline == 4
    assert auto.id in answer
    stack.simulator.add_feedback(MODEL, count=2)
    await asyncio.sleep(0.4)
    assert stack.simulator.calls("retrain") == []
    _, url = await stack.command("schedules")
    assert "2 of 3 feedback examples" in await stack.wait_private(url)
    stack.simulator.add_feedback(MODEL, count=1)
    await stack.wait_final()
    (call,) = stack.simulator.calls("retrain")
    assert call.form is not None
    assert json.loads(call.form["trainParams"])["withFeedback"] is True


@pytest.mark.settings(retrain_allowed_users=f"{USER},U0OTHER")
async def test_unschedule_by_someone_else_follows_the_rules(stack: Stack) -> None:
    """Someone allowed to retrain the model may remove another's schedule; others may not."""
    stack.simulator.add_model(MODEL)
    _, url = await stack.command(f"schedule {MODEL} cron=@daily")
    await stack.wait_private(url)
    (auto,) = await _autos(stack)
    _, url = await stack.command(f"unschedule {auto.id}", user="U0STRANGER")
    assert "only they or someone allowed" in await stack.wait_private(url)
    _, url = await stack.command("unschedule sch-zzzzzz", user="U0OTHER")
    assert "There is no schedule or trigger `sch-zzzzzz`" in await stack.wait_private(url)
    _, url = await stack.command(f"unschedule {auto.id}", user="U0OTHER")
    assert "removed" in await stack.wait_private(url)


@pytest.mark.database("postgresql")
@FAST
async def test_two_instances_fire_once(stack: Stack) -> None:
    """Two bots on one PostgreSQL database: a due schedule starts one retrain, not two."""
    stack.simulator.add_model(MODEL)
    other = create_bot(stack.bot.settings, schedule_tick=0.05, claim_interval=0.05)
    await other.start()
    try:
        _, url = await stack.command(f"schedule {MODEL} cron=@hourly")
        await stack.wait_private(url)
        (auto,) = await _autos(stack)
        await _make_due(stack.bot, auto.id, ago=timedelta(hours=5))
        await stack.wait_final()
        await asyncio.sleep(0.5)
        assert len(stack.simulator.calls("retrain")) == 1
        async with stack.bot.store.begin() as conn:  # type: ignore[attr-defined]
            jobs = (await conn.execute(sa.text("SELECT count(*) FROM retrain_jobs"))).scalar()
        assert jobs == 1
        assert await _fired(stack) == ["started"]
        assert not [m for m in stack.slack.messages(CHANNEL) if "skipped" in (m.text or "")]
    finally:
        await other.stop()


@FAST
async def test_runs_missed_while_no_instance_ran_fire_once_at_start_up(stack: Stack) -> None:
    """The bot stops; two days of hourly runs pass; the next bot fires once when it starts."""
    stack.simulator.add_model(MODEL)
    _, url = await stack.command(f"schedule {MODEL} cron=@hourly")
    await stack.wait_private(url)
    (auto,) = await _autos(stack)
    await stack.bot.stop()
    later = create_bot(stack.bot.settings, schedule_tick=0.05, claim_interval=0.05)
    await later.store.open()
    await _make_due(later, auto.id, ago=timedelta(days=2))
    await later.store.close()
    await later.start()
    try:
        await _wait(lambda: _has_job(later))
        await asyncio.sleep(0.3)
        assert len(stack.simulator.calls("retrain")) == 1
        (fired,) = await AutoRetrainStore(later.store).all()  # type: ignore[arg-type]
        assert fired.next_run is not None
        assert fired.next_run > datetime.now(UTC)
    finally:
        await later.stop()
        stack.bot = later  # the fixture stops the bot it holds


async def _has_job(bot: Bot) -> bool:
    return bool(await bot.store.recent(limit=5))


@pytest.mark.slack(
    channels=[
        Channel(id=CHANNEL, name="general"),
        Channel(id="G0PRIVATE1", name="secret", is_private=True, members=frozenset({USER})),
    ]
)
async def test_schedules_of_a_private_channel_are_listed_to_its_members_only(stack: Stack) -> None:
    """Someone outside a private channel sees neither its schedule nor the channel's name."""
    stack.simulator.add_model(MODEL)
    _, url = await stack.command(f"schedule {MODEL} cron=@daily", channel="G0PRIVATE1")
    await stack.wait_private(url)
    (auto,) = await _autos(stack)
    _, url = await stack.command("schedules", user="U0OUTSIDER")
    outside = await stack.wait_private(url)
    assert auto.id not in outside
    assert "G0PRIVATE1" not in outside
    assert MODEL not in outside
    assert "1 more in private channels" in outside
    _, url = await stack.command("schedules")
    assert auto.id in await stack.wait_private(url)
