"""What the store keeps per workspace, on SQLite and PostgreSQL: reads filtered by team (rows
of no team shown to all), notify choices per team, the audit trail's and schedules' teams,
and Slack's installations."""

from __future__ import annotations

import asyncio
import csv
import io
import json
from datetime import UTC, datetime, timedelta

import sqlalchemy as sa
from slack_sdk.oauth.installation_store import Installation
from slack_sdk.oauth.installation_store.sqlalchemy import AsyncSQLAlchemyInstallationStore

from bot.core.autoretrain import AutoKind, AutoRetrain
from bot.core.jobs import Job
from bot.core.options import RetrainOptions
from bot.store.audit import AuditEvent, AuditKind, AuditLog, export_events
from bot.store.autoretrains import AutoRetrainStore
from bot.store.jobs import SqlJobStore
from bot.store.prefs import NotifyMode, Preferences
from bot.store.schema import BOTS_TABLE, INSTALLATIONS_TABLE

MODEL = "7JXCXTRXTMNLJCEF2DR5CJ46QU"
T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def _job(job_id: str, *, team: str | None, minutes: int = 0, **changes: object) -> Job:
    return Job(
        id=job_id,
        model_id=f"{MODEL}{job_id}",
        options=RetrainOptions(train_split_ratio=0.7),
        requester="U1",
        channel="C1",
        origin_channel="C1",
        created_at=T0 + timedelta(minutes=minutes),
        team_id=team,
        status="SUCCEEDED",
    ).with_changes(**changes)


async def _add(store: SqlJobStore, *jobs: Job) -> None:
    for job in jobs:
        await store.add(job, lease_seconds=30)


async def test_a_job_keeps_its_team_and_enterprise(store: SqlJobStore) -> None:
    """Team and enterprise are stored and read back with the job."""
    job = _job("j1", team="T1", enterprise_id="E1")
    await _add(store, job)
    assert await store.get("j1") == job


async def test_reads_for_a_team_show_its_jobs_and_those_of_no_team(store: SqlJobStore) -> None:
    """recent, of_model, of_requester and unfinished, given a team, leave other teams' jobs
    out; jobs stored without a team are everybody's; without a team, all are read."""
    mine = _job("mine", team="T1", minutes=1)
    theirs = _job("theirs", team="T2", minutes=2)
    legacy = _job("legacy", team=None, minutes=0)
    running = _job("run-T2", team="T2", minutes=3, status="RUNNING", model_id=MODEL)
    await _add(store, mine, theirs, legacy, running)

    def ids(jobs: list[Job]) -> list[str]:
        return [j.id for j in jobs]

    assert ids(await store.recent(limit=10, team_id="T1")) == ["mine", "legacy"]
    assert ids(await store.recent(limit=1, team_id="T1")) == ["mine"]
    assert ids(await store.recent(limit=10)) == ["run-T2", "theirs", "mine", "legacy"]
    assert ids(await store.of_requester("U1", limit=10, team_id="T2")) == [
        "run-T2",
        "theirs",
        "legacy",
    ]
    assert ids(await store.of_requester("U1", limit=10, active=True, team_id="T1")) == []
    assert ids(await store.of_model(MODEL, limit=5, team_id="T1")) == []
    assert ids(await store.of_model(MODEL, limit=5, team_id="T2")) == ["run-T2"]
    # The ended ones still owe their thread replies: unfinished, oldest first.
    assert ids(await store.unfinished(team_id="T1")) == ["legacy", "mine"]
    assert ids(await store.unfinished(team_id="T2")) == ["legacy", "theirs", "run-T2"]


async def test_a_teams_old_training_is_found_behind_many_of_another_team(
    store: SqlJobStore,
) -> None:
    """A team's newest jobs are read by an index, behind 600 newer jobs of another team."""
    await _add(store, _job("old", team="T1"), _job("older", team=None, minutes=-1))
    await asyncio.gather(
        *(store.add(_job(f"n{i}", team="T2", minutes=i + 1), lease_seconds=30) for i in range(600))
    )
    assert [j.id for j in await store.recent(limit=20, team_id="T1")] == ["old", "older"]
    assert len(await store.recent(limit=20, team_id="T2")) == 20
    async with store.connect() as conn:
        names = await conn.run_sync(
            lambda sync: {i["name"] for i in sa.inspect(sync).get_indexes("retrain_jobs")}
        )
    assert "retrain_jobs_team_created" in names


async def test_notify_choices_are_per_team(store: SqlJobStore) -> None:
    """A choice holds in the team it was made in; one of no team (made before teams were
    kept) holds in every team without a choice of its own; asked for no team (a job stored
    before teams were), the latest choice counts."""
    prefs = Preferences(store)
    await prefs.set_notify("U1", NotifyMode.DM, team_id="T1")
    assert await prefs.notify("U1", team_id="T1") == NotifyMode.DM
    assert await prefs.notify("U1", team_id="T2") == NotifyMode.OFF
    await prefs.set_notify("U2", NotifyMode.DM)  # no team: as stored before teams were kept
    await prefs.set_notify("U2", NotifyMode.OFF, team_id="T2")
    assert await prefs.notify("U2", team_id="T1") == NotifyMode.DM
    assert await prefs.notify("U2", team_id="T2") == NotifyMode.OFF
    assert await prefs.notify("U2") == NotifyMode.OFF
    assert await prefs.notify("U1") == NotifyMode.DM
    await prefs.set_notify("U1", NotifyMode.OFF, team_id="T1")
    assert await prefs.notify("U1", team_id="T1") == NotifyMode.OFF


async def test_audit_lines_carry_their_team(store: SqlJobStore) -> None:
    """A line's team and enterprise are stored, read back and exported (last columns)."""
    log = AuditLog(store)
    await log.record(
        AuditEvent(kind=AuditKind.COMMAND, actor="U1", team_id="T1", enterprise_id="E1", at=T0)
    )
    await log.job_event(AuditKind.OUTCOME, _job("j1", team="T2", enterprise_id="E2"))
    first, second = await log.events()
    assert (first.team_id, first.enterprise_id) == ("T1", "E1")
    assert (second.team_id, second.enterprise_id) == ("T2", "E2")
    header, *rows = list(csv.reader(io.StringIO("".join(export_events([first], fmt="csv")))))
    assert header[-2:] == ["team_id", "enterprise_id"]
    assert rows[0][-2:] == ["T1", "E1"]
    [line] = export_events([first], fmt="jsonl")
    assert json.loads(line)["team_id"] == "T1"


async def test_schedules_keep_their_team_and_list_per_team(store: SqlJobStore) -> None:
    """A schedule reads back with its team and enterprise; a team's listing has its own and
    those of no team."""
    autos = AutoRetrainStore(store)

    def made(auto_id: str, team: str | None, minutes: int) -> AutoRetrain:
        return AutoRetrain(
            id=auto_id,
            kind=AutoKind.TRIGGER,
            model_id=MODEL,
            options=RetrainOptions(),
            creator="U1",
            channel="C1",
            created_at=T0 + timedelta(minutes=minutes),
            team_id=team,
            enterprise_id="E1" if team else None,
            threshold=5,
            baseline=0,
        )

    mine, theirs, legacy = (
        made("trg-mine", "T1", 1),
        made("trg-them", "T2", 2),
        made("trg-old", None, 0),
    )
    for auto in (mine, theirs, legacy):
        await autos.add(auto)
    assert await autos.get("trg-mine") == mine
    assert [a.id for a in await autos.all(team_id="T1")] == ["trg-old", "trg-mine"]
    assert [a.id for a in await autos.all()] == ["trg-old", "trg-mine", "trg-them"]


async def test_slack_installations_are_kept_in_the_migrated_tables(store: SqlJobStore) -> None:
    """slack_sdk's installation store, on the tables the migrations made, saves an install
    and finds its bot, per workspace."""
    installs = AsyncSQLAlchemyInstallationStore(
        client_id="111.222",
        engine=store.engine,
        installations_table_name=INSTALLATIONS_TABLE,
        bots_table_name=BOTS_TABLE,
    )
    await installs.async_save(
        Installation(
            app_id="A1",
            enterprise_id="E1",
            team_id="T1",
            user_id="U1",
            bot_token="xoxb-team-one",
            bot_id="B1",
            bot_user_id="UB1",
            bot_scopes="commands,chat:write",
        )
    )
    bot = await installs.async_find_bot(enterprise_id="E1", team_id="T1")
    assert bot is not None
    assert bot.bot_token == "xoxb-team-one"
    assert await installs.async_find_bot(enterprise_id=None, team_id="T2") is None
