"""The audit trail: every command, denial, approval, submission, state change, outcome and
feedback example.

Append-only: the store offers no way to change or delete an entry, and the database refuses
UPDATE and DELETE on the table (a trigger on both SQLite and PostgreSQL).

Each line names the Slack team (and Enterprise Grid org) it happened in; lines written before
teams were recorded have none. The export adds both as its last two columns, so a reader of
the older columns by position reads them as before.
"""

from __future__ import annotations

import asyncio
import csv
import io
import json
import logging
from collections.abc import Awaitable, Callable, Iterable, Iterator
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from enum import StrEnum
from typing import Any

import sqlalchemy as sa

from bot.core.jobs import Job
from bot.errors import StoreError
from bot.store.batches import Batch, Batches
from bot.store.jobs import DATABASE_ERRORS, SqlJobStore
from bot.store.schema import audit_table

__all__ = ["AuditEvent", "AuditKind", "AuditLog", "export_events"]

log = logging.getLogger(__name__)


class AuditKind(StrEnum):
    COMMAND = "command"  # a /retrain as typed (or a modal submitted, a button clicked)
    DENIED = "denied"  # access control said no
    DUPLICATE = "duplicate"  # the model already had a followed training; nothing was started
    APPROVAL_REQUESTED = "approval_requested"
    APPROVED = "approved"
    APPROVAL_REJECTED = "approval_rejected"
    APPROVAL_EXPIRED = "approval_expired"
    SUBMITTED = "submitted"  # Einstein accepted the retrain
    REFUSED = "refused"  # Einstein refused it
    STATE = "state"  # the training changed state
    OUTCOME = "outcome"  # the training ended
    CANCELLED = "cancelled"  # people stopped following it
    UNINSTALLED = "uninstalled"  # its workspace uninstalled the app: no longer followed
    SCHEDULE_CREATED = "schedule_created"  # a schedule or feedback trigger was made
    SCHEDULE_REMOVED = "schedule_removed"
    SCHEDULE_FIRED = "schedule_fired"  # it fired: started, refused or skipped
    # A message added as a feedback example; outcome added / refused / failed. The detail has
    # the label and the document's length, never its text.
    FEEDBACK = "feedback"


@dataclass(frozen=True, slots=True)
class AuditEvent:
    """One line of the trail: who did what, where, to which model, with which result."""

    kind: AuditKind
    actor: str | None = None
    channel: str | None = None
    team_id: str | None = None
    enterprise_id: str | None = None
    model_id: str | None = None
    job_id: str | None = None
    options: str | None = None  # the canonical option text, e.g. "split=0.7 feedback=true"
    outcome: str | None = None
    detail: dict[str, Any] = field(default_factory=dict)
    at: datetime = field(default_factory=lambda: datetime.now(UTC))

    def as_record(self) -> dict[str, Any]:
        record = asdict(self)
        record["kind"] = str(self.kind)
        record["at"] = self.at.astimezone(UTC).isoformat(timespec="seconds")
        return record


class AuditLog:
    """Writes and reads the trail in the job store's database.

    `note` and `job_event` are what the bot calls: a write that fails is tried again a few
    times, then logged as an error with the whole event, so the line is in the logs even when
    the database would not take it; the job itself goes on.
    """

    def __init__(
        self,
        store: SqlJobStore,
        *,
        attempts: int = 4,
        sleep: Callable[[float], Awaitable[None]] = asyncio.sleep,
    ) -> None:
        self._store = store
        self._attempts = attempts
        self._sleep = sleep
        self._notes: Batches[AuditEvent] = Batches(self._write)

    async def note(self, event: AuditEvent) -> None:
        """Record `event`, retrying a failing database; never raises.

        Returns once the event is written (or given up on), so what a caller does next comes
        after it in the trail. Events noted while a write is under way go together in the
        next transaction: a thousand trainings changing state cost a few writes, not a
        thousand queued on SQLite's one connection.
        """
        await self._notes.put(event)

    async def _write(self, batch: Batch[AuditEvent]) -> None:
        events = [event for event, _ in batch]
        for attempt in range(1, self._attempts + 1):
            try:
                await self._insert(events)
                return
            except StoreError as exc:
                if attempt == self._attempts:
                    for event in events:
                        log.error(
                            "audit trail write failed %d times (%s); the event: %s",
                            attempt,
                            exc,
                            json.dumps(event.as_record(), sort_keys=True),
                        )
                    return
                await self._sleep(0.2 * 2**attempt)

    async def job_event(
        self,
        kind: AuditKind,
        job: Job,
        *,
        actor: str | None = None,
        channel: str | None = None,
        outcome: str | None = None,
        **detail: Any,
    ) -> None:
        """One line about `job`: by its requester unless `actor` says who, in its channel and
        workspace."""
        await self.note(
            AuditEvent(
                kind=kind,
                actor=actor or job.requester,
                channel=channel or job.channel,
                team_id=job.team_id,
                enterprise_id=job.enterprise_id,
                model_id=job.model_id,
                job_id=job.id,
                options=job.options.describe(),
                outcome=outcome or str(job.status),
                detail={k: v for k, v in detail.items() if v is not None},
            )
        )

    async def record(self, event: AuditEvent) -> None:
        """Write one event now; `StoreError` if the database will not take it."""
        await self._insert([event])

    async def _insert(self, events: list[AuditEvent]) -> None:
        try:
            async with self._store.begin() as conn:
                await conn.execute(audit_table.insert(), [_values(event) for event in events])
        except DATABASE_ERRORS as exc:
            raise StoreError(f"audit trail write failed: {exc.__class__.__name__}") from None

    async def events(
        self,
        *,
        since: datetime | None = None,
        model_id: str | None = None,
        kinds: Iterable[AuditKind] | None = None,
        limit: int | None = None,
    ) -> list[AuditEvent]:
        """Oldest first; with `limit`, the newest `limit` events (still oldest first)."""
        c = audit_table.c
        query = sa.select(audit_table)
        if since is not None:
            query = query.where(c.at >= since.astimezone(UTC))
        if model_id is not None:
            query = query.where(c.model_id == model_id)
        if kinds is not None:
            query = query.where(c.kind.in_([str(k) for k in kinds]))
        query = query.order_by(c.id.desc() if limit else c.id)
        if limit:
            query = query.limit(limit)
        try:
            async with self._store.connect() as conn:
                rows = (await conn.execute(query)).all()
        except DATABASE_ERRORS as exc:
            raise StoreError(f"audit trail read failed: {exc.__class__.__name__}") from None
        events = [_event(r._mapping) for r in rows]
        return events[::-1] if limit else events


def _values(event: AuditEvent) -> dict[str, Any]:
    return {
        "at": event.at.astimezone(UTC),
        "kind": str(event.kind),
        "actor": event.actor,
        "channel": event.channel,
        "team_id": event.team_id,
        "enterprise_id": event.enterprise_id,
        "model_id": event.model_id,
        "job_id": event.job_id,
        "options": event.options,
        "outcome": event.outcome,
        "detail": json.dumps(event.detail, sort_keys=True) if event.detail else None,
    }


def _event(row: Any) -> AuditEvent:
    at = row["at"]
    return AuditEvent(
        kind=AuditKind(row["kind"]),
        actor=row["actor"],
        channel=row["channel"],
        team_id=row["team_id"],
        enterprise_id=row["enterprise_id"],
        model_id=row["model_id"],
        job_id=row["job_id"],
        options=row["options"],
        outcome=row["outcome"],
        detail=json.loads(row["detail"]) if row["detail"] else {},
        at=at.replace(tzinfo=UTC) if at.tzinfo is None else at,
    )


_COLUMNS = [
    "at",
    "kind",
    "actor",
    "channel",
    "model_id",
    "job_id",
    "options",
    "outcome",
    "detail",
    "team_id",
    "enterprise_id",
]


def export_events(events: Iterable[AuditEvent], *, fmt: str) -> Iterator[str]:
    """The trail as CSV (with a header) or JSON Lines, one string per line."""
    if fmt == "jsonl":
        for event in events:
            yield json.dumps(event.as_record(), sort_keys=True, ensure_ascii=False) + "\n"
        return
    buffer = io.StringIO()
    writer = csv.DictWriter(buffer, fieldnames=_COLUMNS, lineterminator="\n")
    writer.writeheader()
    for event in events:
        record = event.as_record()
        record["detail"] = json.dumps(record["detail"], sort_keys=True) if record["detail"] else ""
        writer.writerow(record)
        yield buffer.getvalue()
        buffer.seek(0)
        buffer.truncate()
    if buffer.getvalue():
        yield buffer.getvalue()
