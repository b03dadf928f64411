"""The audit lines of people's requests: who asked for what, where, and how it went.

Shared by the use cases (`bot.retrains`, `bot.stops`), so a request is written to the trail
the same way whichever listener it came through.
"""

from __future__ import annotations

from typing import Any

from bot.core.options import RetrainOptions
from bot.core.requester import Requester
from bot.store.audit import AuditEvent, AuditKind, AuditLog

__all__ = ["Trail"]


class Trail:
    """Writes requests and refusals to the audit trail."""

    def __init__(self, audit: AuditLog) -> None:
        self._audit = audit

    async def note(
        self,
        kind: AuditKind,
        model_id: str,
        options: RetrainOptions,
        by: Requester,
        *,
        job_id: str | None = None,
        outcome: str | None = None,
        **detail: Any,
    ) -> None:
        """One line of the audit trail about a request `by` made, in their workspace."""
        await self._audit.note(
            AuditEvent(
                kind=kind,
                actor=by.user,
                channel=by.channel,
                team_id=by.team_id,
                enterprise_id=by.enterprise_id,
                model_id=model_id,
                job_id=job_id,
                options=options.describe(),
                outcome=outcome,
                detail=detail,
            )
        )

    async def denial(
        self,
        model_id: str,
        options: RetrainOptions,
        by: Requester,
        reason: str | None,
        *,
        job_id: str | None = None,
        **detail: Any,
    ) -> None:
        """A refused request in the trail: the command (unless it was a click) and the refusal."""
        if job_id is None:
            await self.note(AuditKind.COMMAND, model_id, options, by, outcome="denied")
        await self.note(
            AuditKind.DENIED, model_id, options, by, job_id=job_id, outcome=reason, **detail
        )
