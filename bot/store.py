"""The job store: every accepted job, so a restart resumes where the last process stopped.

One SQL implementation serves SQLite (the embedded default) and PostgreSQL through SQLAlchemy
Core; `JobStore` is the protocol the rest of the bot depends on.
"""

from __future__ import annotations

import json
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from datetime import UTC, datetime
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.exc import SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from bot.errors import ConfigError, StoreError
from bot.grammar import RetrainOptions
from bot.jobs import ACTIVE_STATUSES, Job, Result

__all__ = ["JobStore", "SqlJobStore", "async_database_url"]

metadata = sa.MetaData()

jobs_table = sa.Table(
    "retrain_jobs",
    metadata,
    sa.Column("id", sa.String(64), primary_key=True),
    sa.Column("model_id", sa.String(64), nullable=False, index=True),
    sa.Column("options", sa.Text, nullable=False),
    sa.Column("requester", sa.String(32), nullable=False),
    sa.Column("channel", sa.String(32), nullable=False),
    sa.Column("origin_channel", sa.String(32), nullable=False),
    sa.Column("team_id", sa.String(32)),
    sa.Column("response_url", sa.Text),
    sa.Column("status", sa.String(32), nullable=False, index=True),
    sa.Column("progress", sa.Float, nullable=False, default=0.0),
    sa.Column("queue_position", sa.Integer),
    sa.Column("epochs", sa.Integer),
    sa.Column("epochs_done", sa.Integer),
    sa.Column("failure_msg", sa.Text),
    sa.Column("parent_ts", sa.String(32)),
    sa.Column("reported", sa.Text, nullable=False, default=""),
    sa.Column("result", sa.Text),
    sa.Column("created_at", sa.DateTime(timezone=True), nullable=False),
    sa.Column("running_since", sa.DateTime(timezone=True)),
    sa.Column("finished_at", sa.DateTime(timezone=True)),
    sa.Column("updated_at", sa.DateTime(timezone=True)),
)


class JobStore(Protocol):
    async def open(self) -> None: ...
    async def close(self) -> None: ...
    async def add(self, job: Job) -> None: ...
    async def save(self, job: Job) -> None: ...
    async def get(self, job_id: str) -> Job | None: ...
    async def unfinished(self) -> list[Job]: ...
    async def active_for_model(self, model_id: str) -> Job | None: ...
    async def recent(self, *, limit: int = 20) -> list[Job]: ...


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


class SqlJobStore:
    """`JobStore` on SQLite or PostgreSQL."""

    def __init__(self, url: str) -> None:
        self._url = async_database_url(url)
        self._engine: AsyncEngine | None = None

    async def open(self) -> None:
        engine = create_async_engine(self._url, pool_pre_ping=True)
        if engine.dialect.name == "sqlite":
            sa.event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
        self._engine = engine
        async with self._begin() as conn:
            await conn.run_sync(metadata.create_all)

    async def close(self) -> None:
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None

    @asynccontextmanager
    async def _begin(self) -> AsyncIterator[AsyncConnection]:
        if self._engine is None:
            raise StoreError("the job store is not open")
        try:
            async with self._engine.begin() as conn:
                yield conn
        except SQLAlchemyError as exc:
            raise StoreError(f"job store failed: {exc.__class__.__name__}") from None

    async def add(self, job: Job) -> None:
        async with self._begin() as conn:
            await conn.execute(jobs_table.insert().values(**_row(job)))

    async def save(self, job: Job) -> None:
        row = _row(job)
        del row["id"]
        async with self._begin() as conn:
            await conn.execute(jobs_table.update().where(jobs_table.c.id == job.id).values(**row))

    async def get(self, job_id: str) -> Job | None:
        async with self._begin() as conn:
            row = (await conn.execute(jobs_table.select().where(jobs_table.c.id == job_id))).first()
        return _job(row._mapping) if row else None

    async def unfinished(self) -> list[Job]:
        query = (
            jobs_table.select()
            .where(jobs_table.c.status.in_(sorted(ACTIVE_STATUSES)) | _owes_final())
            .order_by(jobs_table.c.created_at)
        )
        async with self._begin() as conn:
            rows = (await conn.execute(query)).all()
        return [_job(r._mapping) for r in rows]

    async def active_for_model(self, model_id: str) -> Job | None:
        query = (
            jobs_table.select()
            .where(jobs_table.c.model_id == model_id)
            .where(jobs_table.c.status.in_(sorted(ACTIVE_STATUSES)))
            .order_by(jobs_table.c.created_at.desc())
            .limit(1)
        )
        async with self._begin() as conn:
            row = (await conn.execute(query)).first()
        return _job(row._mapping) if row else None

    async def recent(self, *, limit: int = 20) -> list[Job]:
        query = jobs_table.select().order_by(jobs_table.c.created_at.desc()).limit(limit)
        async with self._begin() as conn:
            rows = (await conn.execute(query)).all()
        return [_job(r._mapping) for r in rows]


def _owes_final() -> sa.ColumnElement[bool]:
    """A final job whose card exists but whose final reply was not recorded is unfinished too."""
    c = jobs_table.c
    return sa.and_(
        c.parent_ts.is_not(None),
        c.status.not_in(sorted(ACTIVE_STATUSES)),
        sa.not_(sa.func.coalesce(c.reported, "").contains(sa.literal(",") + c.status + ",")),
    )


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets a restarted process read while another still holds the file; the busy timeout
    # waits for a writer instead of failing at once.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def _utc(value: datetime | None) -> datetime | None:
    if value is None:
        return None
    return value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)


def _row(job: Job) -> dict[str, Any]:
    return {
        "id": job.id,
        "model_id": job.model_id,
        "options": json.dumps(job.options.to_dict(), sort_keys=True),
        "requester": job.requester,
        "channel": job.channel,
        "origin_channel": job.origin_channel,
        "team_id": job.team_id,
        "response_url": job.response_url,
        "status": job.status,
        "progress": job.progress,
        "queue_position": job.queue_position,
        "epochs": job.epochs,
        "epochs_done": job.epochs_done,
        "failure_msg": job.failure_msg,
        "parent_ts": job.parent_ts,
        # Fenced with commas so FAILED is not found inside FAILED_WITH_RETRIES.
        "reported": "," + ",".join(sorted(job.reported)) + ",",
        "result": json.dumps(job.result.to_dict()) if job.result else None,
        "created_at": _utc(job.created_at),
        "running_since": _utc(job.running_since),
        "finished_at": _utc(job.finished_at),
        "updated_at": _utc(job.updated_at),
    }


def _job(row: Any) -> Job:
    created_at = _utc(row["created_at"])
    assert created_at is not None
    return Job(
        id=row["id"],
        model_id=row["model_id"],
        options=RetrainOptions.from_dict(json.loads(row["options"])),
        requester=row["requester"],
        channel=row["channel"],
        origin_channel=row["origin_channel"],
        team_id=row["team_id"],
        response_url=row["response_url"],
        status=row["status"],
        progress=row["progress"],
        queue_position=row["queue_position"],
        epochs=row["epochs"],
        epochs_done=row["epochs_done"],
        failure_msg=row["failure_msg"],
        parent_ts=row["parent_ts"],
        reported=frozenset(s for s in (row["reported"] or "").split(",") if s),
        result=Result.from_dict(json.loads(row["result"])) if row["result"] else None,
        created_at=created_at,
        running_since=_utc(row["running_since"]),
        finished_at=_utc(row["finished_at"]),
        updated_at=_utc(row["updated_at"]),
    )
