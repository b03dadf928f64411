"""A submitted feedback form: the access rules, Einstein's call and the audit, answered in the
form within `ANSWER_WITHIN` seconds or privately afterwards.

The rules are the package's (`bot.feedback`).
"""

from __future__ import annotations

import asyncio
from collections.abc import Callable, Coroutine, Mapping
from dataclasses import dataclass
from typing import Any, Final, Literal

from bot.access.gatekeeper import Gatekeeper
from bot.core.mrkdwn import escape
from bot.core.requester import Requester
from bot.einstein.client import EinsteinClient
from bot.einstein.explain import explain, quote
from bot.errors import EinsteinError
from bot.slack.feedback_view import FeedbackForm, model_block, plain
from bot.slack.ids import BlockId
from bot.slack.notify import Notifier
from bot.store.audit import AuditEvent, AuditKind, AuditLog

__all__ = ["ANSWER_WITHIN", "FeedbackResult", "FeedbackSubmissions"]

# Slack shows a view submission's error when no answer comes within 3 s; this leaves room for
# the network on both sides.
ANSWER_WITHIN: Final = 2.0

Spawn = Callable[[Coroutine[Any, Any, None]], None]


@dataclass(frozen=True, slots=True)
class FeedbackResult:
    """How a submission ended: what to say, and under which field if the form is still open."""

    outcome: Literal["added", "refused", "failed"]
    message: str  # mrkdwn, for the private message
    field: str | None = None  # the form's block to show it under; None: close the form


class FeedbackSubmissions:
    """Adds a submitted form's example, within the form's time or privately afterwards."""

    def __init__(
        self,
        *,
        einstein: EinsteinClient,
        gate: Gatekeeper,
        notifier: Notifier,
        audit: AuditLog,
        spawn: Spawn,
        answer_within: float = ANSWER_WITHIN,
    ) -> None:
        self._einstein = einstein
        self._gate = gate
        self._notifier = notifier
        self._audit = audit
        self._spawn = spawn
        self.answer_within = answer_within

    async def submit(
        self, form: FeedbackForm, *, by: Requester, view: Mapping[str, Any]
    ) -> dict[str, str] | None:
        """The form's field errors, or None to close it (the answer then comes privately).

        `by` is the submitter, in the form's channel and their workspace, for the access
        rules. Takes at most `answer_within` seconds; a call still running then goes on, and
        its outcome is told privately once known.
        """
        adding = asyncio.ensure_future(self._add(form, by=by, model_field=model_block(view)))
        done, _ = await asyncio.wait({adding}, timeout=self.answer_within)
        if not done:
            self._spawn(self._tell_when_done(adding, by=by))
            return None
        result = adding.result()
        if result.field is not None:
            return {result.field: plain(result.message)}
        self._spawn(self._tell(by, text=result.message))
        return None

    async def _tell_when_done(
        self, adding: asyncio.Future[FeedbackResult], *, by: Requester
    ) -> None:
        result = await adding
        text = result.message if result.outcome == "added" else f":warning: {result.message}"
        await self._tell(by, text=text)

    async def _tell(self, by: Requester, *, text: str) -> None:
        await self._notifier.private.tell_or_dm(channel=by.channel, user=by.user, message=text)

    async def _add(self, form: FeedbackForm, *, by: Requester, model_field: str) -> FeedbackResult:
        """Check, add, and put the outcome into the audit trail, whichever it is."""
        result, why = await self._try_add(form, by=by, model_field=model_field)
        await self._audit_result(form, by=by, result=result, why=why)
        return result

    async def _try_add(
        self, form: FeedbackForm, *, by: Requester, model_field: str
    ) -> tuple[FeedbackResult, str | None]:
        """The outcome, and why it was not added (None: it was)."""
        model = f"`{quote(form.model_id, limit=64)}`"
        label = f"*{escape(form.label)}*"
        decision = await self._gate.check_teacher(by, model_id=form.model_id)
        if not decision.allowed:
            refused = FeedbackResult(
                "refused",
                f"You may not add feedback to {model}: {decision.reason}",
                field=model_field,
            )
            return refused, "access"
        try:
            await self._einstein.add_feedback(
                form.model_id, document=form.document, expected_label=form.label
            )
        except EinsteinError as exc:
            about_model = "model" in (exc.einstein_message or "").lower()
            field = {
                "not_found": model_field,
                "unknown_label": BlockId.FEEDBACK_LABEL,
                "invalid_parameter": model_field if about_model else BlockId.FEEDBACK_DOCUMENT,
                "rejected": BlockId.FEEDBACK_DOCUMENT,
            }.get(exc.kind)
            outcome: Literal["refused", "failed"] = "refused" if field else "failed"
            # Einstein unavailable, slow or refusing the bot's credentials: said in the form
            # too (under the document), since the person may want to try again.
            failed = FeedbackResult(
                outcome,
                f"The example was not added to {model}. {explain(exc, model_id=form.model_id)}",
                field=field or BlockId.FEEDBACK_DOCUMENT,
            )
            return failed, exc.kind
        added = FeedbackResult(
            "added",
            f":white_check_mark: Added to the dataset of {model} as an example of {label} "
            f"({len(form.document)} characters). It counts from the model's next training "
            f"with feedback: `/retrain {form.model_id} feedback=true`.",
        )
        return added, None

    async def _audit_result(
        self, form: FeedbackForm, *, by: Requester, result: FeedbackResult, why: str | None
    ) -> None:
        detail: dict[str, Any] = {"label": form.label, "document_length": len(form.document)}
        if why is not None:
            detail["reason"] = why
        await self._audit.note(
            AuditEvent(
                kind=AuditKind.FEEDBACK,
                actor=by.user,
                channel=by.channel,
                team_id=by.team_id,
                enterprise_id=by.enterprise_id,
                model_id=form.model_id,
                outcome=result.outcome,
                detail=detail,
            )
        )
