"""The one state machine: every way a job changes, whether Einstein or a person causes it.

Each transition is a pure function from a job (and what happened) to the next job. Einstein's
reports go through `observe`; the bot's own outcomes through `submitted`, `reject`, `lose` and
`unanswered`; people's decisions through `await_approval`, `approve`, `decline`, `expire` and
`cancel` (and the time they take through `remind`), and the app's removal from the job's
workspace through `uninstalled`; Slack's confirmations through `card_posted`
and `posted`, its refusals of a channel through `refused` and `move` (to the requester's DM).
A transition that does not apply to the job's status raises `TransitionError` instead of guessing.

    AWAITING_APPROVAL ──approve──▶ SUBMITTING ──submitted──▶ QUEUED ──▶ RUNNING ──▶ SUCCEEDED
          │ decline / expire            │ reject                 └───────┴──▶ FAILED, KILLED,
          ▼                             ▼                                      FAILED_WITH_RETRIES
    DECLINED / EXPIRED               REJECTED            any active ──cancel──▶ CANCELLED
                                                         QUEUED/RUNNING ──lose──▶ LOST

Every transition is used from here (`machine.observe`, `machine.approve`); each kind has its
module:

    einstein.py  Einstein's reports (`observe`) and the bot's own outcomes of asking it
                 (`submitted`, `reject`, `lose`, `unanswered`), and a success's report
                 (`with_result`)
    people.py    approvals (`await_approval`, `approve`, `decline`, `expire`), the approvers'
                 reminder (`remind`, `reminder_at`), `cancel`, and `uninstalled`
    posts.py     Slack's confirmations and refusals (`card_posted`, `posted`, `refused`, `move`)
    alerts.py    the job's alert (`assess`: Einstein silent, a training stalled or queued long)
    guard.py     `TransitionError`, and the check that raises it
"""

from __future__ import annotations

from bot.core.machine.alerts import (
    QUEUED_LONG,
    RECOVERED,
    STALLED,
    UNREACHABLE,
    alert_key,
    assess,
    queued_long_said,
)
from bot.core.machine.einstein import (
    lose,
    observe,
    reject,
    submitted,
    unanswered,
    with_result,
)
from bot.core.machine.guard import TransitionError
from bot.core.machine.people import (
    REMINDER,
    UNINSTALLED,
    approve,
    await_approval,
    cancel,
    decline,
    expire,
    remind,
    reminder_at,
    uninstalled,
)
from bot.core.machine.posts import MOVE_AFTER, card_posted, move, posted, refused

__all__ = [
    "MOVE_AFTER",
    "QUEUED_LONG",
    "RECOVERED",
    "REMINDER",
    "STALLED",
    "UNINSTALLED",
    "UNREACHABLE",
    "TransitionError",
    "alert_key",
    "approve",
    "assess",
    "await_approval",
    "cancel",
    "card_posted",
    "decline",
    "expire",
    "lose",
    "move",
    "observe",
    "posted",
    "queued_long_said",
    "refused",
    "reject",
    "remind",
    "reminder_at",
    "submitted",
    "unanswered",
    "uninstalled",
    "with_result",
]
