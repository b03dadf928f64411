"""Block Kit rendering of the card and the thread replies, within Slack's limits."""

from __future__ import annotations

import json
from datetime import UTC, datetime, timedelta
from typing import Any

import pytest

from bot.core.jobs import Job, LabelScore, Result
from bot.core.mrkdwn import format_duration
from bot.core.options import RetrainOptions
from bot.slack.card import progress_bar, render_card
from bot.slack.look import Message
from bot.slack.replies import render_reply

NOW = datetime(2026, 1, 1, 12, 0, tzinfo=UTC)


def _job(**changes: object) -> Job:
    job = Job(
        id="j",
        model_id="7JXCXTRXTMNLJCEF2DR5CJ46QU",
        options=RetrainOptions(train_split_ratio=0.7, with_feedback=True),
        requester="U1",
        channel="C1",
        origin_channel="C1",
        created_at=NOW,
        parent_ts="1.1",
    )
    return job.with_changes(**changes)


def _within_limits(message: Message) -> None:
    assert 0 < len(message.text) <= 4000
    assert len(message.blocks) <= 50
    for block in message.blocks:
        if block["type"] == "header":
            assert len(block["text"]["text"]) <= 150
        if block["type"] == "section" and "text" in block:
            assert len(block["text"]["text"]) <= 3000


def _all_text(message: Message) -> str:
    return message.text + json.dumps(message.blocks, ensure_ascii=False)


STATES: list[dict[str, Any]] = [
    {"status": "SUBMITTING"},
    {"status": "QUEUED", "queue_position": 4},
    {
        "status": "RUNNING",
        "progress": 0.42,
        "epochs": 100,
        "epochs_done": 42,
        "running_since": NOW - timedelta(minutes=3),
    },
    {
        "status": "SUCCEEDED",
        "progress": 1.0,
        "finished_at": NOW,
        "running_since": NOW - timedelta(minutes=5),
        "result": Result(test_accuracy=0.91, macro_f1=0.88),
    },
    {"status": "FAILED", "failure_msg": "x" * 10_000},
    {"status": "LOST"},
    {"status": "CANCELLED"},
]


@pytest.mark.parametrize("state", STATES, ids=[s["status"] for s in STATES])
def test_card_in_every_state(state: dict[str, Any]) -> None:
    """The card names the model, requester and options and stays within Slack's limits."""
    message = render_card(_job(**state), now=NOW)
    _within_limits(message)
    text = _all_text(message)
    assert "7JXCXTRXTMNLJCEF2DR5CJ46QU" in text
    assert "<@U1>" in text
    assert "split=0.7" in text


def test_card_shows_queue_position_and_progress() -> None:
    """Queued cards show the position; running cards a bar, the percentage and epochs."""
    assert "position 4" in _all_text(render_card(_job(status="QUEUED", queue_position=4), now=NOW))
    running = _all_text(render_card(_job(**STATES[2]), now=NOW))
    assert "42%" in running
    assert "epoch 42 of 100" in running
    assert "3m 00s" in running


@pytest.mark.parametrize(
    "status", ["QUEUED", "RUNNING", "SUCCEEDED", "FAILED", "LOST", "CANCELLED", "KILLED"]
)
def test_reply_in_every_state(status: str) -> None:
    """Every thread reply stays within limits, even with a 10,000-character failure message."""
    _within_limits(render_reply(_job(status=status, failure_msg="y" * 10_000), status))


def test_success_reply_summarizes_metrics() -> None:
    """The success reply mentions the requester and shows metrics as percentages."""
    result = Result(
        test_accuracy=0.9123,
        macro_f1=0.88,
        weakest=(LabelScore("billing", 0.51),),
        epochs_done=40,
        epochs=100,
        early_stopping=True,
        train_split_size=118,
        test_split_size=32,
        training_time="00:02:25:646",
    )
    text = _all_text(render_reply(_job(status="SUCCEEDED", result=result), "SUCCEEDED"))
    for expected in (
        "<@U1>",
        "91.2%",
        "88.0%",
        "billing (51.0%)",
        "40 of 100",
        "stopped early",
        "118 training / 32 test",
        "2m 25s",
    ):
        assert expected in text


def test_failure_reply_carries_reason() -> None:
    """The failure reply mentions the requester and quotes Einstein's reason."""
    text = _all_text(
        render_reply(_job(status="FAILED", failure_msg="needs 100 examples"), "FAILED")
    )
    assert "<@U1>" in text
    assert "needs 100 examples" in text


@pytest.mark.parametrize(("seconds", "text"), [(5, "5s"), (65, "1m 05s"), (3700, "1h 01m")])
def test_format_duration(seconds: float, text: str) -> None:
    """Durations read as seconds, minutes or hours."""
    assert format_duration(seconds) == text


def test_progress_bar_bounds() -> None:
    """The bar is always ten cells, clamped to 0..1."""
    assert progress_bar(0.5) == "▓▓▓▓▓░░░░░"
    assert progress_bar(-1) == "░" * 10
    assert progress_bar(2) == "▓" * 10
