"""The word `payload` in a slash command's form fields: the command works like any other.

Bolt reads a form body holding the text "payload" anywhere as a button click; the bot reads
form bodies by their fields (`bot/slack/inbound.py`). Every request here is signed like Slack's.
"""

from __future__ import annotations

import time
from urllib.parse import urlencode

import pytest
from slack_bolt.adapter.socket_mode.async_internals import run_async_bolt_app
from slack_sdk.socket_mode.request import SocketModeRequest

from bot.fakes.slack import sign_slack_request, slash_command_body
from bot.slack.inbound import SlackRequest, read_form
from tests.conftest import CHANNEL, USER, Stack

MODEL = "7JXCXTRXTMNLJCEF2DR5CJ46QU"

# Each form field of a slash command that people or admins name, holding the word.
WITH_THE_WORD = [
    pytest.param({"channel_name": "payload-models"}, id="channel name"),
    pytest.param({"user_name": "payload.admin"}, id="user name"),
    pytest.param({"team_domain": "payload-inc"}, id="team domain"),
]


@pytest.mark.parametrize("fields", WITH_THE_WORD)
async def test_command_with_the_word_payload_starts_the_retrain(
    stack: Stack, fields: dict[str, str]
) -> None:
    """A /retrain whose fields hold `payload` is answered 200 and starts the retrain."""
    stack.simulator.add_model(MODEL)
    answer, _ = await stack.command(MODEL, team_id="T0PAYLOAD", **fields)
    assert answer.status == 200, answer.body
    assert "Submitting the retrain" in answer.body
    [job] = await stack.wait_final()
    assert (job.model_id, job.requester, job.channel, job.team_id) == (
        MODEL,
        USER,
        CHANNEL,
        "T0PAYLOAD",
    )


async def test_the_word_payload_in_the_command_text_is_read_as_typed(stack: Stack) -> None:
    """`/retrain help payload` gets its own answer, not Slack's dispatch_failed."""
    answer, _ = await stack.command("help payload", channel_name="payload-models")
    assert answer.status == 200, answer.body
    assert "There is no help on `payload`." in answer.body


async def test_command_in_a_payload_channel_with_a_bad_signature_is_refused(stack: Stack) -> None:
    """The raw body is still what is verified: a wrong signature gets 401 and starts nothing."""
    body = slash_command_body(
        text=MODEL,
        user_id=USER,
        channel_id=CHANNEL,
        channel_name="payload-models",
        response_url=stack.slack.response_url(),
    )
    headers = sign_slack_request(
        signing_secret="not-the-secret", body=body, timestamp=int(time.time())
    )
    headers["Content-Type"] = "application/x-www-form-urlencoded"
    async with stack.session.post(stack.url, data=body, headers=headers) as response:
        assert response.status == 401
    assert stack.simulator.calls("retrain") == []


def test_context_is_built_from_the_command_fields() -> None:
    """Bolt's context (user, channel, team) comes from the fields, whatever the channel's name."""
    body = slash_command_body(
        text="list",
        user_id=USER,
        channel_id=CHANNEL,
        team_id="T0PAYLOAD",
        channel_name="payload-models",
        response_url="https://hooks.slack.test/commands/1",
    ).decode()
    request = SlackRequest(body=body, headers={"content-type": "application/x-www-form-urlencoded"})
    assert request.raw_body == body
    assert request.body["channel_name"] == "payload-models"
    context = request.context
    assert (context.user_id, context.channel_id, context.team_id) == (USER, CHANNEL, "T0PAYLOAD")


@pytest.mark.parametrize(
    ("body", "read"),
    [
        (
            urlencode({"payload": '{"type":"block_actions","x":"payload"}'}),
            {"type": "block_actions", "x": "payload"},
        ),
        (urlencode({"payload": "not json"}), {}),
        (urlencode({"payload": "[1]"}), {}),
        (urlencode({"text": "payload", "payloads": "x"}), {"text": "payload", "payloads": "x"}),
    ],
)
def test_a_form_is_a_payload_only_with_a_payload_field(body: str, read: dict[str, str]) -> None:
    """Only a `payload` field makes an interactivity payload; anything unreadable is empty."""
    assert read_form(body) == read


async def test_socket_mode_reads_the_payload_word_unharmed(stack: Stack) -> None:
    """In Socket Mode the command arrives parsed, so a #payload-… channel never hit the bug."""
    stack.simulator.add_model(MODEL)
    fields = {
        "command": "/retrain",
        "text": MODEL,
        "user_id": USER,
        "user_name": "payload.admin",
        "channel_id": CHANNEL,
        "channel_name": "payload-models",
        "team_id": "T0001",
        "team_domain": "payload-inc",
        "response_url": stack.slack.response_url(),
        "trigger_id": "1700000000.4242.abc",
    }
    request = SocketModeRequest(type="slash_commands", envelope_id="e1", payload=fields)
    response = await run_async_bolt_app(stack.bot.bolt, request)
    assert response.status == 200
    assert "Submitting the retrain" in response.body
    [job] = await stack.wait_final()
    assert job.channel == CHANNEL
