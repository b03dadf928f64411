"""Stopping a followed training, and whether someone may decide an approval now.

/retrain cancel, the Stop button  ──▶ Stops.stop / stop_job ──▶ Follower.stop_following
Approve, Reject                   ──▶ Stops.why_not_decide
"""

from __future__ import annotations

from bot.access.gatekeeper import Gatekeeper
from bot.core.jobs import Job, JobStatus, utcnow
from bot.core.requester import Requester
from bot.core.workspaces import same_workspace
from bot.follow.follower import Follower
from bot.slack import texts
from bot.slack.look import look
from bot.store.jobs import JobStore
from bot.trail import Trail

__all__ = ["Stops"]


class Stops:
    """Stop following trainings, and check approvers, for whoever asks."""

    def __init__(
        self, *, store: JobStore, follower: Follower, gate: Gatekeeper, trail: Trail
    ) -> None:
        self._store = store
        self._follower = follower
        self._gate = gate
        self._trail = trail

    async def stop(self, model_id: str, *, user: str, team_id: str | None = None) -> str:
        """`/retrain cancel`: stop following `model_id`'s training; the private answer. A
        training another workspace follows is not this workspace's to stop."""
        job = await self._store.active_for_model(model_id)
        if job is not None and not same_workspace(job.team_id, team_id):
            return (
                f"The retrain of `{model_id}` is followed for another workspace; only someone "
                "there can stop it."
            )
        if job is None:
            return f"No retrain of `{model_id}` is being followed, so there is nothing to stop."
        return await self.stop_job(job, user=user) or texts.stopped(model_id)

    async def stop_job(self, job: Job, *, user: str) -> str | None:
        """Stop following `job` for `user`: None when stopped, else why not, in plain words."""
        if job.is_final:
            return f"The retrain of `{job.model_id}` is no longer followed; nothing to stop."
        if not await self._gate.may_stop(user, job):
            return texts.not_allowed_to_stop(job)
        # The card and the thread say that Einstein's training itself goes on.
        await self._follower.stop_following(job, by=user)
        return None

    async def why_not_decide(self, job: Job, *, by: Requester) -> str | None:
        """Why `by` may not approve or decline `job` now (None: they may)."""
        if job.status != JobStatus.AWAITING_APPROVAL:
            _, state = look(job.status)
            return (
                f"The retrain of `{job.model_id}` no longer waits for approval ({state.lower()})."
            )
        if job.approval_expires_at is not None and utcnow() >= job.approval_expires_at:
            return f"The approval of `{job.model_id}` has expired; the requester can ask again."
        decision = await self._gate.check_approver(job, user=by.user)
        if decision.allowed:
            return None
        # In the trail before the answer: whoever sees the refusal can find it there.
        await self._trail.denial(
            job.model_id,
            job.options,
            by,
            decision.reason,
            job_id=job.id,
            action="approve or reject",
        )
        return f":no_entry: {decision.reason}"
