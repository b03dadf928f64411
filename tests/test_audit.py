"""The audit trail: append-only on both backends, filtered reads, CSV and JSON Lines export."""

from __future__ import annotations

import csv
import io
import json
from datetime import UTC, datetime, timedelta

import pytest
import sqlalchemy as sa

from bot.errors import StoreError
from bot.store.audit import AuditEvent, AuditKind, AuditLog, export_events
from bot.store.jobs import SqlJobStore

T0 = datetime(2026, 11, 1, 9, 0, tzinfo=UTC)


async def _fill(log: AuditLog) -> None:
    await log.record(
        AuditEvent(
            kind=AuditKind.COMMAND,
            actor="U1",
            channel="C1",
            model_id="A",
            options="split=0.7",
            at=T0,
        )
    )
    await log.record(
        AuditEvent(
            kind=AuditKind.DENIED,
            actor="U2",
            channel="C1",
            model_id="B",
            outcome="not on the allow list",
            at=T0 + timedelta(hours=1),
        )
    )
    await log.record(
        AuditEvent(
            kind=AuditKind.OUTCOME,
            actor="U1",
            model_id="A",
            job_id="j1",
            outcome="SUCCEEDED",
            detail={"accuracy": 0.91},
            at=T0 + timedelta(days=1),
        )
    )


async def test_filters(store: SqlJobStore) -> None:
    """Events come back oldest first, filtered by time and model; limit keeps the newest."""
    log = AuditLog(store)
    await _fill(log)
    assert [e.kind for e in await log.events()] == ["command", "denied", "outcome"]
    assert [e.kind for e in await log.events(model_id="A")] == ["command", "outcome"]
    assert [e.kind for e in await log.events(since=T0 + timedelta(minutes=30))] == [
        "denied",
        "outcome",
    ]
    assert [e.kind for e in await log.events(limit=2)] == ["denied", "outcome"]
    [outcome] = await log.events(kinds=[AuditKind.OUTCOME])
    assert outcome.detail == {"accuracy": 0.91}
    assert outcome.at == T0 + timedelta(days=1)


async def test_append_only(store: SqlJobStore) -> None:
    """The database refuses to change or delete an audit entry."""
    log = AuditLog(store)
    await _fill(log)
    for statement in ("UPDATE retrain_audit SET actor = 'U9'", "DELETE FROM retrain_audit"):
        with pytest.raises(sa.exc.DBAPIError, match="append-only"):
            async with store.engine.begin() as conn:
                await conn.execute(sa.text(statement))
    assert len(await log.events()) == 3


async def test_export_formats(store: SqlJobStore) -> None:
    """CSV has a header and one row per event; JSON Lines one object per line."""
    log = AuditLog(store)
    await _fill(log)
    events = await log.events()
    rows = list(csv.DictReader(io.StringIO("".join(export_events(events, fmt="csv")))))
    assert [r["kind"] for r in rows] == ["command", "denied", "outcome"]
    assert rows[0]["at"] == "2026-11-01T09:00:00+00:00"
    assert json.loads(rows[2]["detail"]) == {"accuracy": 0.91}
    lines = "".join(export_events(events, fmt="jsonl")).splitlines()
    assert [json.loads(line)["kind"] for line in lines] == ["command", "denied", "outcome"]


async def test_closed_store_is_a_store_error(sqlite_url: str) -> None:
    """Using the trail without an open store fails with the bot's own error."""
    with pytest.raises(StoreError):
        await AuditLog(SqlJobStore(sqlite_url)).record(AuditEvent(kind=AuditKind.COMMAND))
