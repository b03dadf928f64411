"""Every Slack action, block and callback ID the bot uses, in one place.

Buttons carry the job ID in their `value`, so a click works after a restart: nothing about
the card lives only in a process's memory.
"""

from __future__ import annotations

from enum import StrEnum

__all__ = ["ActionId", "BlockId", "CallbackId", "EventType"]


class ActionId(StrEnum):
    RETRAIN_AGAIN = "retrain_again"
    # Opens the retrain form filled in with the ended job's model and options.
    RETRAIN_WITH_CHANGES = "retrain_with_changes"
    STOP_FOLLOWING = "stop_following"
    REFRESH = "refresh"
    APPROVE = "approve_retrain"
    REJECT = "reject_retrain"
    # Every input of the retrain form; its block ID (a `BlockId`) says which field it is.
    FORM_FIELD = "form_field"


class BlockId(StrEnum):
    CARD_ACTIONS = "card_actions"
    APPROVAL_ACTIONS = "approval_actions"
    MODEL = "model"
    SPLIT = "split"
    FEEDBACK = "feedback"
    EPOCHS = "epochs"
    ALGORITHM = "algorithm"
    GLOBAL = "global"
    LEARNING_RATE = "lr"
    REASON = "reason"


class CallbackId(StrEnum):
    RETRAIN_MODAL = "retrain_modal"
    REJECT_MODAL = "reject_modal"


class EventType(StrEnum):
    """Slack message metadata event type on every post the bot makes."""

    JOB_STATE = "retrain_job_state"
