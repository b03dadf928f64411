"""The read commands and the Home tab: what a person asked to see, and only what they may see.

    /retrain status | list | history ──▶ Reads.answer ──▶ a private Message
    the Home tab opened               ──▶ Reads.home   ──▶ the Home view

Only jobs of the asker's workspace are read, and those stored without a workspace (made by a
single-workspace deployment: `bot.core.workspaces`); another workspace's are never counted or
named, except that `status` says a model is training for another workspace, as a retrain of
it would. Every job shown passes `bot.access.visibility` first: a training in a private
channel is shown only to its members, one in a direct message only to its requester. To anyone
else an answer says at most that trainings in private channels were left out, never which
channel; when Slack does not say who is in a channel, the job is left out and the answer says
so.
"""

from __future__ import annotations

import asyncio
from typing import Any, Final

from bot.access.visibility import Sight, Visibility, is_direct
from bot.core.grammar import History, ListJobs, Status
from bot.core.jobs import Job, utcnow
from bot.core.workspaces import same_workspace
from bot.slack import answers
from bot.slack.home import HOME_JOBS, HomeEntry, home_view
from bot.slack.look import Message, job_line
from bot.slack.notify import Notifier
from bot.store.jobs import JobStore

__all__ = ["Reads"]

HISTORY_LINES: Final = 10
# History looks this far back among the model's (or everybody's) trainings for ones to show.
_HISTORY_SCAN: Final = 50


class Reads:
    """Answers the read commands and draws the Home tab for one person at a time."""

    def __init__(self, *, store: JobStore, visibility: Visibility, notifier: Notifier) -> None:
        self._store = store
        self._visibility = visibility
        self._notifier = notifier

    async def answer(
        self, parsed: Status | ListJobs | History, *, user: str, team_id: str | None = None
    ) -> Message:
        """The private answer to `/retrain status`, `list` or `history` for `user`, asking in
        workspace `team_id` (None: every workspace's jobs)."""
        match parsed:
            case Status(model_id=model_id):
                return await self._status(model_id, user=user, team_id=team_id)
            case ListJobs():
                return await self._list(user=user, team_id=team_id)
            case History(model_id=model_id):
                return await self._history(model_id, user=user, team_id=team_id)

    async def _status(self, model_id: str, *, user: str, team_id: str | None) -> Message:
        job = await self._store.active_for_model(model_id)
        elsewhere = job is not None and not same_workspace(job.team_id, team_id)
        if job is None or elsewhere:
            job = next(iter(await self._store.of_model(model_id, limit=1, team_id=team_id)), None)
        note = answers.training_elsewhere(model_id) if elsewhere else ""
        if job is None:
            return answers.single(f"No retrain of `{model_id}` has been followed here.{note}")
        sight = await self._visibility.sight(job, user)
        if sight != Sight.SHOWN:
            return answers.single(
                answers.hidden_latest(model_id, unchecked=sight == Sight.UNCHECKED) + note
            )
        return answers.single(f"{job_line(job, now=utcnow())}{await self.where(job)}{note}")

    async def _list(self, *, user: str, team_id: str | None) -> Message:
        followed = [j for j in await self._store.unfinished(team_id=team_id) if not j.is_final]
        seen = await self._visibility.sort(followed, user)
        now = utcnow()
        drawn = seen.shown[: answers.MAX_LINES]
        lines = [answers.plain(f"{job_line(j, now=now)}{await self.where(j)}") for j in drawn]
        return answers.listing(
            "Trainings being followed",
            lines,
            more=len(seen.shown) - len(drawn),
            notes=answers.left_out(seen),
            empty=(
                "None of the trainings being followed is one you may see."
                if seen.left_out
                else "No trainings are being followed right now."
            ),
        )

    async def _history(self, model_id: str | None, *, user: str, team_id: str | None) -> Message:
        jobs = await (
            self._store.recent(limit=_HISTORY_SCAN, team_id=team_id)
            if model_id is None
            else self._store.of_model(model_id, limit=_HISTORY_SCAN, team_id=team_id)
        )
        seen = await self._visibility.sort(jobs, user, limit=HISTORY_LINES)
        now = utcnow()
        lines = [answers.history_line(j, now=now, where=await self.where(j)) for j in seen.shown]
        return answers.listing(
            "Recent trainings",
            lines,
            notes=answers.left_out(seen),
            empty=(
                "No recent training is one you may see."
                if seen.left_out
                else "No trainings recorded yet."
            ),
        )

    async def home(self, user: str, *, team_id: str | None = None) -> dict[str, Any]:
        """`user`'s Home tab in workspace `team_id`: their trainings there that they may still
        see, running first."""
        running = await self._store.of_requester(
            user, limit=HOME_JOBS, active=True, team_id=team_id
        )
        known = {j.id for j in running}
        recent = [
            j
            for j in await self._store.of_requester(user, limit=HOME_JOBS, team_id=team_id)
            if j.id not in known
        ]
        seen = await self._visibility.sort([*running, *recent], user, limit=HOME_JOBS)
        links = await asyncio.gather(*(self._link(job) for job in seen.shown))
        entries = [HomeEntry(job=j, link=link) for j, link in zip(seen.shown, links, strict=True)]
        return home_view(entries, now=utcnow(), notes=answers.left_out(seen))

    async def where(self, job: Job) -> str:
        """Where `job`'s thread is, as a few words for someone who may see it."""
        place = "a direct message" if is_direct(job.channel) else f"<#{job.channel}>"
        if job.parent_ts is None:
            return f" (its thread is about to appear in {place})"
        link = await self._notifier.permalink(job.channel, job.parent_ts)
        return f" (<{link}|thread>)" if link else f" (in {place})"

    async def where_for(self, job: Job, *, user: str) -> str:
        """Where `job`'s thread is, for `user`: nothing that names a channel they may not see."""
        if await self._visibility.sight(job, user) != Sight.SHOWN:
            return " in a private channel"
        return await self.where(job)

    async def _link(self, job: Job) -> str | None:
        if job.parent_ts is None:
            return None
        return await self._notifier.permalink(job.channel, job.parent_ts)
