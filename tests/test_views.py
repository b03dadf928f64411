"""The retrain form and the Home tab as Block Kit: field IDs, Slack's limits, grammar rules."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.core.grammar import Retrain, parse_command
from bot.core.jobs import Job, Result
from bot.core.options import RetrainOptions
from bot.core.words import parse_options
from bot.fakes.slack.checks import check_blocks
from bot.slack.home import HOME_JOBS, MAX_VIEW_BLOCKS, HomeEntry, home_view
from bot.slack.ids import ActionId, BlockId, CallbackId
from bot.slack.views import (
    FORM_OPTIONS,
    FormErrors,
    RetrainForm,
    read_retrain_form,
    retrain_form,
)

MODEL = "7JXCXTRXTMNLJCEF2DR5CJ46QU"
NOW = datetime(2026, 1, 2, 12, 0, tzinfo=UTC)


def _inputs(view: dict[str, Any]) -> dict[str, dict[str, Any]]:
    return {b["block_id"]: b for b in view["blocks"] if b["type"] == "input"}


def _submitted(values: dict[BlockId, str], *, channel: str | None = "C0001") -> dict[str, Any]:
    """A submitted view as Slack sends it, from raw values per block ID."""
    state: dict[str, Any] = {}
    for block, raw in values.items():
        if block in (BlockId.FEEDBACK, BlockId.ALGORITHM):
            element: dict[str, Any] = {"type": "static_select", "selected_option": {"value": raw}}
        else:
            element = {"type": "plain_text_input", "value": raw}
        state[block] = {ActionId.FORM_FIELD: element}
    metadata = json.dumps({"channel": channel}) if channel else ""
    return {"state": {"values": state}, "private_metadata": metadata}


def _job(index: int, *, status: str = "SUCCEEDED", **changes: Any) -> Job:
    return Job(
        id=f"job{index:04d}",
        model_id=f"MODEL{index:04d}",
        options=RetrainOptions(train_split_ratio=0.7),
        requester="U1",
        channel="C0001",
        origin_channel="C0001",
        created_at=NOW - timedelta(minutes=index + 5),
        status=status,
        parent_ts=f"1700000000.{index:06d}",
        **changes,
    )


# -- the form --------------------------------------------------------------------------------


def test_form_has_one_input_per_field() -> None:
    """The form asks for the model ID and the six options, each under its own block ID."""
    view = retrain_form(channel="C0001")
    inputs = _inputs(view)
    assert list(inputs) == [BlockId.MODEL, *(block for block, _, _ in FORM_OPTIONS)]
    assert all(b["element"]["action_id"] == ActionId.FORM_FIELD for b in inputs.values())
    assert view["callback_id"] == CallbackId.RETRAIN_MODAL
    assert json.loads(view["private_metadata"]) == {"channel": "C0001"}


def test_only_the_model_id_is_required() -> None:
    """Every option may be left empty; the model ID may not."""
    inputs = _inputs(retrain_form(channel="C0001"))
    assert not inputs[BlockId.MODEL].get("optional", False)
    assert all(inputs[block]["optional"] for block, _, _ in FORM_OPTIONS)


def test_form_is_within_slacks_limits() -> None:
    """Title, block count and texts fit Slack's modal limits, and every block is well formed."""
    view = retrain_form(channel="C0001")
    assert len(view["title"]["text"]) <= 24
    assert len(view["blocks"]) <= MAX_VIEW_BLOCKS
    check_blocks(view["blocks"], limit=MAX_VIEW_BLOCKS)
    for block in _inputs(view).values():
        assert len(block["label"]["text"]) <= 2000
        assert len(block["element"]["placeholder"]["text"]) <= 150
        assert "`" not in block.get("hint", {}).get("text", "")
    assert len(view["private_metadata"]) <= 3000


def test_menus_offer_only_what_the_grammar_accepts() -> None:
    """Every menu choice parses as its option, and the algorithm menu lists every algorithm."""
    inputs = _inputs(retrain_form(channel="C0001"))
    for block, name, _ in FORM_OPTIONS:
        for option in inputs[block]["element"].get("options", []):
            parse_options({name: option["value"]})
    algorithms = [o["value"] for o in inputs[BlockId.ALGORITHM]["element"]["options"]]
    assert algorithms == ["intent", "multilingual-intent", "multilingual-intent-ood"]


@pytest.mark.parametrize(
    "options",
    [
        RetrainOptions(),
        RetrainOptions(train_split_ratio=0.7, with_feedback=False, learning_rate=0.00001),
        RetrainOptions(
            epochs=50, algorithm="multilingual-intent-ood", with_global_dataset_id=1041763
        ),
        RetrainOptions(with_feedback=True, learning_rate=1.0),
    ],
)
def test_prefilled_form_reads_back_as_the_same_options(options: RetrainOptions) -> None:
    """A form filled in with a job's options, submitted untouched, gives those options."""
    view = retrain_form(channel="C0001", model_id=MODEL, options=options)
    check_blocks(view["blocks"], limit=MAX_VIEW_BLOCKS)
    values = {}
    for block_id, block in _inputs(view).items():
        element = block["element"]
        raw = element.get("initial_value") or (element.get("initial_option") or {}).get("value")
        if raw is not None:
            values[BlockId(block_id)] = raw
    assert read_retrain_form(_submitted(values)) == RetrainForm(
        model_id=MODEL, options=options, channel="C0001"
    )


def test_prefilled_numbers_are_written_out() -> None:
    """A tiny learning rate is shown as 0.00001, never 1e-05, which a number field refuses."""
    view = retrain_form(channel="C0001", model_id=MODEL, options=RetrainOptions(learning_rate=1e-5))
    assert _inputs(view)[BlockId.LEARNING_RATE]["element"]["initial_value"] == "0.00001"


@pytest.mark.parametrize(
    "typed",
    [
        MODEL,
        f"{MODEL} split=0.7 feedback=true",
        f"{MODEL} epochs=50 algorithm=multilingual-intent-ood global=1041763",
        f"{MODEL} feedback=false split=.25",
    ],
)
def test_form_reads_back_like_the_command(typed: str) -> None:
    """The same values in the form and in the command give the same retrain."""
    command = parse_command(typed)
    assert isinstance(command, Retrain)
    words = typed.split()
    names = {name: block for block, name, _ in FORM_OPTIONS}
    values = {BlockId.MODEL: words[0]}
    for word in words[1:]:
        name, _, raw = word.partition("=")
        values[names[name]] = raw
    form = read_retrain_form(_submitted(values))
    assert form == RetrainForm(model_id=command.model_id, options=command.options, channel="C0001")


def test_empty_options_are_left_to_einstein() -> None:
    """Fields left empty (or blank) are not sent, exactly as options not typed."""
    values = {BlockId.MODEL: f"  {MODEL} ", BlockId.SPLIT: "  ", BlockId.GLOBAL: ""}
    form = read_retrain_form(_submitted(values))
    assert form == RetrainForm(model_id=MODEL, options=RetrainOptions(), channel="C0001")


def test_each_bad_field_gets_its_own_plain_message() -> None:
    """Errors are keyed by block ID, say what is wrong with that field, and carry no mrkdwn."""
    values = {
        BlockId.MODEL: "a/b",
        BlockId.SPLIT: "1",
        BlockId.FEEDBACK: "maybe",
        BlockId.EPOCHS: "1001",
        BlockId.GLOBAL: "-4",
    }
    result = read_retrain_form(_submitted(values))
    assert isinstance(result, FormErrors)
    errors = result.errors
    assert set(errors) == {"model", "split", "feedback", "epochs", "global"}
    assert "letters and digits" in errors["model"]
    assert "between 0 and 1" in errors["split"]
    assert "true or false" in errors["feedback"]
    assert "1 to 1000" in errors["epochs"]
    assert "dataset ID" in errors["global"]
    for message in errors.values():
        assert "`" not in message
        assert "&lt;" not in message
        assert len(message) <= 300


def test_a_missing_model_id_is_named() -> None:
    """An empty model ID field is refused on that field."""
    result = read_retrain_form(_submitted({BlockId.SPLIT: "0.5"}))
    assert isinstance(result, FormErrors)
    assert list(result.errors) == ["model"]


@pytest.mark.parametrize("metadata", ["", "not json", "[]", '{"channel": ""}'])
def test_a_form_without_its_channel_is_expired(metadata: str) -> None:
    """A submission that lost where it was opened is refused, not posted somewhere random."""
    view = _submitted({BlockId.MODEL: MODEL})
    view["private_metadata"] = metadata
    result = read_retrain_form(view)
    assert isinstance(result, FormErrors)
    assert "expired" in result.errors["model"]


# -- the Home tab ----------------------------------------------------------------------------


def test_home_stays_within_limits_however_many_jobs() -> None:
    """Hundreds of jobs still make a valid Home tab of at most 100 blocks and 20 jobs."""
    entries = [HomeEntry(_job(i), link=f"https://x.slack.com/p{i}") for i in range(500)]
    view = home_view(entries, now=NOW)
    assert view["type"] == "home"
    assert len(view["blocks"]) <= MAX_VIEW_BLOCKS
    check_blocks(view["blocks"], limit=MAX_VIEW_BLOCKS)
    shown = [b for b in view["blocks"] if "MODEL" in json.dumps(b)]
    assert len(shown) == HOME_JOBS


def test_home_puts_running_before_recent() -> None:
    """Running trainings come first with their progress; ended ones follow with their result."""
    done = _job(1, result=Result(test_accuracy=0.912), finished_at=NOW - timedelta(minutes=3))
    busy = _job(2, status="RUNNING", progress=0.42)
    text = json.dumps(home_view([HomeEntry(busy), HomeEntry(done)], now=NOW))
    assert text.index("Running") < text.index("MODEL0002") < text.index("Recent")
    assert text.index("Recent") < text.index("MODEL0001")
    assert "42%" in text
    assert "accuracy 91.2%" in text
    assert "ended 3m 00s ago" in text


def test_home_links_each_thread() -> None:
    """A job with a permalink links its thread; without one it names the channel."""
    linked = HomeEntry(_job(1), link="https://x.slack.com/archives/C0001/p1")
    unlinked = HomeEntry(_job(2))
    text = json.dumps(home_view([linked, unlinked], now=NOW))
    assert "<https://x.slack.com/archives/C0001/p1|thread>" in text
    assert "in <#C0001>" in text


def test_home_without_jobs_says_so() -> None:
    """Someone with no trainings sees a short explanation, not an empty tab."""
    view = home_view([], now=NOW)
    text = json.dumps(view)
    assert "not retrained a model" in text
    assert "/retrain" in text
