"""The private answers people get about their requests: confirmations, refusals, stops.

Plain words and a next step, never an error code or a traceback. Pure; no Slack calls here.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Final

from bot.access import Decision
from bot.core.jobs import Job, JobStatus
from bot.core.options import RetrainOptions

__all__ = [
    "CANNOT_RECORD",
    "IN_ANOTHER_WORKSPACE",
    "NO_TIME_TO_CHECK",
    "already_followed",
    "confirmation",
    "mention_all",
    "not_allowed_to_stop",
    "not_recorded_yet",
    "refused",
    "stopped",
    "submitting",
    "who_approves",
]

CANNOT_RECORD: Final = (
    "The bot cannot record new retrains right now (its database is not answering), and it "
    "starts none it has not recorded. Please try again in a minute."
)
_MENTIONS: Final = 10  # a long allow list is counted, not pinged one by one
NO_TIME_TO_CHECK: Final = (
    "Checking your access took too long (Slack was slow to list user groups). "
    "Please try again in a moment."
)


def submitting(model_id: str, options: RetrainOptions) -> str:
    """The private confirmation of a stored retrain request, typed or from the form."""
    return f":outbox_tray: Submitting the retrain of `{model_id}` ({options.describe()})…"


def confirmation(job: Job) -> str:
    """What the requester of a freshly stored job is told."""
    if job.status != JobStatus.AWAITING_APPROVAL:
        return submitting(job.model_id, job.options)
    return (
        f":hourglass_flowing_sand: The retrain of `{job.model_id}` ({job.options.describe()}) "
        f"needs an approval before it is submitted. {job.decision_note or ''} "
        f"The request is in <#{job.channel}>."
    )


def not_recorded_yet(job: Job) -> str:
    """The ack when the store has not answered in time; the outcome follows privately."""
    return (
        f":hourglass_flowing_sand: The bot's database is slow to answer, so the retrain of "
        f"`{job.model_id}` is not recorded yet. You will hear here whether it was; nothing "
        "is sent to Einstein before that."
    )


def refused(model_id: str, reason: str | None) -> str:
    """A private, specific refusal; nothing was sent to Einstein."""
    return (
        f":no_entry: Sorry, the retrain of `{model_id}` was not started. "
        f"{reason or 'The access rules do not allow it.'}"
    )


# Where a model's training goes on when it goes on for another workspace: nothing of that
# workspace (its channel, its thread) is named to this one.
IN_ANOTHER_WORKSPACE: Final = " for another workspace"


def already_followed(model_id: str, where: str) -> str:
    """A second request for a model whose training is followed: nothing new starts."""
    return (
        f":information_source: A retrain of `{model_id}` is already being followed{where}, "
        "so nothing new was started."
    )


def who_approves(decision: Decision) -> str:
    """Who can approve a protected model's retrain, and under which rule."""
    rule = decision.rule
    where = f" ({rule.where}, models matching `{rule.match}`)" if rule else ""
    if decision.approvers:
        return f"It can be approved by {mention_all(decision.reach)}{where}."
    who = f": {mention_all(decision.reach)}" if decision.reach else ""
    return (
        f"Anyone allowed to retrain this model, other than the requester, can approve{where}{who}."
    )


def mention_all(ids: Iterable[str]) -> str:
    """Mentions that notify: `<!subteam^S…>` for a user group's members, `<@U…>` for a person;
    groups first, at most `_MENTIONS`, the rest counted."""
    ordered = sorted(ids, key=lambda i: (not i.startswith("S"), i))
    shown = [f"<!subteam^{i}>" if i.startswith("S") else f"<@{i}>" for i in ordered[:_MENTIONS]]
    more = len(ordered) - _MENTIONS
    return ", ".join(shown) + (f" and {more} more" if more > 0 else "")


def not_allowed_to_stop(job: Job) -> str:
    """Someone who may not stop following `job` asked to."""
    return (
        f"Sorry, only <@{job.requester}>, who started this retrain of `{job.model_id}`, "
        "or people allowed to retrain it can stop following it. The thread keeps reporting it."
    )


def stopped(model_id: str) -> str:
    """The training is no longer followed; Einstein's own may run on."""
    return (
        f"Stopped following the retrain of `{model_id}`. Einstein has no cancel call, "
        "so the training itself may still run to its end."
    )
