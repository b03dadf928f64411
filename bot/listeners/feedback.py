"""Listeners for *Add as Einstein feedback*: the message shortcut, its form's model inputs and
the form's submission. The use case is `bot.feedback`.

The shortcut and a model change ack at once and work in a background task (the shortcut's
trigger_id lives 3 s from the click). The submission is answered by the ack itself, errors
under their fields, so it waits for `FeedbackSubmissions.submit`, at most about 2 s.
"""

from __future__ import annotations

import asyncio
import secrets
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.core.mrkdwn import unescape
from bot.core.requester import Requester
from bot.feedback.form import FeedbackForms
from bot.feedback.submission import FeedbackSubmissions
from bot.follow.follower import Follower
from bot.listeners.workspace import workspace_of
from bot.slack.feedback_view import FeedbackFormErrors, dispatched_model, read_feedback_form
from bot.slack.ids import ActionId, BlockId, CallbackId

__all__ = ["FeedbackListeners", "register_feedback"]


def _user(body: dict[str, Any]) -> str:
    return str((body.get("user") or {}).get("id") or "")


class FeedbackListeners:
    def __init__(
        self, *, forms: FeedbackForms, submissions: FeedbackSubmissions, follower: Follower
    ) -> None:
        self._forms = forms
        self._submissions = submissions
        self._follower = follower

    async def on_shortcut(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        arrived = asyncio.get_running_loop().time()
        await ack()
        message = body.get("message") or {}
        team_id, _ = workspace_of(body)
        work = self._forms.open(
            trigger_id=str(body.get("trigger_id") or ""),
            user=_user(body),
            channel=str((body.get("channel") or {}).get("id") or ""),
            message_ts=str(message.get("ts") or ""),
            # Slack sends a message's text escaped (`&amp;`, `&lt;`); Einstein gets what was seen.
            text=unescape(str(message.get("text") or "")),
            triggered_at=arrived,
            team_id=team_id,
        )
        self._follower.spawn(work, name=f"feedback-form-{secrets.token_hex(4)}")

    async def on_model_changed(self, ack: AsyncAck, body: dict[str, Any]) -> None:
        await ack()
        view = body.get("view") or {}
        values = (view.get("state") or {}).get("values") or {}
        document = (
            (values.get(BlockId.FEEDBACK_DOCUMENT) or {}).get(ActionId.FORM_FIELD) or {}
        ).get("value")
        model_id, typed = dispatched_model(body)
        work = self._forms.relabel(
            view, model_id=model_id, typed=typed, document=str(document or "")
        )
        self._follower.spawn(work, name=f"feedback-labels-{secrets.token_hex(4)}")

    async def on_submitted(self, ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]) -> None:
        form = read_feedback_form(view)
        if isinstance(form, FeedbackFormErrors):
            await ack(response_action="errors", errors=dict(form.errors))
            return
        team_id, enterprise_id = workspace_of(body)
        by = Requester(
            user=_user(body),
            channel=form.meta.channel,
            team_id=team_id,
            enterprise_id=enterprise_id,
        )
        errors = await self._submissions.submit(form, by=by, view=view)
        if errors:
            await ack(response_action="errors", errors=errors)
        else:
            await ack()  # closes the form; the confirmation comes privately


def register_feedback(app: AsyncApp, listeners: FeedbackListeners) -> None:
    app.shortcut(str(CallbackId.ADD_FEEDBACK))(listeners.on_shortcut)
    app.action(str(ActionId.FEEDBACK_MODEL))(listeners.on_model_changed)
    app.view(str(CallbackId.FEEDBACK_MODAL))(listeners.on_submitted)
