"""Schedules and feedback triggers in the database, and the claim that makes each fire happen once.

`claim` is a compare-and-set: it moves a schedule's `next_run` (a trigger's `baseline`) on from
the value the caller read and marks the fire `pending`, in one UPDATE that only one instance can
win. `settle` clears the mark once the fire's job exists (or the fire was refused or skipped).
Listing for a team (`all(team_id=…)`) gives that team's and those stored without a team
(`bot.core.workspaces`); firing ignores teams.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from datetime import datetime
from typing import Any

import sqlalchemy as sa

from bot.core.autoretrain import AutoKind, AutoRetrain
from bot.core.options import RetrainOptions
from bot.core.recurrence import Recurrence
from bot.errors import StoreError
from bot.store.database import DATABASE_ERRORS
from bot.store.jobs import SqlJobStore
from bot.store.rows import as_utc
from bot.store.schema import autoretrains_table

__all__ = ["AutoRetrainStore"]

_T = autoretrains_table
_C = autoretrains_table.c


class AutoRetrainStore:
    """Schedules and triggers, on the job store's database."""

    def __init__(self, store: SqlJobStore) -> None:
        self._store = store

    async def add(self, auto: AutoRetrain) -> None:
        await self._write(_T.insert().values(**_row(auto)), what="add")

    async def get(self, auto_id: str) -> AutoRetrain | None:
        rows = await self._read(_T.select().where(_C.id == auto_id))
        return rows[0] if rows else None

    async def all(self, *, team_id: str | None = None) -> list[AutoRetrain]:
        """Every schedule and trigger (of `team_id` and of no team, if given), oldest first."""
        query = _T.select().order_by(_C.created_at, _C.id)
        if team_id is not None:
            query = query.where(sa.or_(_C.team_id == team_id, _C.team_id.is_(None)))
        return await self._read(query)

    async def remove(self, auto_id: str) -> bool:
        """Delete it; False if there was none by that ID."""
        return await self._write(_T.delete().where(_C.id == auto_id), what="remove") > 0

    async def due(self, now: datetime) -> list[AutoRetrain]:
        """Schedules whose next run has come, and every fire left pending."""
        due = sa.and_(_C.kind == AutoKind.SCHEDULE.value, _C.next_run <= now)
        return await self._read(_T.select().where(sa.or_(due, _C.pending.is_not(None))))

    async def triggers(self) -> list[AutoRetrain]:
        return await self._read(_T.select().where(_C.kind == AutoKind.TRIGGER.value))

    async def claim(
        self, auto: AutoRetrain, *, fire: str, moved: AutoRetrain, at: datetime
    ) -> bool:
        """Mark fire `fire` of `auto` pending and store `moved`'s next run or baseline, if
        nobody did since `auto` was read. True for the one caller that wins."""
        query = (
            _T.update()
            .where(
                _C.id == auto.id,
                _C.pending.is_(None),
                _same(_C.next_run, auto.next_run),
                _same(_C.baseline, auto.baseline),
            )
            .values(pending=fire, claimed_at=at, next_run=moved.next_run, baseline=moved.baseline)
        )
        return await self._write(query, what="claim a fire of") == 1

    async def reclaim(self, auto: AutoRetrain, *, at: datetime) -> bool:
        """Take over `auto`'s pending fire, left by a process that stopped before settling it;
        True for the one caller that wins."""
        query = (
            _T.update()
            .where(
                _C.id == auto.id,
                _C.pending == auto.pending,
                _same(_C.claimed_at, auto.claimed_at),
            )
            .values(claimed_at=at)
        )
        return await self._write(query, what="take over a fire of") == 1

    async def settle(
        self,
        auto_id: str,
        *,
        fire: str,
        job_id: str | None,
        at: datetime,
        refusal: str | None = None,
    ) -> None:
        """The pending fire `fire` is carried out (`job_id`: the job it started, if any;
        `refusal`: why not, as said in the channel)."""
        values: dict[str, Any] = {"pending": None, "claimed_at": None, "fired_at": at}
        values["refusal"] = refusal
        if job_id is not None:
            values["last_job_id"] = job_id
        query = _T.update().where(_C.id == auto_id, _C.pending == fire).values(**values)
        await self._write(query, what="settle a fire of")

    async def _read(self, query: sa.Select[Any]) -> list[AutoRetrain]:
        try:
            async with self._store.connect() as conn:
                rows = (await conn.execute(query)).all()
        except DATABASE_ERRORS as exc:
            raise StoreError(f"schedules read failed: {exc.__class__.__name__}") from None
        return [_auto(r._mapping) for r in rows]

    async def _write(self, query: sa.Executable, *, what: str) -> int:
        try:
            async with self._store.begin() as conn:
                result = await conn.execute(query)
        except DATABASE_ERRORS as exc:
            raise StoreError(f"could not {what} a schedule: {exc.__class__.__name__}") from None
        return int(getattr(result, "rowcount", 0) or 0)


def _same(column: sa.ColumnElement[Any], value: object) -> sa.ColumnElement[bool]:
    return column.is_(None) if value is None else column == value


def _row(auto: AutoRetrain) -> dict[str, Any]:
    recurrence = auto.recurrence
    return {
        "id": auto.id,
        "kind": auto.kind.value,
        "model_id": auto.model_id,
        "options": json.dumps(auto.options.to_dict(), sort_keys=True),
        "creator": auto.creator,
        "channel": auto.channel,
        "team_id": auto.team_id,
        "enterprise_id": auto.enterprise_id,
        "created_at": auto.created_at,
        "cron": recurrence.cron if recurrence else None,
        "tz": recurrence.tz if recurrence else None,
        "next_run": auto.next_run,
        "threshold": auto.threshold,
        "baseline": auto.baseline,
        "fired_at": auto.fired_at,
        "last_job_id": auto.last_job_id,
        "pending": auto.pending,
        "claimed_at": auto.claimed_at,
        "refusal": auto.refusal,
    }


def _auto(row: Mapping[str, Any]) -> AutoRetrain:
    cron, tz = row["cron"], row["tz"]
    created_at = as_utc(row["created_at"])
    assert created_at is not None
    return AutoRetrain(
        id=row["id"],
        kind=AutoKind(row["kind"]),
        model_id=row["model_id"],
        options=RetrainOptions.from_dict(json.loads(row["options"])),
        creator=row["creator"],
        channel=row["channel"],
        team_id=row["team_id"],
        enterprise_id=row["enterprise_id"],
        created_at=created_at,
        recurrence=Recurrence(cron, tz or "UTC") if cron else None,
        next_run=as_utc(row["next_run"]),
        threshold=row["threshold"],
        baseline=row["baseline"],
        fired_at=as_utc(row["fired_at"]),
        last_job_id=row["last_job_id"],
        pending=row["pending"],
        claimed_at=as_utc(row["claimed_at"]),
        refusal=row["refusal"],
    )
