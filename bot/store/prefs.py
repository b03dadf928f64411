"""People's choices, one row per person and team: for now whether results also come by DM.

`/retrain notify dm` stores `dm`, `/retrain notify off` stores `off`, for the team the command
was typed in; nobody's row means off. A row of no team (`NO_TEAM`, the choices made before
choices were kept per team) applies in every team where the person has no row of its own; a
job of no team (stored before teams were) follows the person's latest choice, wherever made.
The deliverer reads the choice for the job's team when a training ends, so a choice made while
a training runs applies to it. One upsert serves SQLite and PostgreSQL (both speak ON CONFLICT).
"""

from __future__ import annotations

from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from bot.errors import StoreError
from bot.store.jobs import DATABASE_ERRORS, SqlJobStore
from bot.store.rows import utc_now
from bot.store.schema import NO_TEAM, prefs_table

__all__ = ["NotifyMode", "Preferences"]

_C = prefs_table.c


class NotifyMode(StrEnum):
    DM = "dm"  # each terminal result also as a DM from the bot
    OFF = "off"  # the thread only


class Preferences:
    """Reads and writes people's choices in the job store's database."""

    def __init__(self, store: SqlJobStore) -> None:
        self._store = store

    async def notify(self, user: str, *, team_id: str | None = None) -> NotifyMode:
        """`user`'s choice in team `team_id`, or else of no team; OFF when they made none.
        For no team (a job stored before teams were), their latest choice in any team.
        StoreError when the database fails."""
        query = sa.select(_C.notify).where(_C.user_id == user).limit(1)
        if team_id is None:
            query = query.order_by(_C.updated_at.desc())
        else:
            # '' sorts before any team ID: the team's own choice comes first.
            query = query.where(_C.team_id.in_({team_id, NO_TEAM})).order_by(_C.team_id.desc())
        try:
            async with self._store.connect() as conn:
                value = (await conn.execute(query)).scalar()
        except DATABASE_ERRORS as exc:
            raise StoreError(f"preferences read failed: {exc.__class__.__name__}") from None
        return NotifyMode(value) if value in set(NotifyMode) else NotifyMode.OFF

    async def set_notify(self, user: str, mode: NotifyMode, *, team_id: str | None = None) -> None:
        """Store `user`'s choice in team `team_id` (None: of no team, so in every team without
        a choice of its own); StoreError when the database fails (nothing changed)."""
        values = {
            "user_id": user,
            "team_id": team_id or NO_TEAM,
            "notify": str(mode),
            "updated_at": utc_now(),
        }
        dialect = sqlite if self._store.dialect == "sqlite" else postgresql
        insert = dialect.insert(prefs_table).values(**values)
        upsert = insert.on_conflict_do_update(
            index_elements=[_C.user_id, _C.team_id],
            set_={"notify": insert.excluded.notify, "updated_at": insert.excluded.updated_at},
        )
        try:
            async with self._store.begin() as conn:
                await conn.execute(upsert)
        except DATABASE_ERRORS as exc:
            raise StoreError(f"preferences write failed: {exc.__class__.__name__}") from None
