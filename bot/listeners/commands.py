"""The /retrain listener: parse, ack, hand the slow work to a background task.

Slack gives a slash command 3 seconds. The app runs Bolt with `process_before_response=True`
so the HTTP answer leaves as soon as the listener returns. Before it answers, a retrain is only
checked and stored (`Retrains.start`, bounded by its budget), so the confirmation is never a
promise a crash could break; Einstein and Slack's Web API are called in tasks after it.
"""

from __future__ import annotations

import asyncio
import logging
import secrets
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.response import BoltResponse

from bot.choices import Choices
from bot.core.grammar import (
    Cancel,
    Help,
    History,
    ListJobs,
    Notify,
    Retrain,
    Status,
    parse_command,
)
from bot.core.help import USAGE, render_help
from bot.core.jobs import Job, JobStatus, utcnow
from bot.core.requester import Requester
from bot.errors import BotError, SlackError, UsageError
from bot.follow.follower import Follower
from bot.retrains import Retrains
from bot.slack.look import Message, job_line
from bot.slack.notify import Notifier
from bot.slack.views import retrain_form
from bot.store.jobs import JobStore

__all__ = ["COMMAND", "Handlers", "register_handlers"]

log = logging.getLogger(__name__)

COMMAND = "/retrain"


class Handlers:
    """The listeners, with the services they hand work to."""

    def __init__(
        self,
        *,
        retrains: Retrains,
        store: JobStore,
        follower: Follower,
        notifier: Notifier,
        choices: Choices,
    ) -> None:
        self._choices = choices
        self._retrains = retrains
        self._store = store
        self._follower = follower
        self._notifier = notifier

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
                # Checked and stored before the ack (within its budget), so the answer is
                # a refusal or a promise the store already keeps.
                answer = await self._retrains.start(
                    model_id=model_id, options=options, by=Requester.of_command(command)
                )
                await ack(text=answer or "")
            case _:
                await ack()
                self._follower.spawn(
                    self._answer(parsed, command), name=f"answer-{secrets.token_hex(4)}"
                )

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
                return f"{job_line(job, now=utcnow())}{await self._retrains.where(job)}"
            case ListJobs():
                jobs = [j for j in await self._store.unfinished() if not j.is_final]
                if not jobs:
                    return "No trainings are being followed right now."
                lines = [
                    f"• {job_line(j, now=utcnow())}{await self._retrains.where(j)}" for j in jobs
                ]
                return "*Trainings being followed*\n" + "\n".join(lines)
            case Cancel(model_id=model_id):
                return await self._retrains.stop(model_id, user=str(command["user_id"]))
            case Notify(mode=mode):
                return await self._choices.notify(user=str(command["user_id"]), mode=mode)
            case History(model_id=model_id):
                jobs = [
                    j
                    for j in await self._store.recent(limit=50)
                    if model_id is None or j.model_id == model_id
                ][:10]
                if not jobs:
                    return "No trainings recorded yet."
                lines = [f"• {_history_line(j)}{await self._retrains.where(j)}" for j in jobs]
                return "*Recent trainings*\n" + "\n".join(lines)
        raise BotError(f"no answer for {parsed!r}")

    async def _latest(self, model_id: str) -> Job | None:
        active = await self._store.active_for_model(model_id)
        if active is not None:
            return active
        return next(
            (j for j in await self._store.recent(limit=100) if j.model_id == model_id), None
        )


def _history_line(job: Job) -> str:
    """One past training: outcome, metrics, requester and approver."""
    line = f"{job_line(job, now=utcnow())} · by <@{job.requester}>"
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
