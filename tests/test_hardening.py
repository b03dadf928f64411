"""Hostile input: path tricks in model IDs and options, forged or replayed requests."""

from __future__ import annotations

import time

import pytest

from bot.core.options import RetrainOptions
from bot.einstein.auth import StaticTokenSource
from bot.einstein.client import EinsteinClient
from bot.errors import EinsteinRejected
from bot.fakes.slack import sign_slack_request, slash_command_body
from tests.conftest import CHANNEL, SIGNING_SECRET, USER, Stack

MODEL = "7JXCXTRXTMNLJCEF2DR5CJ46QU"

ATTACKS = [
    "../../v2/oauth2/token",
    "..%2F..%2Fv2%2Flanguage%2Fdatasets",
    "ABC/../DEF",
    "ABC%00DEF",
    "ABC\x00DEF",
    "ABC\u202eDEF",
    "ABC?x=1",
    "ABC#frag",
    "A" * 65,
    "<@U123>",
    "ABC split=0.7 split=0.8",
    f"{MODEL} epochs=1;DROP",
    f"{MODEL} algorithm=intent&modelId=OTHER",
    f"{MODEL} global=../1",
    f"{MODEL} split=0.7\ntrainParams={{}}",
    "x" * 5000,
]


@pytest.mark.parametrize("text", ATTACKS, ids=range(len(ATTACKS)))
async def test_injection_is_refused_before_any_call(stack: Stack, text: str) -> None:
    """Each is refused privately with a specific message; nothing reaches Einstein."""
    answer, _ = await stack.command(text)
    assert answer.status == 200
    assert answer.body.startswith(":warning:"), answer.body
    assert "Traceback" not in answer.body
    assert stack.simulator.requests == []
    assert stack.cards() == []


@pytest.mark.parametrize("model_id", ["../x", "a/b", "", "ä" * 3, "A" * 65, "A B"])
async def test_client_refuses_unsafe_model_ids(model_id: str) -> None:
    """The client checks again, so no caller can put a path into a URL or form part."""
    client = EinsteinClient(
        base_url="http://127.0.0.1:9/", tokens=StaticTokenSource("t"), session=None
    )  # type: ignore[arg-type]  # never reached
    for call in (
        client.training_status(model_id),
        client.metrics(model_id),
        client.retrain(model_id, RetrainOptions()),
    ):
        with pytest.raises(EinsteinRejected, match="letters and digits"):
            await call


def _headers(body: bytes, *, secret: str = SIGNING_SECRET, at: int | None = None) -> dict[str, str]:
    headers = sign_slack_request(signing_secret=secret, body=body, timestamp=at or int(time.time()))
    return {**headers, "Content-Type": "application/x-www-form-urlencoded"}


@pytest.mark.parametrize(
    "case",
    [
        "wrong secret",
        "tampered body",
        "replayed (6 min old)",
        "from the future",
        "no signature",
        "no timestamp",
        "garbage signature",
    ],
)
async def test_forged_or_replayed_requests_get_401(stack: Stack, case: str) -> None:
    """Bolt's signature check refuses forgeries and replays outside the 5-minute window."""
    body = slash_command_body(
        text=MODEL, user_id=USER, channel_id=CHANNEL, response_url=stack.slack.response_url()
    )
    headers = _headers(body)
    if case == "wrong secret":
        headers = _headers(body, secret="not-the-secret")
    elif case == "tampered body":
        body = body.replace(b"U0REQUEST1", b"U0ATTACKER")
    elif case == "replayed (6 min old)":
        headers = _headers(body, at=int(time.time()) - 360)
    elif case == "from the future":
        headers = _headers(body, at=int(time.time()) + 360)
    elif case == "no signature":
        del headers["X-Slack-Signature"]
    elif case == "no timestamp":
        del headers["X-Slack-Request-Timestamp"]
    else:
        headers["X-Slack-Signature"] = "v0=deadbeef"
    async with stack.session.post(stack.url, data=body, headers=headers) as response:
        assert response.status == 401
    assert stack.simulator.requests == []


async def test_signed_request_inside_the_window_passes(stack: Stack) -> None:
    """A request signed four minutes ago is still accepted (Slack's window is five)."""
    stack.simulator.add_model(MODEL)
    body = slash_command_body(
        text=MODEL, user_id=USER, channel_id=CHANNEL, response_url=stack.slack.response_url()
    )
    async with stack.session.post(
        stack.url, data=body, headers=_headers(body, at=int(time.time()) - 240)
    ) as response:
        assert response.status == 200
    await stack.wait_final()
