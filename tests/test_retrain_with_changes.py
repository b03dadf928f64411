"""*Retrain with changes…*: the card's button opens the retrain form filled in with the job's
options; the form, changed and submitted, goes through the command's use case and rules.

Clicks and submissions arrive signed at the served bot; the submitted values are the opened
form's own initial values, changed where a person would change them.
"""

from __future__ import annotations

import json
import tempfile
from pathlib import Path
from typing import Any

import pytest

from bot.fakes.slack import View, send_interaction, view_submission_payload
from bot.slack.ids import ActionId, BlockId, CallbackId
from tests.conftest import CHANNEL, SIGNING_SECRET, USER, Stack
from tests.test_interactions import click, quick, wait_private_to

MODEL = "7JXCXTRXTMNLJCEF2DR5CJ46QU"
LIMITED = "LIMAAAAAAAAAAAAAAAAAAAAAAA"
OTHER = "U0OTHER003"

POLICY = Path(tempfile.mkdtemp(prefix="retrain-policy-")) / "policy.yml"
POLICY.write_text(
    'models:\n  - match: "LIM*"\n    max_epochs: 200\n    feedback: false\n', encoding="utf-8"
)


async def _finished(stack: Stack, model: str, options: str) -> Any:
    stack.simulator.add_model(model)
    quick(stack, model, times=2)
    await stack.command(f"{model} {options}")
    [job] = await stack.wait_final()
    return job


async def _open_changes(stack: Stack, job: Any, *, user: str = OTHER) -> View:
    await click(stack, ActionId.RETRAIN_WITH_CHANGES, job, user=user)
    [view] = await stack.slack.wait_for(lambda: stack.slack.views, timeout=3, what="views.open")
    return view


def _initial(view: View) -> dict[str, str]:
    """Each prefilled field's value, by block ID, as the form shows it."""
    found = {}
    for block in view.view["blocks"]:
        element = block.get("element") or {}
        if "initial_value" in element:
            found[block["block_id"]] = element["initial_value"]
        elif "initial_option" in element:
            found[block["block_id"]] = element["initial_option"]["value"]
    return found


async def _submit(stack: Stack, view: View, values: dict[str, str], *, user: str = OTHER) -> Any:
    """Submit `view` with `values` (block ID -> raw value) as Slack sends its state."""
    state: dict[str, dict[str, Any]] = {}
    for block, raw in values.items():
        if block in (BlockId.FEEDBACK, BlockId.ALGORITHM):
            element: dict[str, Any] = {"type": "static_select", "selected_option": {"value": raw}}
        else:
            element = {"type": "number_input", "value": raw}
        state[block] = {ActionId.FORM_FIELD: element}
    payload = view_submission_payload(
        callback_id=CallbackId.RETRAIN_MODAL,
        user_id=user,
        values=state,
        private_metadata=view.view["private_metadata"],
    )
    return await send_interaction(
        stack.session, stack.url, signing_secret=SIGNING_SECRET, payload=payload
    )


async def test_ended_card_offers_retrain_with_changes(stack: Stack) -> None:
    """Once a training ended, its card has *Retrain with changes…* next to *Retrain again*."""
    await _finished(stack, MODEL, "split=0.7")
    [card] = stack.cards()
    [actions] = [b for b in card.blocks if b["type"] == "actions"]
    assert [e["action_id"] for e in actions["elements"]] == [
        ActionId.RETRAIN_AGAIN,
        ActionId.RETRAIN_WITH_CHANGES,
    ]
    assert actions["elements"][1]["text"]["text"] == "Retrain with changes…"


async def test_click_opens_the_form_filled_in_with_the_jobs_options(stack: Stack) -> None:
    """The form opens on the click's trigger with the model and every option the job had."""
    job = await _finished(stack, MODEL, "split=0.7 feedback=true algorithm=intent lr=0.00001")
    view = await _open_changes(stack, job)
    assert view.trigger_id is not None
    assert view.view["callback_id"] == CallbackId.RETRAIN_MODAL
    assert json.loads(view.view["private_metadata"]) == {"channel": CHANNEL}
    assert _initial(view) == {
        BlockId.MODEL: MODEL,
        BlockId.SPLIT: "0.7",
        BlockId.FEEDBACK: "true",
        BlockId.ALGORITHM: "intent",
        BlockId.LEARNING_RATE: "0.00001",
    }


async def test_changed_form_starts_the_changed_retrain(stack: Stack) -> None:
    """Submitted with epochs and lr changed, the form starts that retrain for the clicker."""
    first = await _finished(stack, MODEL, "split=0.7 lr=0.01")
    view = await _open_changes(stack, first)
    answer = await _submit(
        stack, view, _initial(view) | {BlockId.EPOCHS: "50", BlockId.LEARNING_RATE: "0.02"}
    )
    assert answer.status == 200
    assert answer.body == ""
    text = await wait_private_to(stack, OTHER, "Submitting the retrain")
    assert "split=0.7 epochs=50 lr=0.02" in text
    jobs = await stack.wait_final(count=2)
    second = next(j for j in jobs if j.id != first.id)
    assert second.requester == OTHER
    assert (second.options.epochs, second.options.learning_rate) == (50, 0.02)
    assert second.options.train_split_ratio == 0.7
    last = stack.simulator.calls("retrain")[-1]
    assert last.form is not None
    assert (last.form["epochs"], last.form["learningRate"]) == ("50", "0.02")


@pytest.mark.settings(retrain_policy_file=str(POLICY))
async def test_changed_form_obeys_the_access_rules(stack: Stack) -> None:
    """Changes the model's rule forbids are refused like the command's, naming every rule."""
    first = await _finished(stack, LIMITED, "epochs=100")
    view = await _open_changes(stack, first, user=USER)
    await _submit(
        stack, view, _initial(view) | {BlockId.EPOCHS: "500", BlockId.FEEDBACK: "true"}, user=USER
    )
    text = await wait_private_to(stack, USER, "not started")
    assert "It breaks 2 rules" in text
    assert "use `epochs=200` or fewer" in text
    assert len(stack.simulator.calls("retrain")) == 1


async def test_form_that_cannot_open_is_explained(stack: Stack) -> None:
    """If Slack will not open the form, the clicker hears how to make the change by typing."""
    job = await _finished(stack, MODEL, "split=0.7")
    stack.slack.fail_next("views.open", error="expired_trigger_id")
    await click(stack, ActionId.RETRAIN_WITH_CHANGES, job, user=OTHER)
    text = await wait_private_to(stack, OTHER, "did not open the form")
    assert f"`/retrain {MODEL} split=0.7`" in text
