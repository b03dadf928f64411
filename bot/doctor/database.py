"""The doctor's database check: it connects within a few seconds and holds the bot's schema.

Nothing is created or changed: a SQLite file that does not exist is reported, not made.
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any

import sqlalchemy as sa
from sqlalchemy.engine import make_url
from sqlalchemy.ext.asyncio import AsyncConnection, create_async_engine

from bot.doctor import Check
from bot.errors import ConfigError
from bot.store.database import DATABASE_ERRORS, async_database_url
from bot.store.migrate import revisions
from bot.store.schema import metadata

__all__ = ["check_database"]

CONNECT_TIMEOUT = 5.0
_MIGRATE_FIX = "run `python -m bot migrate` (Heroku's release phase runs it on every deploy)"


async def check_database(database_url: str) -> Check:
    """`database`: connects, and the schema is the one this code expects."""
    try:
        url = async_database_url(database_url)
    except ConfigError as exc:
        return Check.failed("database", str(exc), "correct DATABASE_URL")
    shown = make_url(database_url.strip()).render_as_string(hide_password=True)
    missing_file = _missing_sqlite_file(url)
    if missing_file is not None:
        return Check.failed("database", f"no SQLite file at {missing_file}", _MIGRATE_FIX)
    connect_args: dict[str, Any] = {"timeout": CONNECT_TIMEOUT}
    engine = create_async_engine(url, connect_args=connect_args)
    try:
        async with asyncio.timeout(CONNECT_TIMEOUT * 2), engine.connect() as conn:
            problem = await schema_problem(conn)
    except (*DATABASE_ERRORS, TimeoutError) as exc:
        return Check.failed(
            "database",
            f"cannot connect to {shown} ({_reason(exc, make_url(url).password)})",
            "check DATABASE_URL and that the database server is up and reachable from here",
        )
    finally:
        await engine.dispose()
    if problem is not None:
        return Check.failed("database", f"{shown}: {problem}", _MIGRATE_FIX)
    return Check.passed("database", f"{shown}: connected, schema up to date")


async def schema_problem(conn: AsyncConnection) -> str | None:
    """What is wrong with the schema, or None: not at this code's latest revision (behind, or
    ahead: a newer release migrated it), or a table missing all the same."""
    current, latest = await revisions(conn)
    if current is None:
        return f"no schema revision (the code's latest is {latest})"
    if current != latest:
        return f"the schema is at revision {current}, the code's latest is {latest}"
    present = set(await conn.run_sync(lambda sync: sa.inspect(sync).get_table_names()))
    missing = sorted(set(metadata.tables) - present)
    if missing:
        return f"tables missing: {', '.join(missing)}"
    return None


def _missing_sqlite_file(url: str) -> Path | None:
    parsed = make_url(url)
    if parsed.get_backend_name() != "sqlite" or parsed.database in (None, "", ":memory:"):
        return None
    path = Path(parsed.database)
    return None if path.exists() else path


def _reason(exc: BaseException, password: str | None) -> str:
    # The driver's text (not SQLAlchemy's wrapper, which repeats the statement) names the
    # cause, e.g. "Connect call failed ('127.0.0.1', 1)"; a password is masked if it shows.
    cause = getattr(exc, "orig", None) or exc
    text = str(cause).strip().splitlines()[0] if str(cause).strip() else ""
    if password:
        text = text.replace(password, "***")
    return f"{cause.__class__.__name__}: {text}" if text else cause.__class__.__name__
