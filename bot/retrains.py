"""The use cases every entry point shares: start a retrain, stop following one, answer privately.

    /retrain, the form, "Retrain again" ──▶ Retrains.start ──▶ Follower.start_job
    /retrain cancel, the Stop button    ──▶ Retrains.stop  ──▶ Follower.stop_following

Listeners parse and ack; they never call each other. Whatever a listener decides to do goes
through here, so a retrain started from the form is checked, stored, audited and confirmed
exactly like a typed one.
"""

from __future__ import annotations

import asyncio
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from bot.access import Decision
from bot.access.gatekeeper import Gatekeeper
from bot.core.jobs import Job, JobStatus, utcnow
from bot.core.options import RetrainOptions
from bot.follow.follower import Follower
from bot.slack.look import Message
from bot.slack.notify import Notifier
from bot.store.audit import AuditEvent, AuditKind, AuditLog
from bot.store.jobs import DuplicateJob, JobStore

__all__ = ["Requester", "Retrains", "refused", "submitting"]


@dataclass(frozen=True, slots=True)
class Requester:
    """Who asks for a retrain, where, and how to answer them privately."""

    user: str
    channel: str  # where they asked: private answers go there
    team_id: str | None = None
    response_url: str | None = None  # a slash command's; forms and buttons have none

    @classmethod
    def of_command(cls, command: dict[str, Any]) -> Requester:
        return cls(
            user=str(command["user_id"]),
            channel=str(command["channel_id"]),
            team_id=command.get("team_id"),
            response_url=command.get("response_url"),
        )


def submitting(model_id: str, options: RetrainOptions, *, checking: bool = False) -> str:
    """The private confirmation of a retrain request, typed or from the form."""
    step = "Checking access and submitting" if checking else "Submitting"
    return f":outbox_tray: {step} the retrain of `{model_id}` ({options.describe()})…"


def refused(model_id: str, reason: str | None) -> str:
    """A private, specific refusal; nothing was sent to Einstein."""
    return (
        f":no_entry: Sorry, the retrain of `{model_id}` was not started. "
        f"{reason or 'The access rules do not allow it.'}"
    )


def _who_approves(decision: Decision) -> str:
    rule = decision.rule
    where = f" ({rule.where}, models matching `{rule.match}`)" if rule else ""
    if decision.approvers:
        people = ", ".join(f"<@{u}>" for u in sorted(decision.approvers))
        return f"It can be approved by {people}{where}."
    return f"Anyone allowed to retrain this model, other than the requester, can approve{where}."


class Retrains:
    """Start and stop retrains for whoever asks, through whichever listener."""

    def __init__(
        self,
        *,
        store: JobStore,
        follower: Follower,
        notifier: Notifier,
        gate: Gatekeeper,
        audit: AuditLog,
        retrain_channel: str | None,
        approval_ttl: float = 3600.0,
    ) -> None:
        self._store = store
        self._follower = follower
        self._notifier = notifier
        self._gate = gate
        self._audit = audit
        self._retrain_channel = retrain_channel
        self._approval_ttl = approval_ttl

    def start(
        self,
        *,
        model_id: str,
        options: RetrainOptions,
        by: Requester,
        decided: Decision | None = None,
    ) -> Job:
        """Start a retrain the way every entry point does (command, form, Retrain again).

        The job is stored and followed in a background task; if the model is already
        followed, `by` is told privately where instead. The caller confirms the request.
        """
        job = Job(
            id=secrets.token_hex(8),
            model_id=model_id,
            options=options,
            requester=by.user,
            channel=self._retrain_channel or by.channel,
            origin_channel=by.channel,
            team_id=by.team_id,
            response_url=by.response_url,
            created_at=utcnow(),
        )
        self._follower.spawn(self._accept(job, decided), name=f"accept-{job.id}")
        return job

    async def _accept(self, job: Job, decided: Decision | None) -> None:
        """Check access, store the job (unless the model is already followed), follow it."""
        decision = decided or await self._gate.check_retrain(
            user=job.requester,
            channel=job.origin_channel,
            model_id=job.model_id,
            options=job.options,
        )
        by = Requester(
            user=job.requester,
            channel=job.origin_channel,
            team_id=job.team_id,
            response_url=job.response_url,
        )
        if not decision.allowed:
            await self.record_denial(job.model_id, job.options, by, decision.reason)
            await self._tell(job, refused(job.model_id, decision.reason))
            return
        await self.note(
            AuditKind.COMMAND, job.model_id, job.options, by, job_id=job.id, outcome="accepted"
        )
        if decision.needs_approval:
            await self.note(
                AuditKind.APPROVAL_REQUESTED,
                job.model_id,
                job.options,
                by,
                job_id=job.id,
                outcome=_who_approves(decision),
            )
            job = job.with_changes(
                status=JobStatus.AWAITING_APPROVAL,
                approval_expires_at=job.created_at + timedelta(seconds=self._approval_ttl),
                decision_note=_who_approves(decision),
            )
        try:
            await self._follower.start_job(job)
        except DuplicateJob:
            existing = await self._card_of_existing(job.model_id)
            where = await self.where(existing) if existing else ""
            await self._tell(
                job,
                f":information_source: A retrain of `{job.model_id}` is already "
                f"being followed{where}, so nothing new was started.",
            )

    async def stop(self, model_id: str, *, user: str) -> str:
        """Stop following `model_id`'s training for `user`; the private answer."""
        job = await self._store.active_for_model(model_id)
        if job is None:
            return f"No retrain of `{model_id}` is being followed, so there is nothing to stop."
        if not await self._gate.may_stop(user, job):
            return (
                f"Sorry, only <@{job.requester}>, who started this retrain of `{model_id}`, "
                "or people allowed to retrain it can stop following it."
            )
        await self._follower.stop_following(job, by=user)
        return (
            f"Stopped following the retrain of `{model_id}`. Einstein has no cancel call, "
            "so the training itself may still run to its end."
        )

    async def record_denial(
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
        """One line of the audit trail about a request `by` made."""
        await self._audit.note(
            AuditEvent(
                kind=kind,
                actor=by.user,
                channel=by.channel,
                model_id=model_id,
                job_id=job_id,
                options=options.describe(),
                outcome=outcome,
                detail=detail,
            )
        )

    async def _card_of_existing(self, model_id: str) -> Job | None:
        """The followed job of `model_id`, given a moment to post its card when it is new."""
        existing = await self._store.active_for_model(model_id)
        for _ in range(25):
            if existing is None or existing.parent_ts is not None:
                break
            await asyncio.sleep(0.2)
            existing = await self._store.active_for_model(model_id)
        return existing

    async def where(self, job: Job) -> str:
        """Where `job`'s thread is, as a few words for a private answer."""
        if job.parent_ts is None:
            return f" (its thread is about to appear in <#{job.channel}>)"
        link = await self._notifier.permalink(job.channel, job.parent_ts)
        return f" (<{link}|thread>)" if link else f" (in <#{job.channel}>)"

    async def _tell(self, job: Job, text: str | Message) -> None:
        await self._notifier.tell(
            response_url=job.response_url,
            channel=job.origin_channel,
            user=job.requester,
            message=text,
        )
