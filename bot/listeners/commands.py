"""Slack listeners: ack at once, parse, hand the slow work to a background task.

Slack gives a slash command 3 seconds. The app runs Bolt with `process_before_response=True`
so the HTTP answer leaves as soon as the listener returns, and the listener only parses and
acks: anything touching Einstein, the database or Slack's Web API happens in a task after it.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from dataclasses import dataclass
from datetime import timedelta
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.response import BoltResponse

from bot.access import Decision
from bot.access.gatekeeper import Gatekeeper
from bot.core.grammar import Cancel, Help, History, ListJobs, Retrain, Status, parse_command
from bot.core.help import USAGE, render_help
from bot.core.jobs import Job, JobStatus, utcnow
from bot.core.mrkdwn import format_duration
from bot.core.options import RetrainOptions
from bot.errors import BotError, SlackError, StoreError, UsageError
from bot.follow.follower import Follower
from bot.slack.look import Message, look
from bot.slack.notify import Notifier
from bot.slack.views import retrain_form
from bot.store.audit import AuditEvent, AuditKind, AuditLog
from bot.store.jobs import DuplicateJob, JobStore

__all__ = ["COMMAND", "Handlers", "Requester", "register_handlers", "submitting"]

log = logging.getLogger(__name__)

COMMAND = "/retrain"


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


class Handlers:
    """The listeners, with the services they hand work to."""

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

    async def on_command(self, ack: AsyncAck, command: dict[str, Any]) -> None:
        text = str(command.get("text") or "")
        if not text.strip():
            # A bare `/retrain` opens the form. Its trigger_id expires 3 s after the command,
            # so the task opening it starts right after the ack, counting from its arrival.
            arrived = asyncio.get_running_loop().time()
            await ack()
            self._follower.spawn(
                self._open_form(command, triggered_at=arrived), name=f"form-{secrets.token_hex(4)}"
            )
            return
        try:
            parsed = parse_command(text)
        except UsageError as exc:
            await ack(text=f":warning: {exc}\n{USAGE}\nType `{COMMAND} help` for examples.")
            return
        match parsed:
            case Help(topic=topic):
                await ack(text=render_help(topic=topic))
            case Retrain(model_id=model_id, options=options):
                by = Requester.of_command(command)
                # Most rules decide without I/O: then the ack itself carries a refusal.
                decision = self._gate.decide_now(
                    user=by.user, channel=by.channel, model_id=model_id, options=options
                )
                if decision is not None and not decision.allowed:
                    await ack(text=refused(model_id, decision.reason))
                    self._follower.spawn(
                        self._record_denial(model_id, options, by, decision.reason),
                        name=f"denied-{secrets.token_hex(4)}",
                    )
                    return
                await ack(text=submitting(model_id, options, checking=decision is None))
                self.start_retrain(model_id=model_id, options=options, by=by, decided=decision)
            case _:
                await ack()
                self._follower.spawn(
                    self._answer(parsed, command), name=f"answer-{secrets.token_hex(4)}"
                )

    def start_retrain(
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

    async def _open_form(self, command: dict[str, Any], *, triggered_at: float) -> None:
        """Open the retrain form; when Slack will not, show the help instead of nothing."""
        try:
            await self._notifier.open_view(
                retrain_form(channel=str(command["channel_id"])),
                trigger_id=str(command.get("trigger_id") or ""),
                user=str(command["user_id"]),
                triggered_at=triggered_at,
            )
        except SlackError as exc:
            log.warning("could not open the retrain form: %s", exc.code)
            await self._notifier.tell(
                response_url=command.get("response_url"),
                channel=str(command["channel_id"]),
                user=str(command["user_id"]),
                message=render_help(),
            )

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
            await self._record_denial(job.model_id, job.options, by, decision.reason)
            await self._tell(job, refused(job.model_id, decision.reason))
            return
        await self._record(
            AuditKind.COMMAND, job.model_id, job.options, by, job_id=job.id, outcome="accepted"
        )
        if decision.needs_approval:
            await self._record(
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
            where = await self._where(existing) if existing else ""
            await self._tell(
                job,
                f":information_source: A retrain of `{job.model_id}` is already "
                f"being followed{where}, so nothing new was started.",
            )

    async def _record_denial(
        self, model_id: str, options: RetrainOptions, by: Requester, reason: str | None
    ) -> None:
        await self._record(AuditKind.COMMAND, model_id, options, by, outcome="denied")
        await self._record(AuditKind.DENIED, model_id, options, by, outcome=reason)

    async def _record(
        self,
        kind: AuditKind,
        model_id: str,
        options: RetrainOptions,
        by: Requester,
        *,
        job_id: str | None = None,
        outcome: str | None = None,
    ) -> None:
        event = AuditEvent(
            kind=kind,
            actor=by.user,
            channel=by.channel,
            model_id=model_id,
            job_id=job_id,
            options=options.describe(),
            outcome=outcome,
        )
        try:
            await self._audit.record(event)
        except StoreError as exc:
            log.error("audit trail write failed: %s", exc)

    async def _card_of_existing(self, model_id: str) -> Job | None:
        """The followed job of `model_id`, given a moment to post its card when it is new."""
        existing = await self._store.active_for_model(model_id)
        for _ in range(25):
            if existing is None or existing.parent_ts is not None:
                break
            await asyncio.sleep(0.2)
            existing = await self._store.active_for_model(model_id)
        return existing

    async def _answer(self, parsed: object, command: dict[str, Any]) -> None:
        reply = await self._reply_for(parsed, command)
        await self._notifier.tell(
            response_url=command.get("response_url"),
            channel=str(command["channel_id"]),
            user=str(command["user_id"]),
            message=reply,
        )

    async def _reply_for(self, parsed: object, command: dict[str, Any]) -> Message | str:
        match parsed:
            case Status(model_id=model_id):
                job = await self._latest(model_id)
                if job is None:
                    return f"No retrain of `{model_id}` has been followed here."
                return f"{_job_line(job)}{await self._where(job)}"
            case ListJobs():
                jobs = [j for j in await self._store.unfinished() if not j.is_final]
                if not jobs:
                    return "No trainings are being followed right now."
                lines = [f"• {_job_line(j)}{await self._where(j)}" for j in jobs]
                return "*Trainings being followed*\n" + "\n".join(lines)
            case Cancel(model_id=model_id):
                return await self._cancel(model_id, user=str(command["user_id"]))
            case History(model_id=model_id):
                jobs = [
                    j
                    for j in await self._store.recent(limit=50)
                    if model_id is None or j.model_id == model_id
                ][:10]
                if not jobs:
                    return "No trainings recorded yet."
                lines = [f"• {_history_line(j)}{await self._where(j)}" for j in jobs]
                return "*Recent trainings*\n" + "\n".join(lines)
        raise BotError(f"no answer for {parsed!r}")

    async def _latest(self, model_id: str) -> Job | None:
        active = await self._store.active_for_model(model_id)
        if active is not None:
            return active
        return next(
            (j for j in await self._store.recent(limit=100) if j.model_id == model_id), None
        )

    async def _cancel(self, model_id: str, *, user: str) -> str:
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

    async def _where(self, job: Job) -> str:
        if job.parent_ts is None:
            return f" (its thread is about to appear in <#{job.channel}>)"
        link = await self._notifier.permalink(job.channel, job.parent_ts)
        return f" (<{link}|thread>)" if link else f" (in <#{job.channel}>)"

    async def _tell(self, job: Job, text: str) -> None:
        await self._notifier.tell(
            response_url=job.response_url,
            channel=job.origin_channel,
            user=job.requester,
            message=text,
        )


def _job_line(job: Job) -> str:
    symbol, name = look(job.status)
    line = f"{symbol} `{job.model_id}` {name}"
    if job.status == JobStatus.RUNNING:
        line += f" {job.progress * 100:.0f}%"
    if job.status == JobStatus.QUEUED and job.queue_position is not None:
        line += f" (position {job.queue_position})"
    if job.result is not None and job.result.test_accuracy is not None:
        line += f" · accuracy {job.result.test_accuracy * 100:.1f}%"
    line += f" · started {format_duration((utcnow() - job.created_at).total_seconds())} ago"
    return line


def _history_line(job: Job) -> str:
    """One past training: outcome, metrics, requester and approver."""
    line = f"{_job_line(job)} · by <@{job.requester}>"
    if job.result is not None and job.result.macro_f1 is not None:
        line += f" · macro F1 {job.result.macro_f1 * 100:.1f}%"
    if job.approver is not None:
        verb = "declined" if job.status == JobStatus.DECLINED else "approved"
        line += f" · {verb} by <@{job.approver}>"
    return line


def register_handlers(app: AsyncApp, handlers: Handlers) -> None:
    app.command(COMMAND)(handlers.on_command)

    @app.error
    async def on_error(error: Exception) -> BoltResponse:
        # One place turns surprises into a plain message; the id ties it to the log line.
        error_id = secrets.token_hex(4)
        log.error("unhandled error %s: %s", error_id, error.__class__.__name__, exc_info=error)
        return BoltResponse(
            status=200,
            body=f":warning: Something went wrong on the bot's side (error id `{error_id}`). "
            "Nothing was started; please try again.",
        )
