"""The card's edits: at once when the job's state changes, for progress alone only in its turn.

A card shows the job's latest state. A new status, queue position or result is edited in at
once; progress alone waits `Timing.card_interval`, or longer when many trainings share Slack's
`chat.update` budget. Edits run in a task of their own, one per card at a time, so a burst of
changes costs one edit to the latest state. A card Slack will no longer edit (deleted, too old)
is frozen: the thread's replies go on without it.
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import Callable

from bot.core.jobs import Job
from bot.core.schedule import Timing
from bot.errors import SlackError, SlackRefused
from bot.follow.held import Followed, HeldJobs
from bot.logs import job_context
from bot.slack.notify import Notifier
from bot.slack.tokens import NOT_INSTALLED, Team, current_team

__all__ = ["CardEdits", "card_state"]

log = logging.getLogger(__name__)

_CARD_GONE = frozenset(
    {"message_not_found", "cant_update_message", "edit_window_closed", NOT_INSTALLED}
)


class CardEdits:
    """When each held job's card is due for an edit, and the edits in flight."""

    def __init__(
        self,
        *,
        held: HeldJobs,
        notifier: Notifier,
        timing: Timing,
        clock: Callable[[], float],
        retry_later: Callable[[Followed, float], None],
        retry_soon: Callable[[Followed], None],
        changed: Callable[[Followed], None],
    ) -> None:
        self._held = held
        self._notifier = notifier
        self._timing = timing
        self._clock = clock
        self._retry_later = retry_later
        self._retry_soon = retry_soon
        self._changed = changed
        self.tasks: set[asyncio.Task[None]] = set()

    def settled(self, record: Followed) -> bool:
        job = record.job
        if job.parent_ts is None or record.card_frozen:
            return True
        return record.card_shown == card_state(job)

    def due(self, record: Followed) -> bool:
        """Edit at once when the state changes; progress alone waits its turn.

        Its turn comes every `card_interval` seconds, or less often when many trainings run:
        `chat.update` is a Tier 3 method (about 50 calls a minute per workspace), so the
        progress edits of all cards share that budget.
        """
        if record.card_frozen:
            return False
        shown, current = record.card_shown, card_state(record.job)
        if shown is None:
            return True
        if shown == current:
            return False
        if _without_progress(shown) != _without_progress(current):
            return True
        budget = len(self._held) * 60.0 / self._timing.card_edits_per_minute
        return self._clock() - record.card_shown_at >= max(self._timing.card_interval, budget)

    def edit(self, record: Followed) -> None:
        if record.editing:
            return
        record.editing = True
        task = asyncio.ensure_future(self._edit_card(record))
        self.tasks.add(task)
        task.add_done_callback(self.tasks.discard)

    async def _edit_card(self, record: Followed) -> None:
        """Edit the card until it shows the job's latest state (edits are coalesced anyway)."""
        job_context.set(record.id)
        current_team.set(Team.of_job(record.job))
        try:
            while self._held.may_post(record) and self.due(record):
                job = record.job
                await self._notifier.update_card(job, fence=self._held.fence(record))
                record.card_shown, record.card_shown_at = card_state(job), self._clock()
        except SlackRefused as exc:
            if exc.code in _CARD_GONE:
                log.warning(
                    "the card of job %s cannot be edited (%s); replies go on", record.id, exc.code
                )
                record.card_frozen = True
            else:
                log.warning("Slack refused to edit the card of job %s: %s", record.id, exc.code)
                self._retry_later(record, self._timing.slack_pause)
        except SlackError as exc:
            log.warning("the card of job %s was not edited: %s", record.id, exc.code)
            self._retry_soon(record)
        finally:
            record.editing = False
        if self._held.holds(record):
            self._changed(record)  # whatever changed meanwhile, and the final check


def card_state(job: Job) -> tuple[object, ...]:
    return (
        job.status,
        round(job.progress, 2),
        job.queue_position,
        job.epochs_done,
        job.result is not None,
    )


def _without_progress(state: tuple[object, ...]) -> tuple[object, ...]:
    status, _progress, queue_position, _epochs_done, has_result = state
    return (status, queue_position, has_result)
