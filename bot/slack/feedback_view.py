"""Block Kit for the feedback form that the message shortcut *Add as Einstein feedback* opens.

Pure: no Slack calls here. The form has the model (chosen from recent ones, or typed), the
expected label and the message's text as the document (editable). The label menu holds the
chosen model's labels, which only Einstein knows: both model inputs dispatch their changes at
once (`dispatch_action`), and the bot redraws the form with that model's labels. While they are
unknown (no model chosen yet, or Einstein would not tell) the label is typed, with a note saying
why. `private_metadata` carries where the message was and which model the labels belong to.
"""

from __future__ import annotations

import json
from collections.abc import Mapping, Sequence
from dataclasses import dataclass
from typing import Any, Final

from bot.core.mrkdwn import unescape
from bot.core.words import MAX_MODEL_ID_LENGTH, check_model_id
from bot.errors import UsageError
from bot.slack.ids import ActionId, BlockId, CallbackId
from bot.slack.look import Block, truncate

__all__ = [
    "FeedbackForm",
    "FeedbackFormErrors",
    "FeedbackMeta",
    "LabelsNote",
    "dispatched_model",
    "feedback_form",
    "form_model",
    "model_block",
    "model_error",
    "plain",
    "read_feedback_form",
    "read_meta",
]

MAX_DOCUMENT: Final = 3000  # a plain_text_input's longest value
_MAX_OPTIONS: Final = 100  # a static_select's longest option list
_MAX_OPTION_TEXT: Final = 75
_MAX_ERROR: Final = 300


def _text(text: str) -> dict[str, str]:
    return {"type": "plain_text", "text": text}


def plain(text: str) -> str:
    """Messages meant for mrkdwn, shown in plain text (field errors, notes)."""
    return unescape(text.replace("`", "").replace("*", ""))


@dataclass(frozen=True, slots=True)
class FeedbackMeta:
    """What the form carries between its versions: the message's place, the labels' model."""

    channel: str
    message_ts: str = ""
    model_id: str = ""  # the model whose labels the form shows, '' when none

    def dumps(self) -> str:
        return json.dumps({"channel": self.channel, "ts": self.message_ts, "model": self.model_id})


def read_meta(view: Mapping[str, Any]) -> FeedbackMeta | None:
    """The form's metadata, or None when it is not one of ours."""
    try:
        raw = json.loads(str(view.get("private_metadata") or "{}"))
    except ValueError:
        return None
    if not isinstance(raw, dict) or not isinstance(raw.get("channel"), str) or not raw["channel"]:
        return None
    return FeedbackMeta(
        channel=raw["channel"],
        message_ts=str(raw.get("ts") or ""),
        model_id=str(raw.get("model") or ""),
    )


@dataclass(frozen=True, slots=True)
class LabelsNote:
    """Why the label menu is not there: said under the label field."""

    text: str


def _model_inputs(recent: Sequence[str], *, chosen: str, typed: str) -> list[Block]:
    blocks: list[Block] = []
    if recent:
        options = [
            {"text": _text(truncate(model, _MAX_OPTION_TEXT)), "value": model}
            for model in recent[:_MAX_OPTIONS]
        ]
        element: Block = {
            "type": "static_select",
            "action_id": ActionId.FEEDBACK_MODEL,
            "placeholder": _text("A model retrained lately"),
            "options": options,
        }
        initial = [o for o in options if o["value"] == chosen]
        if initial:
            element["initial_option"] = initial[0]
        blocks.append(
            {
                "type": "input",
                "block_id": BlockId.FEEDBACK_RECENT,
                "optional": True,
                "dispatch_action": True,
                "label": _text("Model"),
                "element": element,
            }
        )
    typed_element: Block = {
        "type": "plain_text_input",
        "action_id": ActionId.FEEDBACK_MODEL,
        "max_length": MAX_MODEL_ID_LENGTH,
        "placeholder": _text("Letters and digits, as Einstein shows it"),
    }
    if typed:
        typed_element["initial_value"] = typed
    blocks.append(
        {
            "type": "input",
            "block_id": BlockId.FEEDBACK_TYPED,
            "optional": True,
            "dispatch_action": True,
            "label": _text("Or type a model ID" if recent else "Model ID"),
            "hint": _text("Press Enter to load its labels. A typed ID wins over the menu."),
            "element": typed_element,
        }
    )
    return blocks


def _label_input(labels: Sequence[str] | LabelsNote) -> list[Block]:
    if isinstance(labels, LabelsNote) or not labels:
        note = labels.text if isinstance(labels, LabelsNote) else "The model has no labels."
        return [
            {
                "type": "input",
                "block_id": BlockId.FEEDBACK_LABEL,
                "label": _text("Expected label"),
                "hint": _text(truncate(plain(note), 2000)),
                "element": {
                    "type": "plain_text_input",
                    "action_id": ActionId.FEEDBACK_LABEL_TYPED,
                    "max_length": 180,
                    "placeholder": _text("The label this message should have had"),
                },
            }
        ]
    options = [
        {"text": _text(truncate(label, _MAX_OPTION_TEXT)), "value": label}
        for label in labels[:_MAX_OPTIONS]
    ]
    return [
        {
            "type": "input",
            "block_id": BlockId.FEEDBACK_LABEL,
            "label": _text("Expected label"),
            "element": {
                "type": "static_select",
                "action_id": ActionId.FEEDBACK_LABEL_CHOICE,
                "placeholder": _text("The label this message should have had"),
                "options": options,
            },
        }
    ]


def feedback_form(
    meta: FeedbackMeta,
    *,
    recent: Sequence[str],
    labels: Sequence[str] | LabelsNote,
    document: str,
    typed: str = "",
) -> dict[str, Any]:
    """The form for `meta.model_id` (chosen or typed) with `labels`, or a note why not."""
    chosen = meta.model_id if meta.model_id in recent and not typed else ""
    return {
        "type": "modal",
        "callback_id": CallbackId.FEEDBACK_MODAL,
        "title": _text("Add Einstein feedback"),
        "submit": _text("Add example"),
        "close": _text("Cancel"),
        "private_metadata": meta.dumps(),
        "blocks": [
            *_model_inputs(recent, chosen=chosen, typed=typed),
            *_label_input(labels),
            {
                "type": "input",
                "block_id": BlockId.FEEDBACK_DOCUMENT,
                "label": _text("Document"),
                "hint": _text("The text Einstein should learn to classify with this label."),
                "element": {
                    "type": "plain_text_input",
                    "action_id": ActionId.FORM_FIELD,
                    "multiline": True,
                    "max_length": MAX_DOCUMENT,
                    # A message of files only has no text: no initial value, the field is empty.
                    **({"initial_value": document[:MAX_DOCUMENT]} if document else {}),
                },
            },
        ],
    }


@dataclass(frozen=True, slots=True)
class FeedbackForm:
    """A complete submission."""

    model_id: str
    label: str
    document: str
    meta: FeedbackMeta


@dataclass(frozen=True, slots=True)
class FeedbackFormErrors:
    """An incomplete submission: block ID -> the message Slack shows under that field."""

    errors: Mapping[str, str]


def _value(values: Mapping[str, Any], block: BlockId, *actions: ActionId) -> str:
    for action in actions:
        element = (values.get(block) or {}).get(action) or {}
        value = element.get("value")
        if value is None:
            value = (element.get("selected_option") or {}).get("value")
        if value:
            return str(value).strip()
    return ""


def form_model(values: Mapping[str, Any]) -> str:
    """The model the form names: typed if anything is typed, else the one chosen."""
    typed = _value(values, BlockId.FEEDBACK_TYPED, ActionId.FEEDBACK_MODEL)
    return typed or _value(values, BlockId.FEEDBACK_RECENT, ActionId.FEEDBACK_MODEL)


def model_error(exc: UsageError | str) -> str:
    return truncate(plain(str(exc)), _MAX_ERROR)


def model_block(view: Mapping[str, Any]) -> str:
    """The block to show a model refusal under: the typed ID if any, else the menu."""
    values: Mapping[str, Any] = (view.get("state") or {}).get("values") or {}
    if _value(values, BlockId.FEEDBACK_TYPED, ActionId.FEEDBACK_MODEL):
        return BlockId.FEEDBACK_TYPED
    blocks = [b.get("block_id") for b in view.get("blocks") or [] if isinstance(b, Mapping)]
    recent = BlockId.FEEDBACK_RECENT in blocks or BlockId.FEEDBACK_RECENT in values
    return BlockId.FEEDBACK_RECENT if recent else BlockId.FEEDBACK_TYPED


def read_feedback_form(view: Mapping[str, Any]) -> FeedbackForm | FeedbackFormErrors:
    """Check a submitted form; every missing or malformed field gets its own message."""
    values: Mapping[str, Any] = (view.get("state") or {}).get("values") or {}
    errors: dict[str, str] = {}
    meta = read_meta(view)
    model_id = ""
    raw_model = form_model(values)
    if not raw_model:
        errors[model_block(view)] = "Choose a model, or type its ID."
    else:
        try:
            model_id = check_model_id(raw_model)
        except UsageError as exc:
            errors[model_block(view)] = model_error(exc)
    label = _value(
        values,
        BlockId.FEEDBACK_LABEL,
        ActionId.FEEDBACK_LABEL_CHOICE,
        ActionId.FEEDBACK_LABEL_TYPED,
    )
    if not label:
        errors[BlockId.FEEDBACK_LABEL] = "Choose the label this message should have had."
    element = (values.get(BlockId.FEEDBACK_DOCUMENT) or {}).get(ActionId.FORM_FIELD) or {}
    document = str(element.get("value") or "")
    if not document.strip():
        errors[BlockId.FEEDBACK_DOCUMENT] = "The document is empty: write the text to learn from."
    if meta is None:
        errors[BlockId.FEEDBACK_DOCUMENT] = (
            "This form has expired. Please use Add as Einstein feedback on the message again."
        )
    if errors or meta is None:
        return FeedbackFormErrors(errors=errors)
    return FeedbackForm(model_id=model_id, label=label, document=document, meta=meta)


def dispatched_model(body: Mapping[str, Any]) -> tuple[str, bool]:
    """The model a model input's change names, and whether it was typed (vs chosen)."""
    action = (body.get("actions") or [{}])[0]
    typed = action.get("block_id") == BlockId.FEEDBACK_TYPED
    value = action.get("value")
    if value is None:
        value = (action.get("selected_option") or {}).get("value")
    return str(value or "").strip(), typed
