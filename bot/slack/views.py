"""Block Kit for the modals: the retrain form and the reject form. Pure: no Slack calls here.

Each form input's block ID names its field, so a refusal from the grammar is shown on the
field it is about. The form reads back into the same `RetrainOptions` the text command makes,
through the same checks (`check_model_id`, `parse_options`), so the two cannot disagree.
The reject form asks an approver for a reason, which may be left empty.
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from dataclasses import dataclass
from decimal import Decimal
from typing import Any, Final

from bot.core.kinds import OptionValue
from bot.core.mrkdwn import unescape
from bot.core.options import OPTIONS, OptionSpec, RetrainOptions
from bot.core.words import MAX_MODEL_ID_LENGTH, check_model_id, parse_options
from bot.errors import UsageError
from bot.slack.ids import ActionId, BlockId, CallbackId
from bot.slack.look import Block, section, truncate

__all__ = [
    "FORM_OPTIONS",
    "FormErrors",
    "RetrainForm",
    "read_reject_form",
    "read_retrain_form",
    "reject_form",
    "retrain_form",
]

_MAX_TITLE: Final = 24  # a modal title's limit
_MAX_HINT: Final = 2000
_MAX_ERROR: Final = 300  # Slack documents no limit; a field error should fit under the field

# The form's option fields, in the order shown; each is the grammar option of that name.
FORM_OPTIONS: Final[tuple[tuple[BlockId, str, str], ...]] = (
    (BlockId.SPLIT, "split", "Training split"),
    (BlockId.FEEDBACK, "feedback", "Feedback examples"),
    (BlockId.EPOCHS, "epochs", "Epochs"),
    (BlockId.ALGORITHM, "algorithm", "Algorithm"),
    (BlockId.GLOBAL, "global", "Global dataset ID"),
    (BlockId.LEARNING_RATE, "lr", "Learning rate"),
)
_SPECS: Final = {spec.name: spec for spec in OPTIONS}
_FLAG_CHOICES: Final = (("Yes, also train on feedback examples", "true"), ("No", "false"))


def _plain(text: str) -> str:
    """Grammar messages are mrkdwn; form labels, hints and errors are plain text."""
    return unescape(text.replace("`", ""))


def _text(text: str) -> dict[str, str]:
    return {"type": "plain_text", "text": text}


# --- the retrain form --------------------------------------------------------------------------


def _choices(spec: OptionSpec) -> tuple[str, ...]:
    # Only a choice option carries `choices`; reading it keeps the menu and the parser in step.
    choices = getattr(spec.kind, "choices", ())
    return tuple(str(choice) for choice in choices)


def _option(label: str, value: str) -> dict[str, Any]:
    return {"text": _text(label), "value": value}


def _element(name: str, spec: OptionSpec) -> Block:
    element: Block
    if name == "feedback":
        element = {
            "type": "static_select",
            "options": [_option(label, value) for label, value in _FLAG_CHOICES],
        }
    elif name == "algorithm":
        element = {"type": "static_select", "options": [_option(c, c) for c in _choices(spec)]}
    elif name in ("split", "epochs", "lr"):
        # No min/max here: the grammar decides what is in range and says why on the field.
        element = {"type": "number_input", "is_decimal_allowed": name != "epochs"}
    else:
        element = {"type": "plain_text_input"}
    element["action_id"] = ActionId.FORM_FIELD
    element["placeholder"] = _text(truncate(f"Default: {spec.default}", 150))
    return element


def _raw(value: OptionValue) -> str:
    """An option's value as typed: `true`, `100`, `0.001` (never `1e-03`, which a number
    field would not show)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, float):
        return format(Decimal(repr(value)), "f")
    return str(value)


def _prefill(element: Block, raw: str) -> None:
    if element["type"] == "static_select":
        chosen = [option for option in element["options"] if option["value"] == raw]
        if chosen:  # Slack refuses an initial option that is not one of the options
            element["initial_option"] = chosen[0]
    else:
        element["initial_value"] = raw


def _option_input(block: BlockId, name: str, label: str, *, value: OptionValue | None) -> Block:
    spec = _SPECS[name]
    hint = _plain(spec.description)
    hint = f"{hint[:1].upper()}{hint[1:]}."
    if name not in ("feedback", "algorithm"):  # menus show their values already
        hint += f" Example: {spec.example}."
    element = _element(name, spec)
    if value is not None:
        _prefill(element, _raw(value))
    return {
        "type": "input",
        "block_id": block,
        "optional": True,
        "label": _text(label),
        "element": element,
        "hint": _text(truncate(hint, _MAX_HINT)),
    }


def retrain_form(
    *, channel: str, model_id: str | None = None, options: RetrainOptions | None = None
) -> dict[str, Any]:
    """The modal a bare `/retrain` opens; `channel` is where the command was typed.

    *Retrain with changes…* opens it filled in with a job's model and options.
    """
    model: Block = {
        "type": "input",
        "block_id": BlockId.MODEL,
        "label": _text("Model ID"),
        "element": {
            "type": "plain_text_input",
            "action_id": ActionId.FORM_FIELD,
            "max_length": MAX_MODEL_ID_LENGTH,
            "placeholder": _text("Letters and digits, as Einstein shows it"),
        },
    }
    if model_id:
        model["element"]["initial_value"] = model_id
    chosen = options or RetrainOptions()
    intro: Block = {
        "type": "context",
        "elements": [
            {
                "type": "mrkdwn",
                "text": "Leave an option empty to let Einstein choose. "
                "Typed, the same retrain is `/retrain &lt;modelId&gt; split=0.7 feedback=true`.",
            }
        ],
    }
    return {
        "type": "modal",
        "callback_id": CallbackId.RETRAIN_MODAL,
        "title": _text("Retrain a model"[:_MAX_TITLE]),
        "submit": _text("Retrain"),
        "close": _text("Cancel"),
        # The submission has no channel of its own: the confirmation goes where the
        # command was typed, and the card goes there too unless a retrain channel is set.
        "private_metadata": json.dumps({"channel": channel}),
        "blocks": [
            intro,
            model,
            *(
                _option_input(block, name, label, value=getattr(chosen, _SPECS[name].attr))
                for block, name, label in FORM_OPTIONS
            ),
        ],
    }


@dataclass(frozen=True, slots=True)
class RetrainForm:
    """A valid submission: what to retrain, with what, and where the form was opened."""

    model_id: str
    options: RetrainOptions
    channel: str


@dataclass(frozen=True, slots=True)
class FormErrors:
    """An invalid submission: block ID -> the message Slack shows under that field."""

    errors: Mapping[str, str]


def _field_value(values: Mapping[str, Any], block: BlockId) -> str:
    """What a field holds, whatever its element; '' when left empty."""
    element = (values.get(block) or {}).get(ActionId.FORM_FIELD) or {}
    value = element.get("value")
    if value is None:
        value = (element.get("selected_option") or {}).get("value")
    return str(value or "").strip()


def _form_channel(view: Mapping[str, Any]) -> str | None:
    try:
        metadata = json.loads(view.get("private_metadata") or "{}")
    except ValueError:
        return None
    channel = metadata.get("channel") if isinstance(metadata, dict) else None
    return channel if isinstance(channel, str) and channel else None


def _error(exc: UsageError) -> str:
    return truncate(_plain(str(exc)), _MAX_ERROR)


def read_retrain_form(view: Mapping[str, Any]) -> RetrainForm | FormErrors:
    """Check a submitted form by the command's rules; every bad field gets its own message."""
    values: Mapping[str, Any] = (view.get("state") or {}).get("values") or {}
    errors: dict[str, str] = {}
    model_id = ""
    try:
        model_id = check_model_id(_field_value(values, BlockId.MODEL))
    except UsageError as exc:
        errors[BlockId.MODEL] = _error(exc)
    if not model_id and BlockId.MODEL not in errors:
        errors[BlockId.MODEL] = "Enter the ID of the model to retrain."
    pairs: dict[str, str] = {}
    for block, name, _ in FORM_OPTIONS:
        raw = _field_value(values, block)
        if not raw:
            continue  # left to Einstein, as when the option is not typed
        try:
            parse_options({name: raw})
        except UsageError as exc:
            errors[block] = _error(exc)
        pairs[name] = raw
    channel = _form_channel(view)
    if channel is None:
        errors[BlockId.MODEL] = "This form has expired. Please type /retrain again."
    if errors or channel is None:
        return FormErrors(errors=errors)
    return RetrainForm(model_id=model_id, options=parse_options(pairs), channel=channel)


def reject_form(*, job_id: str, channel: str, model_id: str) -> dict[str, Any]:
    """The modal asking an approver why they reject a retrain (the reason is optional)."""
    return {
        "type": "modal",
        "callback_id": CallbackId.REJECT_MODAL,
        "private_metadata": json.dumps({"job": job_id, "channel": channel}),
        "title": _text("Reject the retrain"),
        "submit": _text("Reject"),
        "close": _text("Cancel"),
        "blocks": [
            section(f"Reject the retrain of `{model_id}`? Nothing will be sent to Einstein."),
            {
                "type": "input",
                "block_id": BlockId.REASON,
                "optional": True,
                "label": _text("Reason (shown in the thread)"),
                "element": {
                    "type": "plain_text_input",
                    "action_id": ActionId.FORM_FIELD,
                    "multiline": True,
                    "max_length": 500,
                },
            },
        ],
    }


def read_reject_form(view: Mapping[str, Any]) -> tuple[str, str, str | None]:
    """(job ID, channel, reason or None) from a submitted reject form."""
    try:
        meta = json.loads(str(view.get("private_metadata") or "{}"))
    except ValueError:
        meta = {}
    if not isinstance(meta, dict):
        meta = {}
    reason = _field_value((view.get("state") or {}).get("values") or {}, BlockId.REASON)
    reason = " ".join(reason.split())[:500] if reason else ""
    return str(meta.get("job") or ""), str(meta.get("channel") or ""), reason or None
