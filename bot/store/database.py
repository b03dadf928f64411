"""Opening the database: the URL and the engine (the schema: `bot.store.migrate`).

`DATABASE_URL` may be Heroku's `postgres://…` or `sqlite:///file.db`; both get an asyncio driver.
SQLite gets one pooled connection (it has one writer at a time) in WAL mode.
"""

from __future__ import annotations

from typing import Any

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncEngine, create_async_engine

from bot.errors import ConfigError

__all__ = [
    "DATABASE_ERRORS",
    "STUCK_TRANSACTION",
    "async_database_url",
    "open_engine",
    "open_inserter",
]

# What a failing database raises. A refused or cut connection comes from the driver as an
# OSError (asyncpg's ConnectionRefusedError, a TimeoutError), which SQLAlchemy does not wrap:
# left out, it escaped as a raw exception while PostgreSQL restarted, past every handler that
# retries a StoreError (the lease loop died of it).
DATABASE_ERRORS = (SQLAlchemyError, OSError)


def async_database_url(url: str) -> str:
    """Map DATABASE_URL (incl. Heroku's `postgres://`) to an asyncio driver URL."""
    url = url.strip()
    scheme, sep, rest = url.partition("://")
    if not sep:
        raise ConfigError("DATABASE_URL must look like sqlite:///file.db or postgresql://...")
    scheme = scheme.lower()
    if scheme in {"sqlite", "sqlite+aiosqlite"}:
        return f"sqlite+aiosqlite://{rest}"
    if scheme in {"postgres", "postgresql", "postgresql+asyncpg"}:
        return f"postgresql+asyncpg://{rest}"
    raise ConfigError(
        f"DATABASE_URL: unsupported database scheme {scheme!r} (use sqlite or postgresql)"
    )


# A transaction of the bot's lasts milliseconds. One left open this long means its process is
# frozen between two statements (SIGSTOP, a paused VM): PostgreSQL then ends that session, so
# the rows it locked go free for the instances that take its jobs over, which skip locked rows.
STUCK_TRANSACTION = 5.0


def open_engine(url: str, *, stuck_transaction: float = STUCK_TRANSACTION) -> AsyncEngine:
    """The engine for an asyncio driver URL (see `async_database_url`); on PostgreSQL a
    session idle inside a transaction for `stuck_transaction` seconds is ended by the server."""
    options: dict[str, Any] = {"pool_pre_ping": True}
    if url.startswith("sqlite"):
        # SQLite has one writer at a time: several pooled connections in one process only
        # fight over the file lock ("database is locked"); one connection queues them. A
        # file never drops a connection, so no ping before each use.
        options = {"pool_size": 1, "max_overflow": 0, "pool_timeout": 120}
    engine = create_async_engine(url, **options)
    if engine.dialect.name == "sqlite":
        sa.event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
    else:
        # Set once connected rather than as a startup parameter, which a connection pooler
        # in front of the server (PgBouncer, Heroku's connection pooling) may refuse.
        milliseconds = max(1, round(stuck_transaction * 1000))
        sa.event.listen(
            engine.sync_engine,
            "connect",
            lambda dbapi_connection, _record: _outside_transaction(
                dbapi_connection, f"SET idle_in_transaction_session_timeout = {milliseconds}"
            ),
        )
    return engine


def _execute(dbapi_connection: Any, *statements: str) -> None:
    """Run `statements` on a freshly made driver connection (a connect event's)."""
    cursor = dbapi_connection.cursor()
    for statement in statements:
        cursor.execute(statement)
    cursor.close()


def _outside_transaction(dbapi_connection: Any, statement: str) -> None:
    """Run a session-level SET outside any transaction, so no rollback undoes it."""
    autocommit = dbapi_connection.autocommit
    dbapi_connection.autocommit = True
    try:
        _execute(dbapi_connection, statement)
    finally:
        dbapi_connection.autocommit = autocommit


def open_inserter(engine: AsyncEngine) -> sa.Engine | None:
    """SQLite only: a plain connection to the same file for new jobs, on the loop's thread.

    The ack waits for a new job's insert. Through aiosqlite each step of it waits behind
    everything else the event loop has to do; on the loop's own thread, in the connection's
    urgent turn, it takes a fraction of a millisecond. It never waits for another process's
    lock (that would stop the loop): a busy file sends the insert the usual way instead.
    """
    if engine.dialect.name != "sqlite" or engine.url.database in (None, "", ":memory:"):
        return None
    inserter = sa.create_engine(
        engine.url.set(drivername="sqlite+pysqlite"), pool_size=1, max_overflow=0
    )
    sa.event.listen(inserter, "connect", _sqlite_pragmas)
    sa.event.listen(inserter, "connect", _never_block)
    return inserter


def _never_block(dbapi_connection: Any, _record: Any) -> None:
    # Nothing on the loop's thread may hold the loop up: no waiting for another connection's
    # lock, and no checkpoint. SQLite copies the WAL back into the database in whichever
    # connection's commit takes it past a thousand pages, which took 4-5 ms here, about one
    # commit in thirty of new jobs. The usual connections, on their own thread, commit
    # every job's later writes and so checkpoint for both.
    _execute(dbapi_connection, "PRAGMA busy_timeout=0", "PRAGMA wal_autocheckpoint=0")


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets a restarted process read while another still holds the file; the busy timeout
    # waits for a writer instead of failing at once. With WAL, synchronous=NORMAL keeps every
    # commit through a process crash (SIGKILL, a dyno restart) and skips the fsync per commit
    # (about 10 ms here), which the ack waits for; only a power loss may undo the last ones.
    _execute(
        dbapi_connection,
        "PRAGMA journal_mode=WAL",
        "PRAGMA synchronous=NORMAL",
        "PRAGMA busy_timeout=5000",
    )
