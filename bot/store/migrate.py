"""Schema migrations: the database brought to this code's latest revision, once, safely.

Start-up (`SqlJobStore.open`) and `python -m bot migrate` (Heroku's release phase) both run
`upgrade_engine`. A database already at `HEAD` is left as it is after one read, without loading
Alembic (`bot.store.migrations.runner`). Otherwise the upgrade works in one transaction under a
lock (PostgreSQL's advisory lock `SCHEMA_LOCK`, SQLite's write lock), so of several instances
starting together one migrates and the others wait, then find the schema at the latest
revision. The revisions themselves are in `bot.store.migrations`. A database is one of:

- empty: revision 0001 creates everything, later revisions follow;
- made before migrations existed (the bot's tables, no `alembic_version`): brought to 0001
  (missing columns, tables, indexes and the audit trigger are added, no row is lost), stamped
  0001, then upgraded like any other;
- at a revision this code does not know, because a newer release migrated it: `SchemaTooNew`
  names both revisions and start-up stops. Upgrade the bot; nothing is changed.

For other code, such as a health check:

    current, head = await schema_status(url)  # ("0004", "0004"); current is None when the
    up_to_date = current == head              # database has no revision (empty, or older)

Every failure is a `StoreError` (a malformed URL: `ConfigError`) whose one-line message never
holds the database URL or its password.
"""

from __future__ import annotations

import asyncio
import logging
from pathlib import Path

import sqlalchemy as sa
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine

from bot.errors import ConfigError, StoreError
from bot.store.database import DATABASE_ERRORS, async_database_url, open_engine
from bot.store.schema import SCHEMA_LOCK

__all__ = [
    "HEAD",
    "SchemaTooNew",
    "head",
    "revisions",
    "schema_status",
    "upgrade_engine",
    "upgrade_schema",
]

log = logging.getLogger(__name__)

Revisions = tuple[str | None, str]  # (before or current, after or head)

# The latest revision in `bot.store.migrations.versions` (a test holds the two together). A
# database already there needs no migration, so start-up does not load Alembic and Mako (about
# 9 MB of a serving process) just to find that out: on Heroku the release phase has migrated.
HEAD = "0004"
VERSION_TABLE = "alembic_version"


class SchemaTooNew(StoreError):
    """The database is at a revision this code does not know: a newer release migrated it."""

    def __init__(self, current: str, latest: str) -> None:
        super().__init__(
            f"the database schema is at revision {current}, newer than this bot knows "
            f"(its latest is {latest}): upgrade the bot to the release that migrated it"
        )
        self.current = current
        self.latest = latest


def head() -> str:
    """The latest revision this code knows."""
    return HEAD


async def schema_status(url: str) -> Revisions:
    """`(current, head)` of the database at `url` (DATABASE_URL form), changing nothing."""
    engine = _open(url)
    if _missing_file(engine):
        await engine.dispose()  # connecting would create the file
        return None, head()
    try:
        async with engine.connect() as conn:
            current = await conn.run_sync(_current)
    except DATABASE_ERRORS as exc:
        raise StoreError(f"cannot read the schema revision: {_reason(exc, engine)}") from None
    finally:
        await engine.dispose()
    return current, head()


async def revisions(conn: AsyncConnection) -> Revisions:
    """`(current, head)` read on an open connection, changing nothing."""
    return await conn.run_sync(_current), head()


async def upgrade_schema(url: str) -> Revisions:
    """Upgrade the database at `url` to the latest revision; `(before, after)`."""
    engine = _open(url)
    try:
        return await upgrade_engine(engine)
    finally:
        await engine.dispose()


def _open(url: str) -> AsyncEngine:
    try:
        return open_engine(async_database_url(url))
    except (ValueError, sa.exc.ArgumentError):
        raise ConfigError(
            "DATABASE_URL is not a database URL (a port that is not a number?)"
        ) from None


async def upgrade_engine(engine: AsyncEngine) -> Revisions:
    """Upgrade the engine's database to the latest revision; `(before, after)`."""
    if await _at_head(engine):
        return HEAD, HEAD
    from bot.store.migrations import runner  # Alembic: only for a database with work to do

    for attempt in range(5):
        try:
            async with engine.connect() as conn:
                await _lock(conn)
                before, after = await conn.run_sync(_upgrade)
                await conn.commit()
        except (*DATABASE_ERRORS, runner.CommandError) as exc:
            # SQLite waits for another process's migration only so long (busy_timeout);
            # PostgreSQL's lock waits as long as it takes, so a failure there is final.
            if attempt == 4 or engine.dialect.name != "sqlite":
                raise StoreError(f"schema migration failed: {_reason(exc, engine)}") from None
            await asyncio.sleep(0.1 * (attempt + 1))
            continue
        if before != after:
            log.info("database schema migrated from %s to %s", before or "nothing", after)
        return before, after
    raise AssertionError("unreachable")  # pragma: no cover


async def _lock(conn: AsyncConnection) -> None:
    if conn.dialect.name == "postgresql":
        await conn.execute(sa.text(f"SELECT pg_advisory_xact_lock({SCHEMA_LOCK})"))
    elif conn.dialect.name == "sqlite":
        # The driver would start the transaction only at the first write; taking the write
        # lock first makes the check and the migration one step no other process splits.
        await conn.exec_driver_sql("BEGIN IMMEDIATE")


async def _at_head(engine: AsyncEngine) -> bool:
    """Whether the database is at `HEAD`, read without a lock. Not knowing is not an answer:
    any failure leaves the question to the migration, which retries and reports it."""
    try:
        async with engine.connect() as conn:
            return await conn.run_sync(_current) == HEAD
    except (*DATABASE_ERRORS, StoreError):
        return False


def _upgrade(connection: sa.Connection) -> tuple[str | None, str]:
    from bot.store.migrations import runner

    latest = head()
    before = _current(connection)
    if before is not None and before not in runner.known():
        raise SchemaTooNew(before, latest)
    runner.upgrade(connection, before)
    return before, latest


def _missing_file(engine: AsyncEngine) -> bool:
    path = engine.url.database
    return (
        engine.dialect.name == "sqlite"
        and bool(path)
        and path != ":memory:"
        and not Path(str(path)).exists()
    )


def _current(connection: sa.Connection) -> str | None:
    """The database's revision as Alembic records it, None when it has none."""
    if not sa.inspect(connection).has_table(VERSION_TABLE):
        return None
    # The table's name is a constant, not input.
    read = sa.text(f"SELECT version_num FROM {VERSION_TABLE}")  # noqa: S608
    versions = sorted(connection.execute(read).scalars())
    if len(versions) > 1:  # branches: this code's history is one line, so not its doing
        raise StoreError(f"the database records several schema revisions: {', '.join(versions)}")
    return versions[0] if versions else None


def _reason(exc: BaseException, engine: AsyncEngine) -> str:
    """The driver's own words, one line, with the password (if it ever appears) masked."""
    cause = getattr(exc, "orig", None) or exc
    text = (str(cause).strip().splitlines() or [""])[0] or cause.__class__.__name__
    password = engine.url.password
    if password:
        text = text.replace(str(password), "***")
    return text
