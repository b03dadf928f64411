"""Alembic, driven from code: the upgrade itself, and the revisions this code ships.

`bot.store.migrate` decides whether a database needs this and handles locking, retries and
errors; this module is the part that needs Alembic.
"""

from __future__ import annotations

import functools
from pathlib import Path

import sqlalchemy as sa
from alembic import command
from alembic.config import Config
from alembic.runtime.migration import MigrationContext
from alembic.script import ScriptDirectory
from alembic.util.exc import CommandError

from bot.core.jobs import JobStatus
from bot.core.owed import pending
from bot.errors import StoreError
from bot.store import migrations
from bot.store.migrations import baseline
from bot.store.rows import to_job
from bot.store.schema import jobs_table

__all__ = ["BASELINE", "CommandError", "head", "known", "upgrade"]

BASELINE = "0001"


def head() -> str:
    """The latest revision this code knows."""
    latest = _script().get_current_head()
    if latest is None:  # pragma: no cover - the package always ships revision 0001
        raise StoreError("no schema revision is installed")
    return latest


@functools.cache
def known() -> frozenset[str]:
    """Every revision this code knows."""
    return frozenset(s.revision for s in _script().walk_revisions())


def upgrade(connection: sa.Connection, before: str | None) -> None:
    """Bring the database from revision `before` (None: none recorded) to `head()`, adopting
    one made before migrations. The caller has read `before` and checked that this code knows
    it."""
    adopted = before is None and _made_before_migrations(connection)
    if adopted:
        baseline.adopt(connection)
        MigrationContext.configure(connection).stamp(_script(), BASELINE)
    config = _config()
    config.attributes["connection"] = connection
    command.upgrade(config, "head")
    if adopted:
        _backfill_pending(connection)


def _made_before_migrations(connection: sa.Connection) -> bool:
    names = set(sa.inspect(connection).get_table_names())
    return bool(names & set(baseline.baseline.tables))


def _backfill_pending(connection: sa.Connection) -> None:
    """Rows written before `pending` existed get it from the same rule as every save."""
    c = jobs_table.c
    for row in connection.execute(jobs_table.select().where(c.pending.is_(None))).all():
        job = to_job(row._mapping)
        if job.status == JobStatus.REJECTED:
            # Releases before `pending` told the requester at once and recorded nothing.
            job = job.with_changes(reported=job.reported | {JobStatus.REJECTED})
        connection.execute(jobs_table.update().where(c.id == row.id).values(pending=pending(job)))


def _config() -> Config:
    config = Config()
    location = str(Path(migrations.__file__).parent)
    config.set_main_option("script_location", location.replace("%", "%%"))
    return config


@functools.cache
def _script() -> ScriptDirectory:
    return ScriptDirectory.from_config(_config())
