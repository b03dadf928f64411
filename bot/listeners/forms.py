"""The retrain form's submission: checked like the typed command, then the same use case.

The form opens from a bare `/retrain` (empty) or from a card's *Retrain with changes…* (filled
in with that job's model and options). Either way the submission is read by the command's
grammar (`read_retrain_form`) and goes through `Retrains.start`, so the access rules, the
store and the confirmation are the typed command's.
"""

from __future__ import annotations

import secrets
from typing import Any

from slack_bolt.async_app import AsyncAck, AsyncApp

from bot.core.requester import Requester
from bot.follow.follower import Follower
from bot.listeners.workspace import workspace_of
from bot.retrains import Retrains
from bot.slack.ids import CallbackId
from bot.slack.notify import Notifier
from bot.slack.views import FormErrors, read_retrain_form

__all__ = ["Forms", "register_forms"]


class Forms:
    """The retrain form's listener, with the services it hands work to."""

    def __init__(self, *, follower: Follower, notifier: Notifier, retrains: Retrains) -> None:
        self._follower = follower
        self._notifier = notifier
        self._retrains = retrains

    async def on_form_submitted(
        self, ack: AsyncAck, body: dict[str, Any], view: dict[str, Any]
    ) -> None:
        form = read_retrain_form(view)
        if isinstance(form, FormErrors):
            await ack(response_action="errors", errors=dict(form.errors))
            return
        await ack()  # closes the form
        team_id, enterprise_id = workspace_of(body)
        by = Requester(
            user=str((body.get("user") or {}).get("id") or ""),
            channel=form.channel,
            team_id=team_id,
            enterprise_id=enterprise_id,
        )

        async def submit() -> None:
            # The same answer as the typed command's; the form has no response_url, so it
            # goes as an ephemeral message where the command was typed.
            answer = await self._retrains.start(model_id=form.model_id, options=form.options, by=by)
            if answer is not None:
                await self._notifier.private.tell(
                    response_url=None, channel=by.channel, user=by.user, message=answer
                )

        self._follower.spawn(submit(), name=f"form-{secrets.token_hex(4)}")


def register_forms(app: AsyncApp, forms: Forms) -> None:
    app.view(str(CallbackId.RETRAIN_MODAL))(forms.on_form_submitted)
