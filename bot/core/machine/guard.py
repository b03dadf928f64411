"""`TransitionError`, and the check a transition makes before it applies to a job's status."""

from __future__ import annotations

from bot.core.jobs import Job, JobStatus
from bot.errors import BotError

__all__ = ["TransitionError", "require"]


class TransitionError(BotError):
    """A transition was asked of a job whose status does not allow it."""


def require(job: Job, allowed: frozenset[JobStatus], what: str) -> None:
    if job.status not in allowed:
        raise TransitionError(f"job {job.id} cannot {what} while {job.status}")
