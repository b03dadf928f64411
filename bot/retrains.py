"""The use cases every entry point shares: start a retrain, fire a schedule's, answer privately.

    /retrain, the form, "Retrain again" ──▶ Retrains.start ──▶ store.add, then Follower.follow
    a schedule's or trigger's fire      ──▶ Retrains.fire  ──▶ the same, for its creator

Stopping one and the approvers' checks are in `bot.stops`; the audit lines in `bot.trail`.

Listeners parse and ack; they never call each other. Whatever a listener decides to do goes
through here, so a retrain started from the form is checked, stored, audited and confirmed
exactly like a typed one.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass, replace
from datetime import timedelta
from typing import Final

from bot.access.decision import Decision
from bot.access.gatekeeper import Gatekeeper
from bot.access.visibility import Visibility, private_by_name
from bot.core.jobs import Job, JobStatus, utcnow
from bot.core.options import RetrainOptions
from bot.core.requester import Requester
from bot.duplicates import Duplicates
from bot.errors import StoreError
from bot.follow.follower import Follower
from bot.foreground import Foreground
from bot.loops import within
from bot.reads import Reads
from bot.slack import texts
from bot.slack.look import Message
from bot.slack.notify import Notifier
from bot.store.audit import AuditKind
from bot.store.jobs import DuplicateJob, JobStore
from bot.trail import Trail

__all__ = ["ACK_BUDGET", "Fired", "Retrains"]

log = logging.getLogger(__name__)

# Slack waits 3 s for a command's answer; this leaves room for the network on both sides.
ACK_BUDGET: Final = 2.0
# Whether a new job's channel is private is asked before Einstein is: at most this long.
_PRIVACY_LOOKUP: Final = 2.0


@dataclass(frozen=True, slots=True)
class Fired:
    """What a schedule's or trigger's fire did: started `job`, or not and why."""

    job: Job | None
    refusal: str | None = None  # the access rules or policy said no
    busy: Job | None = None  # the model was already training: this job


class Retrains:
    """Start retrains for whoever asks, through whichever listener or schedule."""

    def __init__(
        self,
        *,
        store: JobStore,
        follower: Follower,
        notifier: Notifier,
        gate: Gatekeeper,
        trail: Trail,
        reads: Reads,
        visibility: Visibility,
        retrain_channel: str | None,
        approval_ttl: float = 3600.0,
        foreground: Foreground | None = None,
    ) -> None:
        self._store = store
        self._follower = follower
        self._notifier = notifier
        self._gate = gate
        self._trail = trail
        self._reads = reads
        self._visibility = visibility
        self._retrain_channel = retrain_channel
        self._approval_ttl = approval_ttl
        self._foreground = foreground or Foreground()
        self._to_begin: list[tuple[Job, float]] = []  # stored by commands, begun after the burst
        self._duplicates = Duplicates(store=store, reads=reads, trail=trail, tell=self._tell)

    async def start(self, *, model_id: str, options: RetrainOptions, by: Requester) -> str | None:
        """Check access and store the job before anyone is told it is on its way.

        Returns the private answer for `by`: the confirmation, a refusal, or word that the
        database could not record the job; None when the answer follows privately (the
        model is already followed and the link to its thread is on its way). Takes at most
        `ACK_BUDGET` seconds, since a command's ack waits for it; what is not settled by then
        is settled in the background and told privately.
        """
        deadline = asyncio.get_running_loop().time() + ACK_BUDGET
        job = self._new_job(model_id=model_id, options=options, by=by)
        check = self._gate.decide_now(by, model_id=model_id, options=options)
        if check is None:
            try:
                check = await within(
                    self._gate.check_retrain(by, model_id=model_id, options=options), deadline
                )
            except TimeoutError:
                return texts.refused(model_id, texts.NO_TIME_TO_CHECK)
        if not check.allowed:
            self._follower.spawn(
                # The trail's line lists every broken rule, as the answer does.
                self._trail.denial(model_id, options, by, check.reason, broken=list(check.broken)),
                name=f"denied-{job.id}",
            )
            return texts.refused(model_id, check.reason)
        if check.needs_approval:
            job = self._awaiting_approval(job, check)
        # Stored before the confirmation goes out: a crash right after the ack leaves a job
        # that this process, restarted, or another instance takes over.
        leased_at, stored = self._follower.store_new_soon(job)
        # Not cancelled at the deadline: a write the ack could not wait for still lands, or
        # fails, and the requester is told which.
        remaining = deadline - asyncio.get_running_loop().time()
        await asyncio.wait({stored}, timeout=max(0.0, remaining))
        if not stored.done():
            self._follower.spawn(self._settle_late(job, stored, leased_at), name=f"late-{job.id}")
            return texts.not_recorded_yet(job)
        try:
            stored.result()
        except DuplicateJob:
            self._follower.spawn(self._duplicates.answer(job), name=f"existing-{job.id}")
            return None
        except StoreError as exc:
            log.error("could not store a new retrain of %s: %s", model_id, exc)
            return texts.refused(model_id, texts.CANNOT_RECORD)
        self._begin_after_burst(job, leased_at)
        return texts.confirmation(job)

    async def fire(self, job: Job) -> Fired:
        """Start `job`, which a schedule or trigger made for its creator, as a command would.

        The access rules and policy limits are checked for the creator now. A job by this ID
        already stored means this fire happened before (its claim outlived a crash).
        """
        if await self._store.get(job.id) is not None:
            return Fired(job=None)
        by = Requester.of_job(job)
        # Checked in the channel the job runs in (a schedule's, or RETRAIN_CHANNEL).
        check = await self._gate.check_retrain(
            replace(by, channel=job.channel), model_id=job.model_id, options=job.options
        )
        if not check.allowed:
            await self._trail.note(
                AuditKind.DENIED, job.model_id, job.options, by, outcome=check.reason, fire=job.id
            )
            return Fired(job=None, refusal=check.reason)
        if check.needs_approval:
            job = self._awaiting_approval(job, check)
        try:
            leased_at = await self._follower.store_new(job)
        except DuplicateJob:
            return Fired(job=None, busy=await self._store.active_for_model(job.model_id))
        await self._begin(job, leased_at)
        return Fired(job=job)

    def _awaiting_approval(self, job: Job, check: Decision) -> Job:
        return job.with_changes(
            status=JobStatus.AWAITING_APPROVAL,
            approval_expires_at=job.created_at + timedelta(seconds=self._approval_ttl),
            decision_note=texts.who_approves(check),
        )

    def _new_job(self, *, model_id: str, options: RetrainOptions, by: Requester) -> Job:
        channel = self._retrain_channel or by.channel
        # Known at once only when the command's channel name says "private" and the thread
        # stays there; else Slack is asked after the answer (`Visibility.known`, in `_begin`).
        private = (
            frozenset({by.channel})
            if channel == by.channel and private_by_name(by.channel, by.channel_name)
            else None
        )
        return Job(
            id=secrets.token_hex(8),
            model_id=model_id,
            options=options,
            requester=by.user,
            channel=channel,
            origin_channel=by.channel,
            team_id=by.team_id,
            enterprise_id=by.enterprise_id,
            response_url=by.response_url,
            created_at=utcnow(),
            private_channels=private,
        )

    def _begin_after_burst(self, job: Job, leased_at: float) -> None:
        """Begin `job` once the requests being answered are: a burst of commands is acked
        before their jobs' work (the trail, Einstein, Slack) takes turns on the event loop
        (bot.foreground). One task waits for the whole burst, not one a command."""
        self._to_begin.append((job, leased_at))
        if len(self._to_begin) == 1:
            self._follower.spawn(self._begin_stored(), name="begin-stored")

    async def _begin_stored(self) -> None:
        await self._foreground.quiet()
        stored, self._to_begin = self._to_begin, []
        for job, leased_at in stored:
            self._follower.spawn(self._begin(job, leased_at), name=f"begin-{job.id}")

    async def _begin(self, job: Job, leased_at: float) -> None:
        """A stored job: into the trail, then followed (the observer submits it)."""
        await self._foreground.quiet()  # a schedule's fire or a late store waits its turn too
        # Stored with the job's next write; unknown, the read commands ask Slack themselves.
        job = await self._visibility.known(job, within=_PRIVACY_LOOKUP)
        by = Requester.of_job(job)
        await self._trail.note(
            AuditKind.COMMAND, job.model_id, job.options, by, job_id=job.id, outcome="accepted"
        )
        if job.status == JobStatus.AWAITING_APPROVAL:
            await self._trail.note(
                AuditKind.APPROVAL_REQUESTED,
                job.model_id,
                job.options,
                by,
                job_id=job.id,
                outcome=job.decision_note,
            )
        self._follower.follow(job, leased_at=leased_at)

    async def _settle_late(self, job: Job, stored: asyncio.Future[None], leased_at: float) -> None:
        """The store answered after the ack: the requester hears which way it went."""
        try:
            await stored
        except DuplicateJob:
            await self._duplicates.answer(job)
            return
        except StoreError as exc:
            log.error("could not store a new retrain of %s: %s", job.model_id, exc)
            await self._tell(job, texts.refused(job.model_id, texts.CANNOT_RECORD))
            return
        await self._begin(job, leased_at)
        await self._tell(job, f"{texts.confirmation(job)} It was recorded after all.")

    async def _tell(self, job: Job, text: str | Message) -> None:
        await self._notifier.private.tell(
            response_url=job.response_url,
            channel=job.origin_channel,
            user=job.requester,
            message=text,
        )
