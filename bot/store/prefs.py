"""People's choices, one row per person: for now whether results also come by DM.

`/retrain notify dm` stores `dm`, `/retrain notify off` stores `off`; nobody's row means off.
The deliverer reads the choice when a training ends, so a choice made while a training runs
applies to it. One upsert serves SQLite and PostgreSQL (both speak ON CONFLICT).
"""

from __future__ import annotations

from enum import StrEnum

import sqlalchemy as sa
from sqlalchemy.dialects import postgresql, sqlite

from bot.errors import StoreError
from bot.store.jobs import DATABASE_ERRORS, SqlJobStore
from bot.store.rows import utc_now
from bot.store.schema import prefs_table

__all__ = ["NotifyMode", "Preferences"]


class NotifyMode(StrEnum):
    DM = "dm"  # each terminal result also as a DM from the bot
    OFF = "off"  # the thread only


class Preferences:
    """Reads and writes people's choices in the job store's database."""

    def __init__(self, store: SqlJobStore) -> None:
        self._store = store

    async def notify(self, user: str) -> NotifyMode:
        """`user`'s choice; OFF when they made none. StoreError when the database fails."""
        query = sa.select(prefs_table.c.notify).where(prefs_table.c.user_id == user)
        try:
            async with self._store.connect() as conn:
                value = (await conn.execute(query)).scalar()
        except DATABASE_ERRORS as exc:
            raise StoreError(f"preferences read failed: {exc.__class__.__name__}") from None
        return NotifyMode(value) if value in set(NotifyMode) else NotifyMode.OFF

    async def set_notify(self, user: str, mode: NotifyMode) -> None:
        """Store `user`'s choice; StoreError when the database fails (nothing changed)."""
        values = {"user_id": user, "notify": str(mode), "updated_at": utc_now()}
        dialect = sqlite if self._store.dialect == "sqlite" else postgresql
        insert = dialect.insert(prefs_table).values(**values)
        upsert = insert.on_conflict_do_update(
            index_elements=[prefs_table.c.user_id],
            set_={"notify": insert.excluded.notify, "updated_at": insert.excluded.updated_at},
        )
        try:
            async with self._store.begin() as conn:
                await conn.execute(upsert)
        except DATABASE_ERRORS as exc:
            raise StoreError(f"preferences write failed: {exc.__class__.__name__}") from None
