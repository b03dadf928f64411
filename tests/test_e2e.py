"""End to end: signed slash commands at the served bot, Einstein simulator and fake Slack.

Assertions are on what Slack and Einstein actually received.
"""

from __future__ import annotations

import json
import time

import pytest

from bot.fakes.slack import Channel, sign_slack_request, slash_command_body
from tests.conftest import ACCOUNT, CHANNEL, SIGNING_SECRET, USER, Stack

MODEL = "7JXCXTRXTMNLJCEF2DR5CJ46QU"


def _texts(stack: Stack) -> list[str]:
    return [m.text for m in stack.replies()]


async def test_ack_is_private_and_fast(stack: Stack) -> None:
    """Slack gets HTTP 200 at once; only the requester sees that the retrain is submitted."""
    stack.simulator.add_model(MODEL)
    answer, _ = await stack.command(f"{MODEL} split=0.7 feedback=true")
    assert answer.status == 200
    assert answer.elapsed < 1.0
    assert "Submitting the retrain" in answer.body
    assert MODEL in answer.body
    assert "in_channel" not in answer.body
    await stack.wait_final()


async def test_retrain_call_is_multipart_with_train_params(stack: Stack) -> None:
    """Einstein receives one multipart retrain with modelId, trainParams JSON and a bearer token."""
    stack.simulator.add_model(MODEL)
    await stack.command(f"{MODEL} split=0.7 feedback=true epochs=50")
    await stack.wait_final()
    calls = stack.simulator.calls("retrain")
    assert len(calls) == 1
    call = calls[0]
    assert call.content_type == "multipart/form-data"
    assert call.form is not None
    assert call.form["modelId"] == MODEL
    assert json.loads(call.form["trainParams"]) == {"trainSplitRatio": 0.7, "withFeedback": True}
    assert call.form["epochs"] == "50"
    assert call.headers["Authorization"].startswith("Bearer ")
    assert call.status == 200


async def test_success_thread(stack: Stack) -> None:
    """Success: one card kept current, one reply per state, the last one with metrics."""
    stack.simulator.add_model(MODEL)
    await stack.command(f"{MODEL} split=0.7 feedback=true")
    [job] = await stack.wait_final()
    assert job.status == "SUCCEEDED"
    [card] = stack.cards()
    assert MODEL in card.text
    assert f"<@{USER}>" in card.text
    assert "Succeeded" in card.text
    first = json.dumps(card.versions[0].blocks)
    assert "Queued" in first
    assert "position" in first
    assert "split=0.7 feedback=true" in first
    assert len(card.versions) >= 3, "the card is edited in place as the training moves"
    assert stack.slack.calls_to("chat.update")
    replies = stack.replies()
    assert all(r.thread_ts == card.ts for r in replies)
    assert len(replies) == 4, _texts(stack)
    queued, running, succeeded, pictures = replies
    assert "queued" in queued.text
    assert "started" in running.text
    final = succeeded.text + json.dumps(succeeded.versions[-1].blocks, ensure_ascii=False)
    assert f"<@{USER}>" in final
    assert "succeeded" in final
    for words in (
        "Test accuracy",
        "macro F1",
        "Weakest labels",
        "Epochs",
        "Split",
        "Training time",
    ):
        assert words in final
    assert "%" in final
    assert "→" in final, "accuracy before → after: the model had metrics before"
    assert not succeeded.reply_broadcast
    files = {f.filename: f for f in stack.slack.files}
    assert len(pictures.files) == 2
    assert all(f.thread_ts == card.ts for f in files.values())
    assert all(f.data.startswith(b"\x89PNG") for f in files.values())
    assert {name.rsplit("-", 2)[-2] + "-" + name.rsplit("-", 2)[-1] for name in files} == {
        "learning-curve.png",
        "confusion-matrix.png",
    }
    # The metrics are asked for the "before" and for the report; the pictures reuse the report's.
    assert len(stack.simulator.calls("getTrainedModelMetrics")) == 2


async def test_failed_thread_is_broadcast(stack: Stack) -> None:
    """A failed training: the reply quotes Einstein's reason, mentions and is broadcast."""
    stack.simulator.add_model(MODEL)
    stack.simulator.script(MODEL, outcome="FAILED", failure_msg="needs 100 examples per label")
    await stack.command(MODEL)
    [job] = await stack.wait_final()
    assert job.status == "FAILED"
    [card] = stack.cards()
    assert "Failed" in card.text
    final = stack.replies()[-1]
    assert final.reply_broadcast
    assert f"<@{USER}>" in final.text
    assert "needs 100 examples per label" in final.text


async def test_refusal_is_private(stack: Stack) -> None:
    """Einstein's 4xx (dataset already training) reaches the requester privately; the channel
    sees nothing."""
    dataset = stack.simulator.add_dataset()
    stack.simulator.add_model(MODEL, dataset_id=dataset)
    stack.simulator.script(None, stall=True)
    stack.simulator.add_model(dataset_id=dataset, trained=False)  # keeps the dataset busy
    _, response_url = await stack.command(MODEL)
    text = await stack.wait_private(response_url)
    assert "was not started" in text
    assert "one model per dataset at a time" in text, "Einstein's refusal in plain words"
    assert "Try again" in text, "with a next step"
    assert stack.cards() == []
    assert [c.status for c in stack.simulator.calls("retrain")] == [400]


async def test_bad_input_makes_no_call(stack: Stack) -> None:
    """Malformed commands get a specific private error with the usage line and no API call."""
    for text, expected in [
        (f"{MODEL} splt=0.5", "Did you mean `split`"),
        (f"{MODEL} split=2", "split"),
        ("../etc", "model ID"),
    ]:
        answer, _ = await stack.command(text)
        assert answer.status == 200
        assert expected in answer.body
        assert "Usage" in answer.body
    assert stack.simulator.calls("retrain") == []
    assert stack.cards() == []


async def test_help(stack: Stack) -> None:
    """`/retrain help` shows private usage with examples (a bare `/retrain` opens the form)."""
    for text in ("help", "HELP"):
        answer, _ = await stack.command(text)
        assert answer.status == 200
        assert "split" in answer.body
        assert "feedback" in answer.body


async def test_bad_signature_and_stale_timestamp(stack: Stack) -> None:
    """Requests with a wrong signature or a timestamp older than 5 minutes get 401."""
    body = slash_command_body(
        text=MODEL, user_id=USER, channel_id=CHANNEL, response_url=stack.slack.response_url()
    )
    now = int(time.time())
    wrong = sign_slack_request(signing_secret="not-the-secret", body=body, timestamp=now)
    stale = sign_slack_request(signing_secret=SIGNING_SECRET, body=body, timestamp=now - 301)
    for headers in (wrong, stale):
        async with stack.session.post(
            stack.url,
            data=body,
            headers={**headers, "Content-Type": "application/x-www-form-urlencoded"},
        ) as response:
            assert response.status == 401
    assert stack.simulator.calls("retrain") == []


async def test_healthz(stack: Stack) -> None:
    """/healthz answers 200 once the bot is ready."""
    async with stack.session.get(stack.url.replace("/slack/events", "/healthz")) as response:
        assert response.status == 200
        assert (await response.json())["ready"] is True


@pytest.mark.settings(retrain_channel="C0RETRAINS")
async def test_retrain_channel_gets_the_thread_and_the_requester_a_link(stack: Stack) -> None:
    """With RETRAIN_CHANNEL the card goes there; the requester gets a private permalink."""
    stack.slack.add_channel(Channel(id="C0RETRAINS", name="retrains"))
    stack.simulator.add_model(MODEL)
    _, url = await stack.command(MODEL)
    await stack.wait_final()
    assert stack.cards() == [], "nothing in the channel where the command was typed"
    [card] = [m for m in stack.slack.messages("C0RETRAINS") if m.thread_ts is None]
    assert "Succeeded" in card.text
    link = next(t for t in stack.private(url) if "follow it in" in t)
    assert "archives/C0RETRAINS" in link


async def test_refused_credentials_show_in_healthz_and_to_the_user(stack: Stack) -> None:
    """A key Einstein refuses: /healthz says what to check (never the key); the user gets a
    plain message; nothing is posted in the channel."""
    from bot.fakes.keys import generate_key_pair

    _, other_public = generate_key_pair()
    stack.simulator.add_account(ACCOUNT, other_public)  # the bot's key no longer matches
    stack.simulator.revoke_tokens()
    stack.simulator.add_model(MODEL)
    _, url = await stack.command(MODEL)
    text = await stack.wait_private(url)
    assert "credentials" in text
    async with stack.session.get(stack.url.replace("/slack/events", "/healthz")) as response:
        assert response.status == 503
        health = await response.json()
    assert "EINSTEIN_PRIVATE_KEY" in health["einstein"]
    assert "PRIVATE KEY-----" not in json.dumps(health)
    assert stack.cards() == []
