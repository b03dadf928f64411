"""Revision 0002 (workspaces) on SQLite and PostgreSQL: a database at 0001 keeps its rows, the
audit trail stays append-only, and the downgrade gives back 0001's schema with its rows."""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic import command
from alembic.autogenerate import compare_metadata
from alembic.config import Config
from alembic.runtime.migration import MigrationContext

from bot.core.autoretrain import AutoKind, AutoRetrain
from bot.core.jobs import Job
from bot.core.options import RetrainOptions
from bot.store import migrations
from bot.store.audit import AuditEvent, AuditKind, AuditLog
from bot.store.autoretrains import AutoRetrainStore
from bot.store.jobs import SqlJobStore
from bot.store.migrate import head, schema_status, upgrade_schema
from bot.store.migrations.baseline import baseline
from bot.store.prefs import NotifyMode, Preferences
from bot.store.rows import to_row
from bot.store.schema import BOTS_TABLE, INSTALLATIONS_TABLE, metadata
from tests.test_migrations import _run

MODEL = "7JXCXTRXTMNLJCEF2DR5CJ46QU"
T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)
JOB = Job(
    id="running",
    model_id=MODEL,
    options=RetrainOptions(train_split_ratio=0.7),
    requester="U1",
    channel="C1",
    origin_channel="C1",
    created_at=T0,
    team_id="T1",
    status="RUNNING",
    parent_ts="1.1",
)
OLD_JOB = JOB.with_changes(id="old", team_id=None, status="SUCCEEDED", reported=frozenset())


def _to(revision: str, *, down: bool = False) -> Callable[[sa.Connection], None]:
    """Alembic's upgrade (or downgrade) to `revision`, on the connection it is run with."""

    def run(connection: sa.Connection) -> None:
        config = Config()
        config.set_main_option("script_location", str(Path(migrations.__file__).parent))
        config.attributes["connection"] = connection
        (command.downgrade if down else command.upgrade)(config, revision)

    return run


def _fill_0001(connection: sa.Connection) -> None:
    """Rows of every table as a release at 0001 wrote them."""
    tables = baseline.tables
    jobs = tables["retrain_jobs"]
    for job in (OLD_JOB, JOB):
        row = {k: v for k, v in to_row(job).items() if k in jobs.c}
        connection.execute(jobs.insert().values(**row))
    connection.execute(
        tables["retrain_audit"].insert(),
        [{"at": T0, "kind": "command", "actor": "U1", "model_id": MODEL, "job_id": "running"}],
    )
    connection.execute(
        tables["retrain_user_prefs"].insert().values(user_id="U1", notify="dm", updated_at=T0)
    )
    connection.execute(
        tables["retrain_autoretrains"]
        .insert()
        .values(
            id="trg-abcdef",
            kind="trigger",
            model_id=MODEL,
            options="{}",
            creator="U1",
            channel="C1",
            team_id="T1",
            created_at=T0,
            threshold=20,
            baseline=3,
        )
    )


def _differences(target: sa.MetaData) -> Callable[[sa.Connection], list[Any]]:
    return lambda connection: list(compare_metadata(MigrationContext.configure(connection), target))


def _tables(connection: sa.Connection) -> set[str]:
    return set(sa.inspect(connection).get_table_names())


async def _assert_append_only(url: str) -> None:
    for statement in ("UPDATE retrain_audit SET actor = 'U9'", "DELETE FROM retrain_audit"):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"):
            await _run(url, lambda conn, s=statement: conn.execute(sa.text(s)))


async def test_a_database_at_0001_keeps_its_rows(database_url: str) -> None:
    """Jobs, audit lines, choices and triggers of 0001 read back the same after the upgrade,
    with no team where none was stored; the trail is still append-only."""
    await _run(database_url, _to("0001"))
    await _run(database_url, _fill_0001)
    store = SqlJobStore(database_url)
    await store.open()
    try:
        assert await store.get("running") == JOB
        assert await store.get("old") == OLD_JOB
        [event] = await AuditLog(store).events()
        assert (event.kind, event.job_id, event.team_id, event.enterprise_id) == (
            "command",
            "running",
            None,
            None,
        )
        # The choice made before teams counts in every team.
        assert await Preferences(store).notify("U1", team_id="T7") == NotifyMode.DM
        trigger = await AutoRetrainStore(store).get("trg-abcdef")
        assert trigger is not None
        assert (trigger.kind, trigger.team_id, trigger.enterprise_id) == (
            AutoKind.TRIGGER,
            "T1",
            None,
        )
    finally:
        await store.close()
    assert await schema_status(database_url) == (head(), head())
    assert {INSTALLATIONS_TABLE, BOTS_TABLE} <= await _run(database_url, _tables)
    assert await _run(database_url, _differences(metadata)) == []
    await _assert_append_only(database_url)


async def test_downgrade_gives_back_0001_with_its_rows(database_url: str) -> None:
    """Down to 0001: its exact schema, the trail append-only, jobs and audit lines kept, and
    one choice per person (the one of no team, else the latest); then up again."""
    await upgrade_schema(database_url)
    store = SqlJobStore(database_url)
    await store.open()
    try:
        await store.add(JOB.with_changes(enterprise_id="E1"), lease_seconds=30)
        await AuditLog(store).record(
            AuditEvent(kind=AuditKind.COMMAND, actor="U1", team_id="T1", enterprise_id="E1")
        )
        await AutoRetrainStore(store).add(
            AutoRetrain(
                id="sch-abcdef",
                kind=AutoKind.TRIGGER,
                model_id=MODEL,
                options=RetrainOptions(),
                creator="U1",
                channel="C1",
                created_at=T0,
                team_id="T1",
                enterprise_id="E1",
                threshold=5,
                baseline=0,
            )
        )
        async with store.begin() as conn:
            prefs = metadata.tables["retrain_user_prefs"]
            await conn.execute(
                prefs.insert(),
                [
                    {"user_id": "U1", "team_id": "", "notify": "dm", "updated_at": T0},
                    {"user_id": "U1", "team_id": "T1", "notify": "off", "updated_at": T0},
                    {"user_id": "U2", "team_id": "T1", "notify": "dm", "updated_at": T0},
                    {
                        "user_id": "U2",
                        "team_id": "T2",
                        "notify": "off",
                        "updated_at": T0 + timedelta(hours=1),
                    },
                ],
            )
    finally:
        await store.close()
    await _run(database_url, _to("0001", down=True))
    assert await schema_status(database_url) == ("0001", head())
    assert await _run(database_url, _differences(baseline)) == []
    await _assert_append_only(database_url)

    def read(connection: sa.Connection) -> tuple[Any, ...]:
        tables = baseline.tables
        return (
            connection.execute(sa.select(tables["retrain_jobs"].c.id)).scalars().all(),
            connection.execute(sa.select(tables["retrain_audit"].c.actor)).scalars().all(),
            sorted(
                connection.execute(
                    sa.select(
                        tables["retrain_user_prefs"].c.user_id,
                        tables["retrain_user_prefs"].c.notify,
                    )
                ).all()
            ),
            connection.execute(sa.select(tables["retrain_autoretrains"].c.id)).scalars().all(),
        )

    jobs, actors, prefs_kept, autos = await _run(database_url, read)
    assert (jobs, actors, autos) == (["running"], ["U1"], ["sch-abcdef"])
    assert prefs_kept == [("U1", "dm"), ("U2", "off")]
    assert await upgrade_schema(database_url) == ("0001", head())
    assert await _run(database_url, _differences(metadata)) == []
