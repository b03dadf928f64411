"""Schema migrations on SQLite and PostgreSQL: fresh, adopted from before migrations, too new."""

from __future__ import annotations

import asyncio
import json
import os
import subprocess
import sys
from datetime import UTC, datetime
from pathlib import Path
from typing import Any

import pytest
import sqlalchemy as sa
from alembic.autogenerate import compare_metadata
from alembic.runtime.migration import MigrationContext
from sqlalchemy.ext.asyncio import create_async_engine

from bot.core.jobs import Job
from bot.core.options import RetrainOptions
from bot.errors import StoreError
from bot.fakes.loopback import free_port
from bot.store.audit import AuditLog
from bot.store.jobs import SqlJobStore, async_database_url
from bot.store.migrate import HEAD, SchemaTooNew, head, schema_status, upgrade_schema
from bot.store.migrations import runner
from bot.store.migrations.baseline import ADDED_COLUMNS, APPEND_ONLY, baseline
from bot.store.migrations.baseline import jobs as baseline_jobs
from bot.store.rows import to_row
from bot.store.schema import ACTIVE, metadata
from tests.conftest import postgres_database

ROOT = Path(__file__).resolve().parents[1]
MODEL = "7JXCXTRXTMNLJCEF2DR5CJ46QU"
T0 = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def _job(job_id: str, **changes: Any) -> Job:
    return Job(
        id=job_id,
        model_id=MODEL,
        options=RetrainOptions(train_split_ratio=0.7, with_feedback=True),
        requester="U1",
        channel="C1",
        origin_channel="C1",
        created_at=T0,
    ).with_changes(**changes)


def _legacy_metadata() -> sa.MetaData:
    """The schema as releases before migrations made it on a database that predates
    `ADDED_COLUMNS`: `create_all` of the baseline's tables, without those columns and their
    index."""
    legacy = sa.MetaData()
    for table in baseline.sorted_tables:
        if table is not baseline_jobs:
            table.to_metadata(legacy)
    jobs = sa.Table(
        baseline_jobs.name,
        legacy,
        *(
            sa.Column(c.name, c.type, primary_key=c.primary_key, nullable=c.nullable, index=c.index)
            for c in baseline_jobs.columns
            if c.name not in ADDED_COLUMNS
        ),
    )
    sa.Index(
        "retrain_jobs_one_active_per_model",
        jobs.c.model_id,
        unique=True,
        sqlite_where=jobs.c.status.in_(ACTIVE),
        postgresql_where=jobs.c.status.in_(ACTIVE),
    )
    sa.Index("retrain_jobs_lease", jobs.c.lease_expires)
    return legacy


def _create_legacy(connection: sa.Connection) -> None:
    _legacy_metadata().create_all(connection)
    for statement in APPEND_ONLY[connection.dialect.name]:
        connection.execute(sa.text(statement))
    for job in (_job("done", status="REJECTED"), _job("running", status="RUNNING")):
        row = {
            k: v for k, v in to_row(job).items() if k in baseline_jobs.c and k not in ADDED_COLUMNS
        }
        connection.execute(sa.text(_insert(row)), row)
    for kind in ("command", "submitted"):
        connection.execute(
            sa.text(
                "INSERT INTO retrain_audit (at, kind, actor, model_id) VALUES (:at, :k, 'U1', :m)"
            ),
            {"at": T0, "k": kind, "m": MODEL},
        )


def _insert(row: dict[str, Any]) -> str:
    # The column names are the store's own, not input.
    names = ", ".join(row)
    values = ", ".join(f":{name}" for name in row)
    return f"INSERT INTO retrain_jobs ({names}) VALUES ({values})"  # noqa: S608


async def _run(url: str, fn: Any) -> Any:
    engine = create_async_engine(async_database_url(url))
    try:
        async with engine.begin() as conn:
            return await conn.run_sync(fn)
    finally:
        await engine.dispose()


def _differences(connection: sa.Connection) -> list[Any]:
    return list(compare_metadata(MigrationContext.configure(connection), metadata))


def _exists(path: str) -> bool:
    return Path(path).exists()


def _stamp_newer(connection: sa.Connection) -> None:
    connection.execute(sa.text("UPDATE alembic_version SET version_num = '9999'"))


def _stamp_second(connection: sa.Connection) -> None:
    connection.execute(sa.text("INSERT INTO alembic_version (version_num) VALUES ('9999')"))


async def test_fresh_database_migrates_to_head(database_url: str) -> None:
    """An empty database is brought from no revision to the latest, and says so."""
    assert await schema_status(database_url) == (None, head())
    assert await upgrade_schema(database_url) == (None, head())
    assert await schema_status(database_url) == (head(), head())


async def test_status_of_a_missing_sqlite_file_creates_nothing(sqlite_url: str) -> None:
    """Asking a SQLite database's revision does not create its file."""
    assert await schema_status(sqlite_url) == (None, head())
    assert not _exists(sqlite_url.removeprefix("sqlite:///"))


async def test_migrated_schema_equals_metadata(database_url: str) -> None:
    """The migrations make exactly the schema the code declares (a change needs a revision)."""
    await upgrade_schema(database_url)
    assert await _run(database_url, _differences) == []


async def test_adopted_schema_equals_metadata(database_url: str) -> None:
    """A database made before migrations ends with exactly the schema the code declares."""
    await _run(database_url, _create_legacy)
    assert await upgrade_schema(database_url) == (None, head())
    assert await _run(database_url, _differences) == []


async def test_database_from_before_migrations_keeps_its_rows(database_url: str) -> None:
    """Its jobs and audit entries survive; the added columns read as unknown, pending backfilled."""
    await _run(database_url, _create_legacy)
    store = SqlJobStore(database_url)
    await store.open()
    try:
        done, running = await store.get("done"), await store.get("running")
        assert done is not None
        assert running is not None
        assert (done.status, running.status) == ("REJECTED", "RUNNING")
        assert running.private_channels is None
        assert [j.id for j in await store.unfinished()] == ["running"]
        events = await AuditLog(store).events()
        assert [(e.kind, e.model_id) for e in events] == [("command", MODEL), ("submitted", MODEL)]
    finally:
        await store.close()
    assert await schema_status(database_url) == (head(), head())


async def test_adopted_audit_trail_stays_append_only(database_url: str) -> None:
    """After the upgrade the database still refuses UPDATE and DELETE on the audit trail."""
    await _run(database_url, _create_legacy)
    await upgrade_schema(database_url)
    for statement in ("UPDATE retrain_audit SET actor = 'U9'", "DELETE FROM retrain_audit"):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"):
            await _run(database_url, lambda conn, s=statement: conn.execute(sa.text(s)))


def test_the_head_constant_is_the_latest_revision_shipped() -> None:
    """`HEAD`, which start-up compares without Alembic, is the head of the revisions shipped."""
    assert runner.head() == HEAD
    assert HEAD in runner.known()


# What `python -m bot serve` imports, then its store opened and closed on the database in
# argv[1]; prints the Alembic and Mako modules loaded.
OPEN_LIKE_SERVE = """
import asyncio, json, sys
import bot.server
from bot.store.jobs import SqlJobStore

async def main():
    store = SqlJobStore(sys.argv[1])
    await store.open()
    await store.close()

asyncio.run(main())
print(json.dumps(sorted(m for m in sys.modules if m.split(".")[0] in ("alembic", "mako"))))
"""


def _modules_after_open(database_url: str) -> list[str]:
    result = subprocess.run(
        [sys.executable, "-c", OPEN_LIKE_SERVE, database_url],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        check=True,
    )
    loaded: list[str] = json.loads(result.stdout)
    return loaded


async def test_start_up_on_a_migrated_database_leaves_alembic_unloaded(
    database_url: str,
) -> None:
    """The bot's own imports and its store opening load Alembic only while there is a
    migration to run: once the release phase has migrated, a serving process goes without."""
    assert "alembic.command" in _modules_after_open(database_url)  # the empty database
    assert await schema_status(database_url) == (HEAD, HEAD)
    assert _modules_after_open(database_url) == []


async def test_several_recorded_revisions_stop_start_up(database_url: str) -> None:
    """Branches in `alembic_version`, which this code never makes, stop start-up by name."""
    await upgrade_schema(database_url)
    await _run(database_url, _stamp_second)
    with pytest.raises(StoreError, match=f"several schema revisions: {HEAD}, 9999"):
        await SqlJobStore(database_url).open()


async def test_database_newer_than_the_code_stops_start_up(database_url: str) -> None:
    """A revision this code does not know stops the store opening, naming both revisions."""
    await upgrade_schema(database_url)
    await _run(database_url, _stamp_newer)
    store = SqlJobStore(database_url)
    with pytest.raises(SchemaTooNew, match=rf"revision 9999.*latest is {head()}.*upgrade the bot"):
        await store.open()
    assert await schema_status(database_url) == ("9999", head())


async def test_instances_starting_together_migrate_once() -> None:
    """Two stores opening at once on PostgreSQL both open; only one of them migrates."""
    async with postgres_database() as url:
        both = asyncio.gather(upgrade_schema(url), upgrade_schema(url))
        results = await asyncio.wait_for(both, timeout=30)
        assert set(results) == {(None, head()), (head(), head())}
        stores = [SqlJobStore(url), SqlJobStore(url)]
        await asyncio.gather(*(s.open() for s in stores))
        try:
            await stores[0].add(_job("one", status="SUBMITTING"), lease_seconds=30)
            assert await stores[1].get("one") is not None
        finally:
            await asyncio.gather(*(s.close() for s in stores))


def _cli(database_url: str, *args: str, **env: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "bot", *args],
        cwd=ROOT,
        capture_output=True,
        text=True,
        timeout=60,
        env={"PATH": os.environ.get("PATH", ""), "DATABASE_URL": database_url, **env},
        check=False,
    )


def test_migrate_command_says_from_which_revision_to_which(sqlite_url: str) -> None:
    """`python -m bot migrate` exits 0 with one line: from none to the latest, then at it."""
    first = _cli(sqlite_url, "migrate")
    assert (first.returncode, first.stdout) == (
        0,
        f"database schema upgraded from revision (none) to {head()}\n",
    )
    again = _cli(sqlite_url, "migrate")
    assert (again.returncode, again.stdout) == (
        0,
        f"database schema already at revision {head()}, the latest; nothing to upgrade\n",
    )


def test_migrate_command_failure_is_one_line_without_the_password() -> None:
    """An unreachable database: exit 1, one line, no traceback and no password."""
    url = f"postgresql://postgres:s3cr3t-pw@127.0.0.1:{free_port()}/retrain"
    result = _cli(url, "migrate")
    assert result.returncode == 1
    assert result.stdout == ""
    assert result.stderr.startswith("retrain-bot: schema migration failed: ")
    assert result.stderr.count("\n") == 1
    assert "s3cr3t-pw" not in result.stderr
    assert "Traceback" not in result.stderr


async def test_migrate_command_refuses_a_newer_database(sqlite_url: str) -> None:
    """A database a newer release migrated: exit 1 and the message naming both revisions."""
    await upgrade_schema(sqlite_url)
    await _run(sqlite_url, _stamp_newer)
    result = _cli(sqlite_url, "migrate")
    assert result.returncode == 1
    assert result.stderr == (
        f"retrain-bot: the database schema is at revision 9999, newer than this bot knows "
        f"(its latest is {head()}): upgrade the bot to the release that migrated it\n"
    )


async def test_serving_stops_on_a_newer_database(sqlite_url: str) -> None:
    """`python -m bot serve` on a database newer than the code exits 1 with that message."""
    await upgrade_schema(sqlite_url)
    await _run(sqlite_url, _stamp_newer)
    result = _cli(
        sqlite_url,
        "serve",
        SLACK_BOT_TOKEN="xoxb-test-token",
        SLACK_SIGNING_SECRET="test-signing-secret",
        EINSTEIN_ACCESS_TOKEN="test-access-token",
        EINSTEIN_API_URL=f"http://127.0.0.1:{free_port()}/",
        SLACK_API_URL=f"http://127.0.0.1:{free_port()}/api/",
        PORT=str(free_port()),
    )
    assert result.returncode == 1
    assert result.stderr.splitlines()[-1] == (
        f"retrain-bot: the database schema is at revision 9999, newer than this bot knows "
        f"(its latest is {head()}): upgrade the bot to the release that migrated it"
    )


async def test_two_migrate_processes_at_once_migrate_once() -> None:
    """Two `python -m bot migrate` started together on PostgreSQL: both exit 0, one migrates."""
    async with postgres_database() as url:
        env = {"PATH": os.environ.get("PATH", ""), "DATABASE_URL": url}
        processes = [
            subprocess.Popen(
                [sys.executable, "-m", "bot", "migrate"],
                cwd=ROOT,
                env=env,
                stdout=subprocess.PIPE,
                stderr=subprocess.DEVNULL,
                text=True,
            )
            for _ in range(2)
        ]
        outputs = [p.communicate(timeout=60)[0] for p in processes]
        assert [p.returncode for p in processes] == [0, 0]
        assert sorted(outputs) == [
            f"database schema already at revision {head()}, the latest; nothing to upgrade\n",
            f"database schema upgraded from revision (none) to {head()}\n",
        ]
