"""Listeners for the card's buttons, the reject form and the App Home tab (the retrain form's
submission is in `bot.listeners.forms`).

Each listener acks at once (Slack allows 3 seconds) and hands the work to a background task.
Nothing ties a card to a process: a button's value is its job ID and the job is read from the
store, so a card keeps working after a restart and whichever instance gets the click.
"""

from __future__ import annotations

import asyncio
import logging
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.core.jobs import Job
from bot.core.mrkdwn import format_duration
from bot.errors import SlackError, StoreError
from bot.follow.follower import Follower
from bot.listeners.clicks import Click
from bot.listeners.workspace import workspace_of
from bot.reads import Reads
from bot.retrains import Retrains
from bot.slack.ids import ActionId, CallbackId
from bot.slack.notify import Notifier
from bot.slack.views import read_reject_form, reject_form, retrain_form
from bot.stops import Stops
from bot.store.jobs import JobStore

__all__ = [
    "Interactions",
    "register_interactions",
]

log = logging.getLogger(__name__)


class Interactions:
    """Button, form and Home tab listeners, with the services they hand work to."""

    def __init__(
        self,
        *,
        store: JobStore,
        follower: Follower,
        notifier: Notifier,
        retrains: Retrains,
        stops: Stops,
        reads: Reads,
    ) -> None:
        self._store = store
        self._follower = follower
        self._notifier = notifier
        self._retrains = retrains
        self._stops = stops
        self._reads = reads

    # -- buttons --------------------------------------------------------------------------

    async def on_refresh(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        click = Click.of(body)
        self._follower.spawn(self._refresh(click), name=f"refresh-{click.job_id}")

    async def on_stop(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        click = Click.of(body)
        self._follower.spawn(self._stop(click), name=f"stop-{click.job_id}")

    async def on_retrain_again(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        click = Click.of(body)
        self._follower.spawn(self._retrain_again(click), name=f"again-{click.job_id}")

    async def on_retrain_with_changes(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        # The form opens from the click's trigger_id, which lives 3 seconds from the click.
        arrived = asyncio.get_running_loop().time()
        await ack()
        click = Click.of(body)
        self._follower.spawn(
            self._open_changes(click, str(body.get("trigger_id") or ""), triggered_at=arrived),
            name=f"changes-{click.job_id}",
        )

    async def on_approve(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        click = Click.of(body)
        self._follower.spawn(self._approve(click), name=f"approve-{click.job_id}")

    async def on_reject(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        # The trigger_id lives 3 seconds from the click: the form asking for a reason opens
        # right away, or not at all.
        arrived = asyncio.get_running_loop().time()
        await ack()
        click = Click.of(body)
        self._follower.spawn(
            self._ask_reason(click, str(body.get("trigger_id") or ""), triggered_at=arrived),
            name=f"reject-{click.job_id}",
        )

    async def on_reason_submitted(
        self, ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]
    ) -> None:
        await ack()
        job_id, channel, reason = read_reject_form(view)
        click = Click.in_channel(body, channel=channel, job_id=job_id)
        self._follower.spawn(self._decline(click, reason), name=f"decline-{click.job_id}")

    async def _awaiting(self, click: Click) -> Job | None:
        """The clicked job if `click.user` may still decide it; else they are told why not."""
        job = await self._job(click)
        if job is None:
            return None
        why_not = await self._stops.why_not_decide(job, by=click.by)
        if why_not is not None:
            await self._tell(click, why_not)
            return None
        return job

    async def _approve(self, click: Click) -> None:
        job = await self._awaiting(click)
        if job is not None:
            await self._follower.approve(job, by=click.user)

    async def _ask_reason(self, click: Click, trigger_id: str, *, triggered_at: float) -> None:
        job = await self._awaiting(click)
        if job is None:
            return
        try:
            await self._notifier.surfaces.open_view(
                reject_form(job_id=job.id, channel=click.channel, model_id=job.model_id),
                trigger_id=trigger_id,
                user=click.user,
                triggered_at=triggered_at,
            )
        except SlackError as exc:
            # No form, no reason: decline all the same, which is what the click asked for.
            log.warning("could not open the reason form: %s", exc.code)
            await self._follower.decline(job, by=click.user, reason=None)

    async def _decline(self, click: Click, reason: str | None) -> None:
        job = await self._awaiting(click)
        if job is not None:
            await self._follower.decline(job, by=click.user, reason=reason)

    async def _refresh(self, click: Click) -> None:
        job = await self._job(click)
        if job is None:
            return
        if job.is_final:
            await self._tell(click, "This training has ended; the card shows how it ended.")
        elif not self._follower.poke(job.id):
            # Another instance follows the job (or this one has just resumed it): it polls
            # on its own schedule, and no process but the follower edits the card.
            every = format_duration(self._follower.timing.poll_interval)
            await self._tell(
                click,
                f":arrows_counterclockwise: The card of `{job.model_id}` refreshes at the next "
                f"poll, every {every} or so (less often while the training is queued).",
            )

    async def _stop(self, click: Click) -> None:
        job = await self._job(click)
        if job is None:
            return
        # Stopped: the card and the thread say so. Otherwise the clicker hears why not.
        why_not = await self._stops.stop_job(job, user=click.user)
        if why_not is not None:
            await self._tell(click, why_not)

    async def _retrain_again(self, click: Click) -> None:
        job = await self._job(click)
        if job is None:
            return
        answer = await self._retrains.start(
            model_id=job.model_id,
            options=job.options,
            by=click.by,
        )
        if answer is not None:  # else a link to the model's followed training follows
            await self._tell(click, answer)

    async def _open_changes(self, click: Click, trigger_id: str, *, triggered_at: float) -> None:
        """The retrain form, filled in with the job's model and options; submitted, it goes
        through `Retrains.start` like the typed command (`bot.listeners.forms`)."""
        job = await self._job(click)
        if job is None:
            return
        form = retrain_form(channel=click.channel, model_id=job.model_id, options=job.options)
        try:
            await self._notifier.surfaces.open_view(
                form, trigger_id=trigger_id, user=click.user, triggered_at=triggered_at
            )
        except SlackError as exc:
            log.warning("could not open the retrain form: %s", exc.code)
            options = f" {job.options.describe()}" if job.options.to_dict() else ""
            await self._tell(
                click,
                "Sorry, Slack did not open the form in time. Click *Retrain with changes…* "
                f"again, or type `/retrain {job.model_id}{options}` with your changes.",
            )

    async def _job(self, click: Click) -> Job | None:
        """The clicked card's job, from the store; a polite word when it is gone."""
        try:
            job = await self._store.get(click.job_id) if click.job_id else None
        except StoreError as exc:
            log.warning("could not read job %s for a click: %s", click.job_id, exc)
            await self._tell(
                click,
                "Sorry, the bot could not look this training up just now. "
                "Please click again in a moment.",
            )
            return None
        if job is None:
            await self._tell(
                click,
                "Sorry, I no longer know the training this card is about, so the button "
                "cannot do anything. `/retrain list` shows what is followed now.",
            )
        return job

    async def _tell(self, click: Click, text: str) -> None:
        # chat.postEphemeral rather than the click's response_url: an answer there to a
        # button on a channel message can replace the card itself.
        await self._notifier.private.tell(
            response_url=None, channel=click.channel, user=click.user, message=text
        )

    # -- the App Home tab -----------------------------------------------------------------

    async def on_home_opened(self, event: dict[str, Any], body: dict[str, Any]) -> None:
        # Events are acked when the listener returns, so publishing happens in a task.
        if event.get("tab") == "home" and event.get("user"):
            user = str(event["user"])
            team_id, _ = workspace_of(body)  # the tab shows the trainings of this workspace
            self._follower.spawn(self._publish_home(user, team_id), name=f"home-{user}")

    async def _publish_home(self, user: str, team_id: str | None) -> None:
        try:
            view = await self._reads.home(user, team_id=team_id)
        except StoreError as exc:
            log.warning("could not read the Home tab's trainings: %s", exc)
            return
        try:
            await self._notifier.surfaces.publish_home(user, view)
        except SlackError as exc:
            log.warning("could not publish the Home tab: %s", exc.code)


def register_interactions(app: AsyncApp, interactions: Interactions) -> None:
    app.action(str(ActionId.REFRESH))(interactions.on_refresh)
    app.action(str(ActionId.STOP_FOLLOWING))(interactions.on_stop)
    app.action(str(ActionId.RETRAIN_AGAIN))(interactions.on_retrain_again)
    app.action(str(ActionId.RETRAIN_WITH_CHANGES))(interactions.on_retrain_with_changes)
    app.action(str(ActionId.APPROVE))(interactions.on_approve)
    app.action(str(ActionId.REJECT))(interactions.on_reject)
    app.view(str(CallbackId.REJECT_MODAL))(interactions.on_reason_submitted)
    app.event("app_home_opened")(interactions.on_home_opened)
