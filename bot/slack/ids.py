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
    # The feedback form's model inputs (the recent models menu and the typed ID): dispatched
    # at once, so the label menu can be filled with the chosen model's labels.
    FEEDBACK_MODEL = "feedback_model"
    # The feedback form's label: a menu of the model's labels, or typed when they are unknown.
    FEEDBACK_LABEL_CHOICE = "feedback_label_choice"
    FEEDBACK_LABEL_TYPED = "feedback_label_typed"


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
    FEEDBACK_RECENT = "feedback_recent"
    FEEDBACK_TYPED = "feedback_typed"
    FEEDBACK_LABEL = "feedback_label"
    FEEDBACK_DOCUMENT = "feedback_document"


class CallbackId(StrEnum):
    RETRAIN_MODAL = "retrain_modal"
    REJECT_MODAL = "reject_modal"
    # The message shortcut "Add as Einstein feedback" (in manifest.yml): a public name.
    ADD_FEEDBACK = "add_feedback"
    FEEDBACK_MODAL = "feedback_modal"


class EventType(StrEnum):
    """Slack message metadata event type on every post the bot makes."""

    JOB_STATE = "retrain_job_state"
