"""Retrains that run themselves: making, listing and removing schedules and triggers, and firing.

    /retrain schedule | when     ──▶ AutoRuns.create       ──▶ the store, the trail
    /retrain schedules           ──▶ AutoRuns.listing
    /retrain unschedule          ──▶ AutoRuns.remove
    every `tick` s (schedules),
    every `trigger_interval` s   ──▶ AutoRuns.fire_due / check_triggers ──▶ Retrains.fire

Every instance runs the loops; the store's claim lets one of them carry out each fire (see
`bot.core.autoretrain`). A fire is a retrain by the creator, in the schedule's channel, checked
against the access rules and the policy at that moment. What it did goes into the trail; a
refusal and a skip (the model already training) are said in the channel, a refusal only when
it differs from the last one said, so a schedule refused every hour does not say it every hour.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Awaitable, Callable
from datetime import datetime, timedelta
from typing import Final

from bot.access.gatekeeper import Gatekeeper
from bot.access.visibility import Sight, Visibility
from bot.core.autocommands import Schedule, When
from bot.core.autoretrain import AutoKind, AutoRetrain, fire_job_id, new_auto_id
from bot.core.jobs import Job, utcnow
from bot.core.requester import Requester
from bot.core.workspaces import same_workspace
from bot.errors import EinsteinError, SlackError, SlackRefused, StoreError
from bot.loops import raise_if_cancelled
from bot.retrains import Fired, Retrains
from bot.slack import autotexts
from bot.slack.notify import Notifier
from bot.slack.tokens import Team, current_team
from bot.store.audit import AuditEvent, AuditKind, AuditLog
from bot.store.autoretrains import AutoRetrainStore

__all__ = ["AutoRuns", "FeedbackCount"]

log = logging.getLogger(__name__)

# How many feedback examples a model's dataset has (Einstein's examples with source=feedback).
FeedbackCount = Callable[[str], Awaitable[int]]

# A fire still pending this long after its claim was left by a process that stopped.
_ABANDONED_AFTER: Final = timedelta(minutes=2)


class AutoRuns:
    """Schedules and triggers: the use cases of the four commands, and the loops that fire."""

    def __init__(
        self,
        *,
        autos: AutoRetrainStore,
        retrains: Retrains,
        gate: Gatekeeper,
        notifier: Notifier,
        audit: AuditLog,
        visibility: Visibility,
        feedback_count: FeedbackCount,
        retrain_channel: str | None = None,
        tick: float = 15.0,
        trigger_interval: float = 900.0,
        now: Callable[[], datetime] = utcnow,
    ) -> None:
        self._autos = autos
        self._retrains = retrains
        self._gate = gate
        self._notifier = notifier
        self._audit = audit
        self._visibility = visibility
        self._feedback_count = feedback_count
        self._retrain_channel = retrain_channel
        self._tick = tick
        self._trigger_interval = trigger_interval
        self._now = now

    # -- the commands -----------------------------------------------------------------------

    async def create(self, command: Schedule | When, *, by: Requester) -> str:
        """Make a schedule or trigger for `by`, if they may retrain the model; the answer."""
        check = await self._gate.check_retrain(
            by, model_id=command.model_id, options=command.options
        )
        if not check.allowed:
            return autotexts.not_allowed(command.model_id, check.reason)
        now = self._now()
        if isinstance(command, Schedule):
            auto = _new(AutoKind.SCHEDULE, command, by, now).with_changes(
                recurrence=command.recurrence, next_run=command.recurrence.next_after(now)
            )
        else:
            try:
                count = await self._feedback_count(command.model_id)
            except EinsteinError as exc:
                return autotexts.no_feedback_count(command.model_id, exc.message)
            auto = _new(AutoKind.TRIGGER, command, by, now).with_changes(
                threshold=command.threshold, baseline=count
            )
        await self._autos.add(auto)
        await self._note(auto, AuditKind.SCHEDULE_CREATED, actor=by.user, outcome="created")
        return autotexts.created(auto)

    async def listing(self, *, by: Requester) -> str:
        """The schedules and triggers of `by`'s workspace that they may see (those of private
        channels only to their members, of DMs only to their creator), with ID, creator,
        channel, options and what is next; and how many are left out. Another workspace's
        are not counted: that workspace is none of this one's business."""
        shown: list[AutoRetrain] = []
        left_out = 0
        for auto in await self._autos.all(team_id=by.team_id):
            sight = await self._visibility.channel_sight(auto.channel, by.user, owner=auto.creator)
            if sight is Sight.SHOWN:
                shown.append(auto)
            else:
                left_out += 1
        progress: dict[str, int | None] = {}
        for auto in shown:
            if auto.kind is AutoKind.TRIGGER:
                progress[auto.id] = await self._count_or_none(auto.model_id)
        return autotexts.listing(shown, progress, left_out=left_out)

    async def remove(self, auto_id: str, *, by: Requester) -> str:
        """Remove one, if `by` made it or may retrain its model; the answer. One of another
        workspace is unknown here."""
        auto = await self._autos.get(auto_id)
        if auto is None or not same_workspace(auto.team_id, by.team_id):
            return autotexts.no_such(auto_id)
        if by.user != auto.creator:
            check = await self._gate.check_retrain(by, model_id=auto.model_id, options=auto.options)
            if not check.allowed:
                return autotexts.not_yours(auto, check.reason)
        if not await self._autos.remove(auto_id):
            return autotexts.no_such(auto_id)
        await self._note(auto, AuditKind.SCHEDULE_REMOVED, actor=by.user, outcome="removed")
        return autotexts.removed(auto)

    # -- the loops --------------------------------------------------------------------------

    async def run_schedules(self) -> None:
        """Fire due schedules (and take over abandoned fires) every `tick` seconds, forever."""
        while True:
            await self._guarded(self.fire_due, "schedules")
            await asyncio.sleep(self._tick)

    async def run_triggers(self) -> None:
        """Check the feedback triggers every `trigger_interval` seconds, forever."""
        while True:
            await self._guarded(self.check_triggers, "feedback triggers")
            await asyncio.sleep(self._trigger_interval)

    async def fire_due(self) -> None:
        """One pass: every schedule whose run has come fires once; abandoned fires resume."""
        now = self._now()
        for auto in await self._autos.due(now):
            if auto.pending is not None:
                claimed = auto.claimed_at or now
                if now - claimed >= _ABANDONED_AFTER and await self._autos.reclaim(auto, at=now):
                    await self._carry_out(auto, auto.pending, now)
                continue
            assert auto.recurrence is not None
            assert auto.next_run is not None
            moved = auto.with_changes(next_run=auto.recurrence.next_after(now))
            fire = auto.next_run.isoformat()
            if await self._autos.claim(auto, fire=fire, moved=moved, at=now):
                await self._carry_out(auto, fire, now)

    async def check_triggers(self) -> None:
        """One pass: each trigger whose model has enough new feedback fires once."""
        for auto in await self._autos.triggers():
            if auto.pending is not None:
                continue  # the schedules' loop takes abandoned fires over
            count = await self._count_or_none(auto.model_id)
            assert auto.threshold is not None
            assert auto.baseline is not None
            if count is None or count - auto.baseline < auto.threshold:
                continue
            now = self._now()
            moved = auto.with_changes(baseline=count)
            if await self._autos.claim(auto, fire=str(count), moved=moved, at=now):
                await self._carry_out(auto, str(count), now)

    async def _carry_out(self, auto: AutoRetrain, fire: str, now: datetime) -> None:
        job = Job(
            id=fire_job_id(auto.id, fire),
            model_id=auto.model_id,
            options=auto.options,
            requester=auto.creator,
            channel=self._retrain_channel or auto.channel,
            origin_channel=auto.channel,
            team_id=auto.team_id,
            enterprise_id=auto.enterprise_id,
            created_at=now,
            started_by=auto.id,
        )
        current_team.set(Team.of_job(job))  # its Slack calls carry its workspace's token
        fired = await self._retrains.fire(job)
        refusal = await self._tell_channel(auto, fired)
        outcome = "started" if fired.job else "refused" if fired.refusal else "skipped"
        if fired.job or fired.refusal or fired.busy:
            await self._note(auto, AuditKind.SCHEDULE_FIRED, job_id=job.id, outcome=outcome)
        await self._autos.settle(
            auto.id, fire=fire, job_id=fired.job.id if fired.job else None, at=now, refusal=refusal
        )

    async def _tell_channel(self, auto: AutoRetrain, fired: Fired) -> str | None:
        """Say a refusal (unless it was said last time) or a skip; the refusal said, if any.

        A Slack failure that may pass leaves the fire pending, to be tried again.
        """
        if fired.refusal is not None and fired.refusal == auto.refusal:
            return auto.refusal
        if fired.refusal is not None:
            text = autotexts.fire_refused(auto, fired.refusal)
        elif fired.busy is not None:
            text = autotexts.fire_skipped(auto, fired.busy)
        else:
            return None
        try:
            await self._notifier.say(auto.channel, text)
        except SlackRefused as exc:
            log.error("could not tell %s about %s's fire: %s", auto.channel, auto.id, exc.code)
        return fired.refusal

    async def _count_or_none(self, model_id: str) -> int | None:
        try:
            return await self._feedback_count(model_id)
        except EinsteinError as exc:
            log.warning("no feedback count for %s: %s", model_id, exc.message)
            return None

    async def _note(
        self,
        auto: AutoRetrain,
        kind: AuditKind,
        *,
        actor: str | None = None,
        job_id: str | None = None,
        outcome: str,
    ) -> None:
        await self._audit.note(
            AuditEvent(
                kind=kind,
                actor=actor or auto.creator,
                channel=auto.channel,
                team_id=auto.team_id,
                enterprise_id=auto.enterprise_id,
                model_id=auto.model_id,
                job_id=job_id,
                options=auto.options.describe(),
                outcome=outcome,
                detail={"id": auto.id, "what": autotexts.what(auto)},
            )
        )

    @staticmethod
    async def _guarded(step: Callable[[], Awaitable[None]], what: str) -> None:
        try:
            await step()
        except (StoreError, SlackError) as exc:
            log.warning("%s: %s; trying again at the next pass", what, exc)
        except Exception:
            # The loop must outlive any surprise, or schedules silently stop firing.
            log.exception("%s failed; trying again at the next pass", what)
        raise_if_cancelled()


def _new(kind: AutoKind, command: Schedule | When, by: Requester, now: datetime) -> AutoRetrain:
    return AutoRetrain(
        id=new_auto_id(kind),
        kind=kind,
        model_id=command.model_id,
        options=command.options,
        creator=by.user,
        channel=by.channel,
        created_at=now,
        team_id=by.team_id,
        enterprise_id=by.enterprise_id,
    )
