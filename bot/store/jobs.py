"""The job store: every accepted job, so a restart resumes where the last process stopped.

One SQL implementation serves SQLite (the embedded default) and PostgreSQL through SQLAlchemy
Core; `JobStore` is the protocol the rest of the bot depends on.
"""

from __future__ import annotations

import asyncio
import json
import os
import secrets
import socket
from collections.abc import AsyncIterator, Iterable
from contextlib import AbstractAsyncContextManager, asynccontextmanager, nullcontext
from datetime import UTC, datetime, timedelta
from typing import Any, Protocol

import sqlalchemy as sa
from sqlalchemy.exc import IntegrityError, OperationalError, SQLAlchemyError
from sqlalchemy.ext.asyncio import AsyncConnection, AsyncEngine, create_async_engine

from bot.core.jobs import Job, JobStatus, Result
from bot.core.options import RetrainOptions
from bot.core.owed import pending
from bot.errors import ConfigError, StoreError
from bot.store.batches import Batch, Batches
from bot.store.schema import ACTIVE, ADDED_COLUMNS, SCHEMA_LOCK, jobs_table, metadata
from bot.store.turns import Turns

__all__ = [
    "DATABASE_ERRORS",
    "DuplicateJob",
    "JobStore",
    "LeaseLost",
    "SqlJobStore",
    "async_database_url",
]

# What a failing database raises. A refused or cut connection comes from the driver as an
# OSError (asyncpg's ConnectionRefusedError, a TimeoutError), which SQLAlchemy does not wrap:
# left out, it escaped as a raw exception while PostgreSQL restarted, past every handler that
# retries a StoreError (the lease loop died of it).
DATABASE_ERRORS = (SQLAlchemyError, OSError)

# The hot writes are built once, with their values passed at execution: SQLAlchemy then reuses
# one compiled statement instead of building, coercing and cache-keying every value per write.
_INSERT = jobs_table.insert()
_SAVE = (
    jobs_table.update()
    .where(jobs_table.c.id == sa.bindparam("job_id"))
    .where(jobs_table.c.lease_owner == sa.bindparam("owner"))
)


class DuplicateJob(StoreError):
    """The model already has a followed training."""


class LeaseLost(StoreError):
    """Another process took the job over; this one must stop following it."""


class JobStore(Protocol):
    owner: str

    async def open(self) -> None: ...
    async def close(self) -> None: ...
    async def add(self, job: Job, *, lease_seconds: float) -> None: ...
    async def save(self, job: Job) -> None: ...
    async def claim(self, *, limit: int, lease_seconds: float) -> list[Job]: ...
    async def renew(self, job_ids: Iterable[str], *, lease_seconds: float) -> set[str]: ...
    async def release(self, job_ids: Iterable[str] | None = None) -> None: ...
    async def take_over(self, job: Job, *, lease_seconds: float) -> None: ...
    async def get(self, job_id: str) -> Job | None: ...
    async def unfinished(self) -> list[Job]: ...
    async def active_for_model(self, model_id: str) -> Job | None: ...
    async def started_by(self, user: str, *, since: datetime) -> list[datetime]: ...
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

    def __init__(self, url: str, *, owner: str | None = None) -> None:
        self._url = async_database_url(url)
        self._engine: AsyncEngine | None = None
        self.owner = owner or f"{socket.gethostname()}-{os.getpid()}-{secrets.token_hex(3)}"
        self._turns: Turns | None = None  # SQLite only: see bot.store.turns
        self._inserter: sa.Engine | None = None  # SQLite only: new jobs, on the loop's thread
        self._adds: Batches[dict[str, Any]] = Batches(self._insert)

    async def open(self) -> None:
        options: dict[str, Any] = {"pool_pre_ping": True}
        if self._url.startswith("sqlite"):
            # SQLite has one writer at a time: several pooled connections in one process only
            # fight over the file lock ("database is locked"); one connection queues them. A
            # file never drops a connection, so no ping before each use.
            options = {"pool_size": 1, "max_overflow": 0, "pool_timeout": 120}
        engine = create_async_engine(self._url, **options)
        if engine.dialect.name == "sqlite":
            self._turns = Turns()
            sa.event.listen(engine.sync_engine, "connect", _sqlite_pragmas)
            if engine.url.database not in (None, "", ":memory:"):
                # New jobs go in on the event loop's own thread, in the connection's turn: a
                # fraction of a millisecond, where each step through aiosqlite's thread waits
                # behind everything else the loop has to do, and the ack waits for the insert.
                # It never waits for another process's lock (that would stop the loop): a busy
                # file sends the insert the usual way instead.
                self._inserter = sa.create_engine(
                    engine.url.set(drivername="sqlite+pysqlite"), pool_size=1, max_overflow=0
                )
                sa.event.listen(self._inserter, "connect", _sqlite_pragmas)
                sa.event.listen(self._inserter, "connect", _never_wait)
        self._engine = engine
        await self._create_schema()

    async def _create_schema(self) -> None:
        """Create what is missing; safe when several instances start at once."""
        for attempt in range(5):
            try:
                async with self._begin() as conn:
                    if conn.dialect.name == "postgresql":
                        await conn.execute(sa.text(f"SELECT pg_advisory_xact_lock({SCHEMA_LOCK})"))
                    await conn.run_sync(metadata.create_all)
                    await conn.run_sync(_add_missing_columns)
                await self._backfill_pending()
                return
            except StoreError:
                # SQLite has no advisory lock: a racing process may have created the table
                # between the existence check and CREATE; looking again settles it.
                if attempt == 4:
                    raise
                await asyncio.sleep(0.05 * (attempt + 1))

    async def _backfill_pending(self) -> None:
        """Rows written before `pending` existed get it from the same rule as every save."""
        c = jobs_table.c
        async with self._begin() as conn:
            rows = (await conn.execute(jobs_table.select().where(c.pending.is_(None)))).all()
            for row in rows:
                job = _job(row._mapping)
                if job.status == JobStatus.REJECTED:
                    # Earlier releases told the requester at once and recorded nothing.
                    job = job.with_changes(reported=job.reported | {JobStatus.REJECTED})
                owed = pending(job)
                await conn.execute(jobs_table.update().where(c.id == row.id).values(pending=owed))

    @property
    def engine(self) -> AsyncEngine:
        if self._engine is None:
            raise StoreError("the job store is not open")
        return self._engine

    @property
    def dialect(self) -> str:
        return self._engine.dialect.name if self._engine else "unknown"

    async def close(self) -> None:
        if self._inserter is not None:
            self._inserter.dispose()
            self._inserter = None
        if self._engine is not None:
            await self._engine.dispose()
            self._engine = None

    @asynccontextmanager
    async def begin(self, *, urgent: bool = False) -> AsyncIterator[AsyncConnection]:
        """A transaction, in its turn (`urgent`: before waiting background writes)."""
        engine = self.engine
        async with self._turn(urgent=urgent), engine.begin() as conn:
            yield conn

    @asynccontextmanager
    async def connect(self) -> AsyncIterator[AsyncConnection]:
        """A connection for reads, in its turn."""
        engine = self.engine
        async with self._turn(urgent=False), engine.connect() as conn:
            yield conn

    def _turn(self, *, urgent: bool) -> AbstractAsyncContextManager[None]:
        return self._turns.take(urgent=urgent) if self._turns else nullcontext()

    @asynccontextmanager
    async def _begin(self) -> AsyncIterator[AsyncConnection]:
        try:
            async with self.begin() as conn:
                yield conn
        except DATABASE_ERRORS as exc:
            raise StoreError(f"job store failed: {exc.__class__.__name__}") from None

    async def add(self, job: Job, *, lease_seconds: float) -> None:
        """Insert a new job leased to this process; DuplicateJob if its model is followed.

        A command's ack waits for this. Inserts that arrive while one is under way go
        together in the next transaction (group commit), so fifty commands at once cost a few
        transactions instead of fifty queued on SQLite's one connection.
        """
        if self._engine is None:
            raise StoreError("the job store is not open")
        await self._adds.put(_row(job) | self._lease(lease_seconds))

    async def _insert(self, batch: Batch[dict[str, Any]]) -> None:
        """Insert `batch` in one transaction; one by one if a row breaks the one-job rule."""
        rows = [row for row, _ in batch]
        try:
            if not await self._insert_here(rows):
                async with self.begin(urgent=True) as conn:
                    await conn.execute(_INSERT, rows)
        except IntegrityError:
            if len(batch) == 1:
                model_id = batch[0][0]["model_id"]
                raise DuplicateJob(f"model {model_id} already has a followed training") from None
            for row, done in batch:
                try:
                    await self._insert([(row, done)])
                except StoreError as exc:
                    done.set_exception(exc)
        except DATABASE_ERRORS as exc:
            raise StoreError(f"job store failed: {exc.__class__.__name__}") from None

    async def _insert_here(self, rows: list[dict[str, Any]]) -> bool:
        """Insert on the loop's thread (SQLite); False if the file is busy or this is not SQLite."""
        if self._inserter is None or self._turns is None:
            return False
        async with self._turns.take(urgent=True):
            try:
                with self._inserter.begin() as conn:  # blocks for a few rows' insert
                    conn.execute(_INSERT, rows)
            except OperationalError as exc:
                if "locked" not in str(exc.orig):
                    raise
                return False
        return True

    async def save(self, job: Job) -> None:
        """Write the job, only while this process holds its lease (else LeaseLost)."""
        row = _row(job)
        del row["id"]
        async with self._begin() as conn:
            result = await conn.execute(_SAVE, row | {"job_id": job.id, "owner": self.owner})
        if result.rowcount == 0:
            raise LeaseLost(f"job {job.id} is no longer leased to this process")

    def _lease(self, seconds: float) -> dict[str, Any]:
        return {"lease_owner": self.owner, "lease_expires": _now() + timedelta(seconds=seconds)}

    async def claim(self, *, limit: int, lease_seconds: float) -> list[Job]:
        """Lease up to `limit` unfinished jobs that nobody holds (or whose lease expired)."""
        c = jobs_table.c
        now = _now()
        free = (
            sa.select(c.id)
            .where(c.pending.is_(True))
            .where(sa.or_(c.lease_owner.is_(None), c.lease_expires < now))
            .order_by(c.created_at)
            .limit(limit)
            # Other instances skip rows being claimed instead of waiting for them.
            .with_for_update(skip_locked=True)
        )
        async with self._begin() as conn:
            ids = [r[0] for r in (await conn.execute(free)).all()]
            if not ids:
                return []
            await conn.execute(
                jobs_table.update().where(c.id.in_(ids)).values(**self._lease(lease_seconds))
            )
            rows = (await conn.execute(jobs_table.select().where(c.id.in_(ids)))).all()
        return [_job(r._mapping) for r in rows]

    async def renew(self, job_ids: Iterable[str], *, lease_seconds: float) -> set[str]:
        """Extend this process's leases; returns the ids it still holds."""
        ids = list(job_ids)
        if not ids:
            return set()
        c = jobs_table.c
        async with self._begin() as conn:
            await conn.execute(
                jobs_table.update()
                .where(c.id.in_(ids))
                .where(c.lease_owner == self.owner)
                .values(lease_expires=_now() + timedelta(seconds=lease_seconds))
            )
            held = (
                await conn.execute(
                    sa.select(c.id).where(c.id.in_(ids)).where(c.lease_owner == self.owner)
                )
            ).all()
        return {r[0] for r in held}

    async def release(self, job_ids: Iterable[str] | None = None) -> None:
        """Give leases back (all of this process's by default) so another instance resumes."""
        c = jobs_table.c
        query = jobs_table.update().where(c.lease_owner == self.owner)
        if job_ids is not None:
            query = query.where(c.id.in_(list(job_ids)))
        async with self._begin() as conn:
            await conn.execute(query.values(lease_owner=None, lease_expires=None))

    async def take_over(self, job: Job, *, lease_seconds: float) -> None:
        """Write `job` and lease it to this process, whoever held it (used by cancel)."""
        row = _row(job) | self._lease(lease_seconds)
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
            .where(jobs_table.c.pending.is_(True))
            .order_by(jobs_table.c.created_at)
        )
        async with self._begin() as conn:
            rows = (await conn.execute(query)).all()
        return [_job(r._mapping) for r in rows]

    async def active_for_model(self, model_id: str) -> Job | None:
        query = (
            jobs_table.select()
            .where(jobs_table.c.model_id == model_id)
            .where(jobs_table.c.status.in_(ACTIVE))
            .order_by(jobs_table.c.created_at.desc())
            .limit(1)
        )
        async with self._begin() as conn:
            row = (await conn.execute(query)).first()
        return _job(row._mapping) if row else None

    async def started_by(self, user: str, *, since: datetime) -> list[datetime]:
        """When `user`'s jobs were created since `since` (for the per-user rate limit)."""
        c = jobs_table.c
        query = (
            sa.select(c.created_at)
            .where(c.requester == user)
            .where(c.created_at >= since.astimezone(UTC))
        )
        async with self._begin() as conn:
            rows = (await conn.execute(query)).all()
        return [t for t in (_utc(r[0]) for r in rows) if t is not None]

    async def recent(self, *, limit: int = 20) -> list[Job]:
        query = jobs_table.select().order_by(jobs_table.c.created_at.desc()).limit(limit)
        async with self._begin() as conn:
            rows = (await conn.execute(query)).all()
        return [_job(r._mapping) for r in rows]


def _add_missing_columns(connection: sa.Connection) -> None:
    """Add the columns a database created by an earlier release lacks (nullable, no default)."""
    present = {col["name"] for col in sa.inspect(connection).get_columns(jobs_table.name)}
    preparer = connection.dialect.identifier_preparer
    for name in ADDED_COLUMNS:
        if name in present:
            continue
        column = jobs_table.c[name]
        kind = column.type.compile(dialect=connection.dialect)
        connection.execute(
            sa.text(
                f"ALTER TABLE {preparer.quote(jobs_table.name)} "
                f"ADD COLUMN {preparer.quote(name)} {kind}"
            )
        )
    for index in jobs_table.indexes:
        index.create(connection, checkfirst=True)


def _never_wait(dbapi_connection: Any, _record: Any) -> None:
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA busy_timeout=0")
    cursor.close()


def _sqlite_pragmas(dbapi_connection: Any, _record: Any) -> None:
    # WAL lets a restarted process read while another still holds the file; the busy timeout
    # waits for a writer instead of failing at once. With WAL, synchronous=NORMAL keeps every
    # commit through a process crash (SIGKILL, a dyno restart) and skips the fsync per commit
    # (about 10 ms here), which the ack waits for; only a power loss may undo the last ones.
    cursor = dbapi_connection.cursor()
    cursor.execute("PRAGMA journal_mode=WAL")
    cursor.execute("PRAGMA synchronous=NORMAL")
    cursor.execute("PRAGMA busy_timeout=5000")
    cursor.close()


def _now() -> datetime:
    return datetime.now(UTC)


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
        "reported": _fenced(job.reported),
        "reached": _fenced(job.reached),
        "first_queue_position": job.first_queue_position,
        "pending": pending(job),
        "result": json.dumps(job.result.to_dict()) if job.result else None,
        "created_at": _utc(job.created_at),
        "running_since": _utc(job.running_since),
        "finished_at": _utc(job.finished_at),
        "updated_at": _utc(job.updated_at),
        "last_contact_at": _utc(job.last_contact_at),
        "last_progress_at": _utc(job.last_progress_at),
        "last_error": job.last_error,
        "condition": job.condition,
        "condition_seq": job.condition_seq,
        "baseline": job.baseline,
        "approver": job.approver,
        "decision_note": job.decision_note,
        "approval_expires_at": _utc(job.approval_expires_at),
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
        status=JobStatus(row["status"]),
        progress=row["progress"],
        queue_position=row["queue_position"],
        epochs=row["epochs"],
        epochs_done=row["epochs_done"],
        failure_msg=row["failure_msg"],
        parent_ts=row["parent_ts"],
        reported=_unfenced(row["reported"]),
        reached=_unfenced(row["reached"]),
        first_queue_position=row["first_queue_position"],
        result=Result.from_dict(json.loads(row["result"])) if row["result"] else None,
        created_at=created_at,
        running_since=_utc(row["running_since"]),
        finished_at=_utc(row["finished_at"]),
        updated_at=_utc(row["updated_at"]),
        last_contact_at=_utc(row["last_contact_at"]),
        last_progress_at=_utc(row["last_progress_at"]),
        last_error=row["last_error"],
        condition=row["condition"],
        condition_seq=row["condition_seq"] or 0,
        baseline=row["baseline"],
        approver=row["approver"],
        decision_note=row["decision_note"],
        approval_expires_at=_utc(row["approval_expires_at"]),
    )


def _fenced(keys: frozenset[str]) -> str:
    # Fenced with commas so that a LIKE for ",FAILED," never matches FAILED_WITH_RETRIES.
    return "," + ",".join(sorted(keys)) + ","


def _unfenced(text: str | None) -> frozenset[str]:
    return frozenset(s for s in (text or "").split(",") if s)
