"""The use cases every entry point shares: start a retrain, stop following one, answer privately.

    /retrain, the form, "Retrain again" ──▶ Retrains.start ──▶ store.add, then Follower.follow
    /retrain cancel, the Stop button    ──▶ Retrains.stop  ──▶ Follower.stop_following

Listeners parse and ack; they never call each other. Whatever a listener decides to do goes
through here, so a retrain started from the form is checked, stored, audited and confirmed
exactly like a typed one.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from collections.abc import Awaitable
from dataclasses import dataclass
from datetime import timedelta
from typing import Any, Final, TypeVar

from bot.access import Decision
from bot.access.gatekeeper import Gatekeeper
from bot.core.jobs import Job, JobStatus, utcnow
from bot.core.options import RetrainOptions
from bot.errors import StoreError
from bot.follow.follower import Follower
from bot.slack.look import Message
from bot.slack.notify import Notifier
from bot.store.audit import AuditEvent, AuditKind, AuditLog
from bot.store.jobs import DuplicateJob, JobStore

__all__ = ["ACK_BUDGET", "Requester", "Retrains", "confirmation", "refused", "submitting"]

log = logging.getLogger(__name__)

_T = TypeVar("_T")


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


# Slack waits 3 s for a command's answer; this leaves room for the network on both sides.
ACK_BUDGET: Final = 2.0

_CANNOT_RECORD: Final = (
    "The bot cannot record new retrains right now (its database is not answering), and it "
    "starts none it has not recorded. Please try again in a minute."
)
_NO_TIME_TO_CHECK: Final = (
    "Checking your access took too long (Slack was slow to list user groups). "
    "Please try again in a moment."
)


def submitting(model_id: str, options: RetrainOptions) -> str:
    """The private confirmation of a stored retrain request, typed or from the form."""
    return f":outbox_tray: Submitting the retrain of `{model_id}` ({options.describe()})…"


def confirmation(job: Job) -> str:
    """What the requester of a freshly stored job is told."""
    if job.status != JobStatus.AWAITING_APPROVAL:
        return submitting(job.model_id, job.options)
    return (
        f":hourglass_flowing_sand: The retrain of `{job.model_id}` ({job.options.describe()}) "
        f"needs an approval before it is submitted. {job.decision_note or ''} "
        f"The request is in <#{job.channel}>."
    )


def _not_recorded_yet(job: Job) -> str:
    return (
        f":hourglass_flowing_sand: The bot's database is slow to answer, so the retrain of "
        f"`{job.model_id}` is not recorded yet. You will hear here whether it was; nothing "
        "is sent to Einstein before that."
    )


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


def _requester_of(job: Job) -> Requester:
    return Requester(
        user=job.requester,
        channel=job.origin_channel,
        team_id=job.team_id,
        response_url=job.response_url,
    )


async def _within(step: Awaitable[_T], deadline: float) -> _T:
    """`step`'s result, or TimeoutError once the loop's clock passes `deadline`."""
    return await asyncio.wait_for(step, max(0.0, deadline - asyncio.get_running_loop().time()))


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
        ack_budget: float = ACK_BUDGET,
    ) -> None:
        self._store = store
        self._follower = follower
        self._notifier = notifier
        self._gate = gate
        self._audit = audit
        self._retrain_channel = retrain_channel
        self._approval_ttl = approval_ttl
        self._ack_budget = ack_budget

    async def start(
        self,
        *,
        model_id: str,
        options: RetrainOptions,
        by: Requester,
        budget: float | None = None,
    ) -> str | None:
        """Check access and store the job before anyone is told it is on its way.

        Returns the private answer for `by`: the confirmation, a refusal, or word that the
        database could not record the job; None when the answer follows privately (the
        model is already followed and the link to its thread is on its way). Takes at most
        `budget` seconds, since a command's ack waits for it; what is not settled by then
        is settled in the background and told privately.
        """
        deadline = asyncio.get_running_loop().time() + (
            self._ack_budget if budget is None else budget
        )
        job = self._new_job(model_id=model_id, options=options, by=by)
        check = self._gate.decide_now(
            user=by.user, channel=by.channel, model_id=model_id, options=options
        )
        if check is None:
            try:
                check = await _within(
                    self._gate.check_retrain(
                        user=by.user, channel=by.channel, model_id=model_id, options=options
                    ),
                    deadline,
                )
            except TimeoutError:
                return refused(model_id, _NO_TIME_TO_CHECK)
        if not check.allowed:
            self._follower.spawn(
                self.record_denial(model_id, options, by, check.reason),
                name=f"denied-{job.id}",
            )
            return refused(model_id, check.reason)
        if check.needs_approval:
            job = job.with_changes(
                status=JobStatus.AWAITING_APPROVAL,
                approval_expires_at=job.created_at + timedelta(seconds=self._approval_ttl),
                decision_note=_who_approves(check),
            )
        # Stored before the confirmation goes out: a crash right after the ack leaves a job
        # that this process, restarted, or another instance takes over.
        stored = asyncio.ensure_future(
            self._store.add(job, lease_seconds=self._follower.timing.lease_seconds)
        )
        try:
            # Shielded: a write the ack could not wait for still lands, or fails, and says so.
            await _within(asyncio.shield(stored), deadline)
        except TimeoutError:
            self._follower.spawn(self._settle_late(job, stored), name=f"late-{job.id}")
            return _not_recorded_yet(job)
        except DuplicateJob:
            self._follower.spawn(self._tell_existing(job), name=f"existing-{job.id}")
            return None
        except StoreError as exc:
            log.error("could not store a new retrain of %s: %s", model_id, exc)
            return refused(model_id, _CANNOT_RECORD)
        self._follower.spawn(self._begin(job), name=f"begin-{job.id}")
        return confirmation(job)

    def _new_job(self, *, model_id: str, options: RetrainOptions, by: Requester) -> Job:
        return Job(
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

    async def _begin(self, job: Job) -> None:
        """A stored job: into the trail, then followed (the observer submits it)."""
        by = _requester_of(job)
        await self.note(
            AuditKind.COMMAND, job.model_id, job.options, by, job_id=job.id, outcome="accepted"
        )
        if job.status == JobStatus.AWAITING_APPROVAL:
            await self.note(
                AuditKind.APPROVAL_REQUESTED,
                job.model_id,
                job.options,
                by,
                job_id=job.id,
                outcome=job.decision_note,
            )
        self._follower.follow(job)

    async def _settle_late(self, job: Job, stored: asyncio.Future[None]) -> None:
        """The store answered after the ack: the requester hears which way it went."""
        try:
            await stored
        except DuplicateJob:
            await self._tell_existing(job)
            return
        except StoreError as exc:
            log.error("could not store a new retrain of %s: %s", job.model_id, exc)
            await self._tell(job, refused(job.model_id, _CANNOT_RECORD))
            return
        await self._begin(job)
        await self._tell(job, f"{confirmation(job)} It was recorded after all.")

    async def _tell_existing(self, job: Job) -> None:
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
