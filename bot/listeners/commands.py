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
import time
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp
from slack_bolt.response import BoltResponse

from bot.autoruns import AutoRuns
from bot.choices import Choices
from bot.core.autocommands import Schedule, Schedules, Unschedule, When
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
from bot.core.requester import Requester
from bot.errors import BotError, SlackError, UsageError
from bot.follow.follower import Follower
from bot.metrics import Metrics
from bot.reads import Reads
from bot.retrains import Retrains
from bot.slack.look import Message
from bot.slack.notify import Notifier
from bot.slack.views import retrain_form
from bot.stops import Stops

__all__ = ["COMMAND", "Handlers", "register_handlers"]

log = logging.getLogger(__name__)

COMMAND = "/retrain"


class Handlers:
    """The listeners, with the services they hand work to."""

    def __init__(
        self,
        *,
        retrains: Retrains,
        stops: Stops,
        reads: Reads,
        autoruns: AutoRuns,
        follower: Follower,
        notifier: Notifier,
        choices: Choices,
        metrics: Metrics | None = None,
    ) -> None:
        self._metrics = metrics
        self._choices = choices
        self._retrains = retrains
        self._stops = stops
        self._reads = reads
        self._autoruns = autoruns
        self._follower = follower
        self._notifier = notifier

    async def on_command(self, ack: AsyncAck, command: dict[str, Any]) -> None:
        # Bolt answers Slack when the listener returns (process_before_response): its run
        # time is the ack's, whether the command came over HTTP or Socket Mode.
        started = time.perf_counter()
        try:
            await self._command(ack, command)
        finally:
            if self._metrics is not None:
                self._metrics.ack(time.perf_counter() - started)

    async def _command(self, ack: AsyncAck, command: dict[str, Any]) -> None:
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
            await self._notifier.surfaces.open_view(
                retrain_form(channel=str(command["channel_id"])),
                trigger_id=str(command.get("trigger_id") or ""),
                user=str(command["user_id"]),
                triggered_at=triggered_at,
            )
        except SlackError as exc:
            log.warning("could not open the retrain form: %s", exc.code)
            await self._notifier.private.tell(
                response_url=command.get("response_url"),
                channel=str(command["channel_id"]),
                user=str(command["user_id"]),
                message=render_help(),
            )

    async def _answer(self, parsed: object, command: dict[str, Any]) -> None:
        reply = await self._reply_for(parsed, command)
        await self._notifier.private.tell(
            response_url=command.get("response_url"),
            channel=str(command["channel_id"]),
            user=str(command["user_id"]),
            message=reply,
        )

    async def _reply_for(self, parsed: object, command: dict[str, Any]) -> Message | str:
        user = str(command["user_id"])
        team_id = command.get("team_id") or None  # the reads and choices are per workspace
        match parsed:
            case Status() | ListJobs() | History():
                return await self._reads.answer(parsed, user=user, team_id=team_id)
            case Cancel(model_id=model_id):
                return await self._stops.stop(model_id, user=user, team_id=team_id)
            case Schedule() | When():
                return await self._autoruns.create(parsed, by=Requester.of_command(command))
            case Schedules():
                return await self._autoruns.listing(by=Requester.of_command(command))
            case Unschedule(auto_id=auto_id):
                return await self._autoruns.remove(auto_id, by=Requester.of_command(command))
            case Notify(mode=mode):
                return await self._choices.notify(user=user, team_id=team_id, mode=mode)
        raise BotError(f"no answer for {parsed!r}")


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
