"""The fake Slack's workspaces, OAuth v2 install flow, token rotation and uninstall, over HTTP."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass, field
from typing import Any
from urllib.parse import parse_qsl

import aiohttp
import pytest
from aiohttp import web
from slack_sdk.signature import SignatureVerifier

from bot.fakes.slack import send_event, slash_command_body

SIGNING_SECRET = "events-s3cret"


@dataclass
class Receiver:
    """A small app at an Events Request URL: checks Slack's signature, keeps what it got."""

    url: str
    bodies: list[dict[str, Any]] = field(default_factory=list)
    refused: int = 0

    def events(self) -> list[str]:
        return [body["event"]["type"] for body in self.bodies]


@pytest.fixture
async def receiver() -> AsyncIterator[Receiver]:
    verifier = SignatureVerifier(SIGNING_SECRET)
    got = Receiver(url="")

    async def endpoint(request: web.Request) -> web.Response:
        raw = await request.read()
        if not verifier.is_valid_request(raw, dict(request.headers)):
            got.refused += 1
            return web.Response(status=401)
        got.bodies.append(await request.json())
        return web.Response(status=200)

    app = web.Application()
    app.router.add_post("/slack/events", endpoint)
    runner = web.AppRunner(app, access_log=None)
    await runner.setup()
    await web.TCPSite(runner, "127.0.0.1", 0).start()
    host, port = runner.addresses[0][:2]
    got.url = f"http://{host}:{port}/slack/events"
    try:
        yield got
    finally:
        await runner.cleanup()


# --- requests to the bot --------------------------------------------------------------------


def test_slash_command_of_an_org_workspace_names_the_org() -> None:
    """A command from an Enterprise org's workspace carries the org, in Slack's field order."""
    body = slash_command_body(
        text="status",
        user_id="W1",
        channel_id="C0201",
        response_url="http://x/r",
        team_id="T0201",
        team_domain="acme-sales",
        enterprise_id="E0200",
        enterprise_name="Acme",
    )
    fields = parse_qsl(body.decode(), keep_blank_values=True)
    names = [name for name, _ in fields]
    assert names[:5] == ["token", "team_id", "team_domain", "enterprise_id", "enterprise_name"]
    assert names[-1] == "is_enterprise_install"
    values = dict(fields)
    assert (values["team_id"], values["team_domain"]) == ("T0201", "acme-sales")
    assert (values["enterprise_id"], values["enterprise_name"]) == ("E0200", "Acme")
    assert values["is_enterprise_install"] == "false"


def test_slash_command_outside_an_org_keeps_its_fields() -> None:
    """Without an org the body has exactly the fields it always had."""
    body = slash_command_body(text="", user_id="U1", channel_id="C1", response_url="http://x/r")
    names = [name for name, _ in parse_qsl(body.decode(), keep_blank_values=True)]
    assert "enterprise_id" not in names
    assert "is_enterprise_install" not in names


async def test_send_event_posts_a_signed_event_callback(receiver: Receiver) -> None:
    """An event arrives as signed JSON in its envelope, with the installation it is for."""
    async with aiohttp.ClientSession() as session:
        sent = await send_event(
            session,
            receiver.url,
            signing_secret=SIGNING_SECRET,
            team_id="T0201",
            enterprise_id="E0200",
            event={"type": "app_home_opened", "user": "W1"},
        )
    assert sent.status == 200
    [body] = receiver.bodies
    assert body["type"] == "event_callback"
    assert (body["team_id"], body["enterprise_id"]) == ("T0201", "E0200")
    assert body["event"] == {"type": "app_home_opened", "user": "W1"}
    assert body["event_id"].startswith("Ev")
    assert isinstance(body["event_time"], int)
    assert body["is_ext_shared_channel"] is False
    [authorization] = body["authorizations"]
    assert authorization["team_id"] == "T0201"
    assert authorization["is_enterprise_install"] is False


async def test_send_event_with_a_wrong_secret_is_refused(receiver: Receiver) -> None:
    """The receiver's signature check is real: another secret does not pass it."""
    async with aiohttp.ClientSession() as session:
        sent = await send_event(
            session,
            receiver.url,
            signing_secret="not-the-secret",
            team_id="T0001",
            event={"type": "app_uninstalled"},
        )
    assert (sent.status, receiver.refused) == (401, 1)
