"""*Add as Einstein feedback*: the message shortcut, its form and the example it adds, end to end.

The shortcut, the form's model changes and its submission arrive signed at the served bot as
Slack sends them; the form is what the fake Slack was asked to show, the example is what the
Einstein simulator stored.
"""

from __future__ import annotations

import tempfile
from pathlib import Path
from typing import Any

import pytest
import yaml

from bot.fakes.slack import (
    Channel,
    SentRequest,
    View,
    message_action_payload,
    send_interaction,
    view_action_payload,
    view_submission_payload,
)
from bot.slack.ids import ActionId, BlockId, CallbackId
from bot.store.audit import AuditKind, AuditLog
from tests.conftest import CHANNEL, SIGNING_SECRET, USER, Stack
from tests.test_interactions import quick, wait_private_to

ROOT = Path(__file__).resolve().parents[1]
LABELS = ("billing", "shipping", "returns")
TEXT = "Where is my parcel? It was due on Monday."
OTHER = "U0OTHER004"


def _model(stack: Stack, model_id: str | None = None) -> tuple[str, int]:
    dataset = stack.simulator.add_dataset(labels=LABELS, examples=30)
    return stack.simulator.add_model(model_id, dataset_id=dataset), dataset


async def _shortcut(stack: Stack, *, user: str = USER, text: str = TEXT) -> SentRequest:
    payload = message_action_payload(
        callback_id=CallbackId.ADD_FEEDBACK,
        user_id=user,
        channel_id=CHANNEL,
        message_text=text,
        message_ts="1700000000.000200",
        response_url=stack.slack.response_url(),
    )
    answer = await send_interaction(
        stack.session, stack.url, signing_secret=SIGNING_SECRET, payload=payload
    )
    assert answer.status == 200
    return answer


async def _views(stack: Stack, count: int) -> list[View]:
    return await stack.slack.wait_for(
        lambda: stack.slack.views if len(stack.slack.views) >= count else [],
        timeout=5,
        what=f"{count} view(s)",
    )


def _block(view: View, block_id: str) -> dict[str, Any]:
    [block] = [b for b in view.view["blocks"] if b.get("block_id") == block_id]
    return block


def _options(view: View, block_id: str) -> list[str]:
    return [o["value"] for o in _block(view, block_id)["element"].get("options", [])]


def _state(*, model: str, label: str, document: str = TEXT) -> dict[str, dict[str, Any]]:
    return {
        BlockId.FEEDBACK_TYPED: {
            ActionId.FEEDBACK_MODEL: {"type": "plain_text_input", "value": model}
        },
        BlockId.FEEDBACK_LABEL: {
            ActionId.FEEDBACK_LABEL_CHOICE: {
                "type": "static_select",
                "selected_option": {"value": label},
            }
        },
        BlockId.FEEDBACK_DOCUMENT: {
            ActionId.FORM_FIELD: {"type": "plain_text_input", "value": document}
        },
    }


async def _open_form(stack: Stack, *, user: str = USER) -> View:
    """The form the shortcut opens, as opened. For someone with recent models an update with
    the chosen model's labels follows at any moment, so only what was opened is counted."""
    before = len(stack.slack.views)
    await _shortcut(stack, user=user)
    [view] = await stack.slack.wait_for(
        lambda: [v for v in stack.slack.views[before:] if v.action == "open"],
        timeout=5,
        what="the feedback form",
    )
    return view


async def _submit(stack: Stack, view: View, state: dict[str, Any], *, user: str = USER) -> Any:
    payload = view_submission_payload(
        callback_id=CallbackId.FEEDBACK_MODAL,
        user_id=user,
        values=state,
        private_metadata=view.view["private_metadata"],
        view_id=view.id,
    )
    answer = await send_interaction(
        stack.session, stack.url, signing_secret=SIGNING_SECRET, payload=payload
    )
    assert answer.status == 200
    return answer.json() if answer.body else None


async def test_shortcut_opens_the_form_with_the_message_and_recent_models(stack: Stack) -> None:
    """The form opens on the message's text with the recent models, the newest chosen, then
    shows that model's labels."""
    model, _ = _model(stack)
    quick(stack, model)
    await stack.command(model)
    await stack.wait_final()
    await _shortcut(stack)
    opened, updated = await _views(stack, 2)
    assert opened.action == "open"
    assert opened.view["callback_id"] == CallbackId.FEEDBACK_MODAL
    document = _block(opened, BlockId.FEEDBACK_DOCUMENT)["element"]
    assert document["initial_value"] == TEXT
    assert _options(opened, BlockId.FEEDBACK_RECENT) == [model]
    recent = _block(opened, BlockId.FEEDBACK_RECENT)["element"]
    assert recent["initial_option"]["value"] == model
    assert updated.action == "update"
    assert updated.id == opened.id
    assert _options(updated, BlockId.FEEDBACK_LABEL) == list(LABELS)


async def test_the_document_is_the_text_as_seen(stack: Stack) -> None:
    """Slack's escapes in the message's text are undone in the document."""
    await _shortcut(stack, text="Refund &amp; return &lt;asap&gt;")
    [view] = await _views(stack, 1)
    document = _block(view, BlockId.FEEDBACK_DOCUMENT)["element"]
    assert document["initial_value"] == "Refund & return <asap>"


async def test_typing_a_model_fills_its_labels(stack: Stack) -> None:
    """A model ID typed in the form (Enter) turns the label field into its labels' menu."""
    model, _ = _model(stack)
    view = await _open_form(stack)
    assert _block(view, BlockId.FEEDBACK_LABEL)["element"]["type"] == "plain_text_input"
    typed = _state(model=model, label="")
    payload = view_action_payload(
        view,
        user_id=USER,
        block_id=BlockId.FEEDBACK_TYPED,
        action_id=ActionId.FEEDBACK_MODEL,
        values={k: v for k, v in typed.items() if k != BlockId.FEEDBACK_LABEL},
    )
    answer = await send_interaction(
        stack.session, stack.url, signing_secret=SIGNING_SECRET, payload=payload
    )
    assert answer.status == 200
    _, updated = await _views(stack, 2)
    assert _options(updated, BlockId.FEEDBACK_LABEL) == list(LABELS)
    assert _block(updated, BlockId.FEEDBACK_TYPED)["element"]["initial_value"] == model


async def test_a_model_without_readable_labels_gets_a_note(stack: Stack) -> None:
    """A typed model Einstein does not know leaves the label typed, with a note saying why."""
    view = await _open_form(stack)
    values = {
        BlockId.FEEDBACK_TYPED: {
            ActionId.FEEDBACK_MODEL: {
                "type": "plain_text_input",
                "value": "UNKNWNMDLAAAAAAAAAAAAAAAAA",
            }
        }
    }
    payload = view_action_payload(
        view,
        user_id=USER,
        block_id=BlockId.FEEDBACK_TYPED,
        action_id=ActionId.FEEDBACK_MODEL,
        values=values,
    )
    await send_interaction(stack.session, stack.url, signing_secret=SIGNING_SECRET, payload=payload)
    _, updated = await _views(stack, 2)
    label = _block(updated, BlockId.FEEDBACK_LABEL)
    assert label["element"]["type"] == "plain_text_input"
    assert "does not know the model UNKNWNMDLAAAAAAAAAAAAAAAAA" in label["hint"]["text"]


async def test_submitting_adds_one_example_and_confirms_privately(stack: Stack) -> None:
    """The submitted form closes, Einstein's dataset gains one example, the person is told."""
    model, dataset = _model(stack)
    before = stack.simulator.feedback_count(dataset)
    view = await _open_form(stack)
    answer = await _submit(stack, view, _state(model=model, label="shipping"))
    assert answer is None  # an empty answer closes the form
    text = await wait_private_to(stack, USER, "Added to the dataset")
    assert f"`{model}`" in text
    assert "*shipping*" in text
    assert stack.simulator.feedback_count(dataset) == before + 1
    [call] = stack.simulator.calls("provideFeedback")
    assert call.form == {"modelId": model, "document": TEXT, "expectedLabel": "shipping"}


async def test_unknown_label_is_a_field_error(stack: Stack) -> None:
    """A label the dataset lacks comes back under the label field; nothing is added."""
    model, dataset = _model(stack)
    view = await _open_form(stack)
    answer = await _submit(stack, view, _state(model=model, label="refunds"))
    assert answer["response_action"] == "errors"
    assert list(answer["errors"]) == [BlockId.FEEDBACK_LABEL]
    assert "has no such label" in answer["errors"][BlockId.FEEDBACK_LABEL]
    assert stack.simulator.feedback_count(dataset) == 0


async def test_unknown_model_is_a_field_error(stack: Stack) -> None:
    """A model Einstein does not know comes back under the model field; nothing is added."""
    _, dataset = _model(stack)
    view = await _open_form(stack)
    answer = await _submit(stack, view, _state(model="UNKNWNMDLBBBBBBBBBBBBBBBBB", label="billing"))
    assert answer["response_action"] == "errors"
    assert list(answer["errors"]) == [BlockId.FEEDBACK_TYPED]
    assert "does not know the model" in answer["errors"][BlockId.FEEDBACK_TYPED]
    assert stack.simulator.feedback_count(dataset) == 0


async def test_missing_fields_are_field_errors(stack: Stack) -> None:
    """No model, no label and an emptied document each get their own message."""
    view = await _open_form(stack)
    answer = await _submit(stack, view, _state(model="", label="", document="  "))
    assert set(answer["errors"]) == {
        BlockId.FEEDBACK_TYPED,
        BlockId.FEEDBACK_LABEL,
        BlockId.FEEDBACK_DOCUMENT,
    }
    assert stack.simulator.calls("provideFeedback") == []


@pytest.mark.settings(retrain_allowed_users=USER)
async def test_access_rules_refuse_in_the_form(stack: Stack) -> None:
    """Someone the retrain rules refuse sees why in the form; Einstein is not called."""
    model, dataset = _model(stack)
    view = await _open_form(stack, user=OTHER)
    answer = await _submit(stack, view, _state(model=model, label="billing"), user=OTHER)
    assert answer["response_action"] == "errors"
    assert "You may not add feedback" in answer["errors"][BlockId.FEEDBACK_TYPED]
    assert stack.simulator.calls("provideFeedback") == []
    assert stack.simulator.feedback_count(dataset) == 0


LIMITED = "PRODFEEDBACKAAAAAAAAAAAAAA"
LIMITS = Path(tempfile.mkdtemp(prefix="retrain-feedback-policy-")) / "policy.yml"
LIMITS.write_text(
    f"""models:
  - match: "{LIMITED}"
    protected: true
    approvers: [U0APPROVER1]
    max_epochs: 200
    feedback: false
    allow_users: [{USER}]
""",
    encoding="utf-8",
)


@pytest.mark.settings(retrain_policy_file=str(LIMITS), retrain_user_rate="1/hour")
async def test_a_models_retrain_limits_do_not_stop_its_teachers(stack: Stack) -> None:
    """Option limits, approvals and the retrain rate do not apply to adding an example: its
    allowed user adds one, someone the rule leaves out is refused in the form."""
    model, dataset = _model(stack, LIMITED)
    await stack.command(f"{model} epochs=100")  # uses up the user's one retrain an hour
    view = await _open_form(stack)
    assert await _submit(stack, view, _state(model=model, label="billing")) is None
    await wait_private_to(stack, USER, "Added to the dataset")
    assert stack.simulator.feedback_count(dataset) == 1
    view = await _open_form(stack, user=OTHER)
    answer = await _submit(stack, view, _state(model=model, label="billing"), user=OTHER)
    assert "You may not add feedback" in answer["errors"][BlockId.FEEDBACK_TYPED]
    assert stack.simulator.feedback_count(dataset) == 1


async def test_slow_einstein_closes_the_form_and_tells_later(stack: Stack) -> None:
    """When Einstein answers after the form's time, the form closes and the outcome follows."""
    model, dataset = _model(stack)
    stack.bot.feedback.answer_within = 0.2
    stack.simulator.fail_next("provideFeedback", status=None, delay=0.6)
    view = await _open_form(stack)
    answer = await _submit(stack, view, _state(model=model, label="returns"))
    assert answer is None
    assert stack.simulator.feedback_count(dataset) == 0  # still on its way
    await wait_private_to(stack, USER, "Added to the dataset")
    assert stack.simulator.feedback_count(dataset) == 1


async def test_slow_refusal_is_told_privately(stack: Stack) -> None:
    """A refusal that arrives after the form closed is told privately, with the reason."""
    model, _ = _model(stack)
    stack.bot.feedback.answer_within = 0.2
    stack.simulator.fail_next("provideFeedback", status=None, delay=0.6)
    view = await _open_form(stack)
    assert await _submit(stack, view, _state(model=model, label="refunds")) is None
    text = await wait_private_to(stack, USER, "not added")
    assert "has no such label" in text


@pytest.mark.slack(channels=[Channel(id=CHANNEL, name="general", members=frozenset({USER}))])
async def test_confirmation_is_a_direct_message_when_no_ephemeral_can_be_shown(
    stack: Stack,
) -> None:
    """Someone outside the message's channel gets the confirmation as a direct message."""
    model, _ = _model(stack)
    view = await _open_form(stack, user=OTHER)
    assert await _submit(stack, view, _state(model=model, label="billing"), user=OTHER) is None
    [dm] = await stack.slack.wait_for(
        lambda: stack.slack.messages(f"D{OTHER[1:]}"), timeout=5, what="a direct message"
    )
    assert "Added to the dataset" in (dm.text or "")


async def test_the_audit_trail_has_the_example(stack: Stack) -> None:
    """Each example is audited with who, where, model, label, outcome and length, not text."""
    model, _ = _model(stack)
    view = await _open_form(stack)
    await _submit(stack, view, _state(model=model, label="billing"))
    await _submit(stack, view, _state(model=model, label="refunds"))
    await wait_private_to(stack, USER, "Added to the dataset")
    events = await AuditLog(stack.bot.store).events(kinds=[AuditKind.FEEDBACK])
    assert [(e.actor, e.channel, e.model_id, e.outcome) for e in events] == [
        (USER, CHANNEL, model, "added"),
        (USER, CHANNEL, model, "refused"),
    ]
    assert events[0].detail == {"label": "billing", "document_length": len(TEXT)}
    assert events[1].detail["reason"] == "unknown_label"
    assert all(TEXT not in str(e.as_record()) for e in events)


def test_manifest_declares_the_shortcut() -> None:
    """manifest.yml offers the message shortcut under the callback ID the bot listens to."""
    manifest = yaml.safe_load((ROOT / "manifest.yml").read_text(encoding="utf-8"))
    assert manifest["features"]["shortcuts"] == [
        {
            "name": "Add as Einstein feedback",
            "type": "message",
            "callback_id": CallbackId.ADD_FEEDBACK,
            "description": "Add this message to a model's dataset as a feedback example",
        }
    ]
    assert manifest["features"]["app_home"]["messages_tab_enabled"] is True


@pytest.mark.slack(
    channels=[
        Channel(id=CHANNEL, name="general"),
        Channel(id="G0PRIVATE1", name="secret", is_private=True, members=frozenset({USER})),
    ]
)
async def test_recent_models_of_a_private_channel_are_offered_to_its_members_only(
    stack: Stack,
) -> None:
    """A model trained in a private channel is not named in an outsider's form."""
    model, _ = _model(stack)
    quick(stack, model)
    await stack.command(model, channel="G0PRIVATE1")
    await stack.wait_final()
    outsider = await _opened(stack, user=OTHER, count=1)
    member = await _opened(stack, user=USER, count=2)
    blocks = outsider.view["blocks"]
    assert not [b for b in blocks if b.get("block_id") == BlockId.FEEDBACK_RECENT]
    assert model not in str(outsider.view)
    assert _options(member, BlockId.FEEDBACK_RECENT) == [model]


async def _opened(stack: Stack, *, user: str, count: int) -> View:
    """The form `user`'s shortcut opened, the `count`-th opened so far."""
    await _shortcut(stack, user=user)
    opened = await stack.slack.wait_for(
        lambda: [v for v in stack.slack.views if v.action == "open"][count - 1 : count],
        timeout=5,
        what=f"form {count}",
    )
    return opened[0]
