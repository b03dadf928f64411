"""The feedback form: opened on a message, its label menu kept in step with the model chosen.

The rules are the package's (`bot.feedback`).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Mapping, Sequence
from typing import Any, Final

from bot.access.visibility import Visibility
from bot.core.words import check_model_id
from bot.einstein.answers import plain_text
from bot.einstein.client import EinsteinClient
from bot.errors import EinsteinError, EinsteinNotFound, SlackError, StoreError, UsageError
from bot.slack.feedback_view import (
    FeedbackMeta,
    LabelsNote,
    feedback_form,
    model_error,
    read_meta,
)
from bot.slack.ids import BlockId
from bot.slack.notify import Notifier
from bot.store.jobs import JobStore

__all__ = ["FeedbackForms"]

log = logging.getLogger(__name__)

_LABELS_WITHIN: Final = 10.0  # a form waiting for its label menu: the person can still type
_RECENT_WITHIN: Final = 1.0  # the recent models are a convenience: never miss the trigger for them
_RECENT_JOBS: Final = 200
_RECENT_MODELS: Final = 25


class FeedbackForms:
    """Opens the feedback form and keeps its label menu in step with the model chosen."""

    def __init__(
        self,
        *,
        store: JobStore,
        einstein: EinsteinClient,
        visibility: Visibility,
        notifier: Notifier,
    ) -> None:
        self._store = store
        self._einstein = einstein
        self._visibility = visibility
        self._notifier = notifier

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
            opened = await self._notifier.surfaces.open_view(
                view, trigger_id=trigger_id, user=user, triggered_at=triggered_at
            )
        except SlackError as exc:
            log.warning("could not open the feedback form: %s", exc.code)
            await self._notifier.private.tell_or_dm(
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
            await self._notifier.surfaces.update_view(
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


def _recent_in(view: Mapping[str, Any]) -> Sequence[str]:
    """The recent models the open form offers (kept as they were when it opened)."""
    for block in view.get("blocks") or []:
        if isinstance(block, Mapping) and block.get("block_id") == BlockId.FEEDBACK_RECENT:
            options = (block.get("element") or {}).get("options") or []
            return [str(o.get("value")) for o in options if o.get("value")]
    return []
