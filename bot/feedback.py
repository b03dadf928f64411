"""Feedback from Slack: the message shortcut *Add as Einstein feedback* and its form.

    shortcut on a message ──▶ Feedback.open    ──▶ views.open, then views.update with the labels
    a model chosen, typed ──▶ Feedback.relabel ──▶ views.update with that model's labels
    the form submitted    ──▶ Feedback.submit  ──▶ gatekeeper, POST v2/language/feedback, audit

The access rules are the retrain's (`Gatekeeper.check_retrain` with default options, in the
submitter's workspace): whoever may retrain a model may teach it. A submission is answered in
the form when it can be: Slack waits 3 s for a view submission, so the check and Einstein's call
get `ANSWER_WITHIN` seconds; a refusal (the rules, an unknown label, an unknown model) then
shows under its field and the example is not added. If Einstein is slower the form closes, the
call goes on, and the person hears privately how it ended. The client resends a feedback only
when Einstein surely took nothing, so a slow answer never adds the example twice.

Each example is audited (`AuditKind.FEEDBACK`) with its label, its document's length and the
workspace it came from; the document itself is neither audited nor logged. The form offers the
models of recent trainings of the person's workspace only.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable, Coroutine, Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final, Literal

from bot.access.gatekeeper import Gatekeeper
from bot.access.visibility import Visibility
from bot.core.mrkdwn import escape
from bot.core.options import RetrainOptions
from bot.core.words import check_model_id
from bot.einstein.answers import plain_text
from bot.einstein.client import EinsteinClient
from bot.einstein.explain import explain, quote
from bot.errors import EinsteinError, EinsteinNotFound, SlackError, StoreError, UsageError
from bot.slack.feedback_view import (
    FeedbackForm,
    FeedbackMeta,
    LabelsNote,
    feedback_form,
    model_block,
    model_error,
    plain,
    read_meta,
)
from bot.slack.ids import BlockId
from bot.slack.notify import Notifier
from bot.store.audit import AuditEvent, AuditKind, AuditLog
from bot.store.jobs import JobStore

__all__ = ["ANSWER_WITHIN", "Feedback", "FeedbackResult"]

log = logging.getLogger(__name__)

# Slack shows a view submission's error when no answer comes within 3 s; this leaves room for
# the network on both sides.
ANSWER_WITHIN: Final = 2.0
_LABELS_WITHIN: Final = 10.0  # a form waiting for its label menu: the person can still type
_RECENT_WITHIN: Final = 1.0  # the recent models are a convenience: never miss the trigger for them
_RECENT_JOBS: Final = 200
_RECENT_MODELS: Final = 25

Spawn = Callable[[Coroutine[Any, Any, None]], None]


@dataclass(frozen=True, slots=True)
class FeedbackResult:
    """How a submission ended: what to say, and under which field if the form is still open."""

    outcome: Literal["added", "refused", "failed"]
    message: str  # mrkdwn, for the private message
    field: str | None = None  # the form's block to show it under; None: close the form


class Feedback:
    """Opens the feedback form, keeps its label menu in step, and adds the example."""

    def __init__(
        self,
        *,
        store: JobStore,
        einstein: EinsteinClient,
        gate: Gatekeeper,
        visibility: Visibility,
        notifier: Notifier,
        audit: AuditLog,
        spawn: Spawn,
        answer_within: float = ANSWER_WITHIN,
    ) -> None:
        self._store = store
        self._einstein = einstein
        self._gate = gate
        self._visibility = visibility
        self._notifier = notifier
        self._audit = audit
        self._spawn = spawn
        self.answer_within = answer_within

    # -- the form ------------------------------------------------------------------------------

    async def open(
        self,
        *,
        trigger_id: str,
        user: str,
        channel: str,
        message_ts: str,
        text: str,
        triggered_at: float,
        team_id: str | None = None,
    ) -> None:
        """Open the form on `text`, the most recent model chosen; then fetch its labels."""
        recent = await self._recent_models(user, team_id=team_id)
        meta = FeedbackMeta(
            channel=channel, message_ts=message_ts, model_id=recent[0] if recent else ""
        )
        waiting = (
            LabelsNote(f"Loading the labels of {meta.model_id}…")
            if recent
            else LabelsNote("Choose a model (press Enter after typing it) to pick from its labels.")
        )
        view = feedback_form(meta, recent=recent, labels=waiting, document=text)
        try:
            opened = await self._notifier.open_view(
                view, trigger_id=trigger_id, user=user, triggered_at=triggered_at
            )
        except SlackError as exc:
            log.warning("could not open the feedback form: %s", exc.code)
            await self._notifier.tell_or_dm(
                channel=channel,
                user=user,
                message="Sorry, Slack did not open the feedback form in time. "
                "Please use *Add as Einstein feedback* on the message again.",
            )
            return
        if recent:
            await self.relabel(opened, model_id=meta.model_id, typed=False, document=text)

    async def relabel(
        self,
        view: Mapping[str, Any],
        *,
        model_id: str,
        typed: bool,
        document: str,
    ) -> None:
        """Redraw the open form `view` with `model_id`'s labels (or a note why there are none)."""
        current = read_meta(view)
        if current is None or not view.get("id"):
            return
        meta = FeedbackMeta(
            channel=current.channel, message_ts=current.message_ts, model_id=model_id
        )
        labels = (
            await self._labels(model_id)
            if model_id
            else LabelsNote("Choose a model (press Enter after typing it) to pick from its labels.")
        )
        new = feedback_form(
            meta,
            recent=_recent_in(view),
            labels=labels,
            document=document,
            typed=model_id if typed else "",
        )
        try:
            await self._notifier.update_view(
                new, view_id=str(view["id"]), view_hash=view.get("hash") or None
            )
        except SlackError as exc:
            # hash_conflict: the person changed the form since; their newer change redraws it.
            log.info("feedback form not redrawn: %s", exc.code)

    async def _recent_models(self, user: str, *, team_id: str | None) -> list[str]:
        """The models of the store's recent jobs of workspace `team_id` that `user` may see,
        newest first, each once (a training in a private channel names its model only to the
        channel's members)."""
        try:
            async with asyncio.timeout(_RECENT_WITHIN):
                jobs = await self._store.recent(limit=_RECENT_JOBS, team_id=team_id)
                seen = await self._visibility.sort(jobs, user)
        except (StoreError, TimeoutError) as exc:
            log.warning("no recent models for the feedback form: %s", exc.__class__.__name__)
            return []
        return list(dict.fromkeys(job.model_id for job in seen.shown))[:_RECENT_MODELS]

    async def _labels(self, model_id: str) -> list[str] | LabelsNote:
        try:
            check_model_id(model_id)
            async with asyncio.timeout(_LABELS_WITHIN):
                dataset = await self._einstein.dataset(await self._einstein.dataset_id(model_id))
        except UsageError as exc:
            return LabelsNote(f"{model_error(exc)} Type the label, or fix the model ID.")
        except TimeoutError:
            return LabelsNote(
                f"Einstein did not list the labels of {model_id} in time. Type the label "
                "exactly as the dataset names it, or choose the model again."
            )
        except EinsteinNotFound:
            return LabelsNote(
                f"Einstein does not know the model {model_id}: check the ID. "
                "Its labels cannot be listed."
            )
        except EinsteinError as exc:
            log.warning("labels of %s not read: %s", model_id, exc.kind)
            said = plain_text(exc.einstein_message or "", limit=200)
            why = f"Einstein said: {said}" if said else exc.kind.replace("_", " ")
            return LabelsNote(
                f"The labels of {model_id} could not be read ({why}). "
                "Type the label exactly as the dataset names it."
            )
        if not dataset.labels:
            return LabelsNote(f"Einstein lists no labels for the dataset of {model_id}.")
        return dataset.labels

    # -- the submission ------------------------------------------------------------------------

    async def submit(
        self,
        form: FeedbackForm,
        *,
        user: str,
        view: Mapping[str, Any],
        team_id: str | None,
        enterprise_id: str | None,
    ) -> dict[str, str] | None:
        """The form's field errors, or None to close it (the answer then comes privately).

        `team_id` and `enterprise_id` are the submitter's workspace, for the access rules.
        Takes at most `answer_within` seconds; a call still running then goes on, and its
        outcome is told privately once known.
        """
        adding = asyncio.ensure_future(
            self._add(
                form,
                user=user,
                model_field=model_block(view),
                team_id=team_id,
                enterprise_id=enterprise_id,
            )
        )
        done, _ = await asyncio.wait({adding}, timeout=self.answer_within)
        if not done:
            self._spawn(self._tell_when_done(adding, form, user=user))
            return None
        result = adding.result()
        if result.field is not None:
            return {result.field: plain(result.message)}
        self._spawn(self._tell(form, user=user, text=result.message))
        return None

    async def _tell_when_done(
        self, adding: asyncio.Future[FeedbackResult], form: FeedbackForm, *, user: str
    ) -> None:
        result = await adding
        text = result.message if result.outcome == "added" else f":warning: {result.message}"
        await self._tell(form, user=user, text=text)

    async def _tell(self, form: FeedbackForm, *, user: str, text: str) -> None:
        await self._notifier.tell_or_dm(channel=form.meta.channel, user=user, message=text)

    async def _add(
        self,
        form: FeedbackForm,
        *,
        user: str,
        model_field: str,
        team_id: str | None,
        enterprise_id: str | None,
    ) -> FeedbackResult:
        model = f"`{quote(form.model_id, limit=64)}`"
        label = f"*{escape(form.label)}*"
        result: FeedbackResult
        decision = await self._gate.check_retrain(
            user=user,
            channel=form.meta.channel,
            model_id=form.model_id,
            options=RetrainOptions(),
            team_id=team_id,
            enterprise_id=enterprise_id,
        )
        if not decision.allowed:
            result = FeedbackResult(
                "refused",
                f"You may not add feedback to {model}: {decision.reason}",
                field=model_field,
            )
            await self._audit_result(
                form,
                user=user,
                team_id=team_id,
                enterprise_id=enterprise_id,
                result=result,
                why="access",
            )
            return result
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
            result = FeedbackResult(
                outcome,
                f"The example was not added to {model}. {explain(exc, model_id=form.model_id)}",
                field=field or BlockId.FEEDBACK_DOCUMENT,
            )
            await self._audit_result(
                form,
                user=user,
                team_id=team_id,
                enterprise_id=enterprise_id,
                result=result,
                why=exc.kind,
            )
            return result
        result = FeedbackResult(
            "added",
            f":white_check_mark: Added to the dataset of {model} as an example of {label} "
            f"({len(form.document)} characters). It counts from the model's next training "
            f"with feedback: `/retrain {form.model_id} feedback=true`.",
        )
        await self._audit_result(
            form, user=user, team_id=team_id, enterprise_id=enterprise_id, result=result, why=None
        )
        return result

    async def _audit_result(
        self,
        form: FeedbackForm,
        *,
        user: str,
        team_id: str | None,
        enterprise_id: str | None,
        result: FeedbackResult,
        why: str | None,
    ) -> None:
        detail: dict[str, Any] = {"label": form.label, "document_length": len(form.document)}
        if why is not None:
            detail["reason"] = why
        await self._audit.note(
            AuditEvent(
                kind=AuditKind.FEEDBACK,
                actor=user,
                channel=form.meta.channel,
                team_id=team_id,
                enterprise_id=enterprise_id,
                model_id=form.model_id,
                outcome=result.outcome,
                detail=detail,
            )
        )


def _recent_in(view: Mapping[str, Any]) -> Sequence[str]:
    """The recent models the open form offers (kept as they were when it opened)."""
    for block in view.get("blocks") or []:
        if isinstance(block, Mapping) and block.get("block_id") == BlockId.FEEDBACK_RECENT:
            options = (block.get("element") or {}).get("options") or []
            return [str(o.get("value")) for o in options if o.get("value")]
    return []
