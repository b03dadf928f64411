"""Socket Mode end to end: the fake Slack's WebSocket delivers `/retrain` to a real bot process."""

from __future__ import annotations

from dataclasses import replace
from pathlib import Path

import aiohttp
import pytest
from slack_sdk.errors import SlackApiError
from slack_sdk.web.async_client import AsyncWebClient

from bot.fakes.einstein.simulator import EinsteinSimulator
from bot.fakes.slack import Channel, FakeSlack, slash_command_fields
from tests.conftest import ACCOUNT, CHANNEL, OAUTH_APP, USER
from tests.processes import BotProcess, bot_env
from tests.test_oauth_install import install_at

MODEL = "7JXCXTRXTMNLJCEF2DR5CJ46QU"
APP_TOKEN = "xapp-1-A0001-test"


async def test_slash_command_over_the_socket(tmp_path: Path, key_pair: tuple[str, str]) -> None:
    """The bot acks the envelope over the socket, then the job runs: card, thread, retrain."""
    simulator = EinsteinSimulator(time_scale=300.0, queue_seconds=30.0, run_seconds=150.0)
    simulator.add_account(ACCOUNT, key_pair[1])
    simulator.add_model(MODEL)
    await simulator.start()
    slack = FakeSlack(app_tokens=[APP_TOKEN])
    await slack.start()
    env = bot_env(
        slack_url=slack.api_url,
        einstein_url=simulator.base_url,
        database_url=f"sqlite:///{tmp_path / 'jobs.sqlite3'}",
        account=ACCOUNT,
        private_key=key_pair[0],
        SLACK_APP_TOKEN=APP_TOKEN,
    )
    del env["SLACK_SIGNING_SECRET"]  # Socket Mode needs none: the app token authenticates
    bot = BotProcess(env, tmp_path / "bot.log")
    try:
        async with aiohttp.ClientSession() as session:
            await bot.start(session)
            await slack.wait_for(lambda: slack.socket_mode.connected, timeout=10, what="connect")
            response_url = slack.response_url()
            fields = slash_command_fields(
                text=f"{MODEL} split=0.7",
                user_id=USER,
                channel_id=CHANNEL,
                response_url=response_url,
            )
            envelope_id = await slack.socket_mode.deliver("slash_commands", fields)
            ack = await slack.socket_mode.wait_ack(envelope_id, timeout=3.0)
            assert ack["envelope_id"] == envelope_id
            assert MODEL in str(ack.get("payload")), ack
            await slack.wait_for(
                lambda: [m for m in slack.messages(CHANNEL) if m.thread_ts and _succeeded(m.text)],
                timeout=20,
                what="the success reply in the thread",
            )
            # The card's edit goes in its own paced turn: it may follow the reply.
            await slack.wait_for(
                lambda: [
                    m for m in slack.messages(CHANNEL) if not m.thread_ts and _succeeded(m.text)
                ],
                timeout=10,
                what="the card showing the outcome",
            )
            cards = [m for m in slack.messages(CHANNEL) if m.thread_ts is None]
            assert len(cards) == 1
            retrains = simulator.calls("retrain")
            assert len(retrains) == 1
            assert retrains[0].model_id == MODEL
    finally:
        bot.close()
        await slack.stop()
        await simulator.stop()
    assert slack.calls_to("apps.connections.open"), "the bot asked for the socket's URL"


def _succeeded(text: str) -> bool:
    return "succeeded" in text.lower()


@pytest.mark.parametrize(
    ("token", "error"),
    [("xoxb-bot-token", "not_allowed_token_type"), ("xapp-unknown", "invalid_auth")],
)
async def test_connections_open_takes_the_app_token(token: str, error: str) -> None:
    """apps.connections.open refuses a bot token and an app token it does not know."""
    async with FakeSlack(app_tokens=[APP_TOKEN]) as slack:
        client = AsyncWebClient(base_url=slack.api_url)
        with pytest.raises(SlackApiError) as refused:
            await client.apps_connections_open(app_token=token)
        assert refused.value.response["error"] == error
        opened = await client.apps_connections_open(app_token=APP_TOKEN)
        assert str(opened["url"]).startswith(f"ws://{slack.root_url.removeprefix('http://')}/link/")


async def test_ticket_opens_one_connection() -> None:
    """A URL from apps.connections.open connects once; a second use is refused."""
    async with FakeSlack() as slack, aiohttp.ClientSession() as session:
        opened = await AsyncWebClient(base_url=slack.api_url).apps_connections_open(
            app_token=APP_TOKEN
        )
        async with session.ws_connect(str(opened["url"])) as socket:
            hello = await socket.receive_json()
            assert hello["type"] == "hello"
            with pytest.raises(aiohttp.WSServerHandshakeError):
                await session.ws_connect(str(opened["url"]))


async def test_installed_with_oauth_in_socket_mode(
    tmp_path: Path, key_pair: tuple[str, str]
) -> None:
    """Socket Mode and OAuth together: the install pages are served on the bot's HTTP port,
    and a command from the installed second workspace, delivered over the socket, trains and
    posts there with that workspace's token."""
    simulator = EinsteinSimulator(time_scale=300.0, queue_seconds=30.0, run_seconds=150.0)
    simulator.add_account(ACCOUNT, key_pair[1])
    simulator.add_model(MODEL)
    await simulator.start()
    slack = FakeSlack(app_tokens=[APP_TOKEN])
    slack.add_workspace(team_id="T0002", name="Second", channels=[Channel("C0201", "general")])
    await slack.start()
    env = bot_env(
        slack_url=slack.api_url,
        einstein_url=simulator.base_url,
        database_url=f"sqlite:///{tmp_path / 'jobs.sqlite3'}",
        account=ACCOUNT,
        private_key=key_pair[0],
        SLACK_APP_TOKEN=APP_TOKEN,
        SLACK_CLIENT_ID=OAUTH_APP.client_id,
        SLACK_CLIENT_SECRET=OAUTH_APP.client_secret,
        SLACK_STATE_SECRET="test-state-secret-0123456789",
    )
    del env["SLACK_SIGNING_SECRET"], env["SLACK_BOT_TOKEN"]
    bot = BotProcess(env, tmp_path / "bot.log")
    try:
        async with aiohttp.ClientSession() as session:
            await bot.start(session)
            root = f"http://127.0.0.1:{bot.port}"
            slack.set_oauth(replace(OAUTH_APP, redirect_uri=f"{root}/slack/oauth_redirect"))
            await install_at(session, root, team="T0002")
            await slack.wait_for(lambda: slack.socket_mode.connected, timeout=10, what="connect")
            fields = slash_command_fields(
                text=MODEL,
                user_id=USER,
                channel_id="C0201",
                team_id="T0002",
                response_url=slack.response_url(team_id="T0002"),
            )
            envelope_id = await slack.socket_mode.deliver("slash_commands", fields)
            ack = await slack.socket_mode.wait_ack(envelope_id, timeout=3.0)
            assert MODEL in str(ack.get("payload")), ack
            await slack.wait_for(
                lambda: [m for m in slack.messages("C0201") if m.thread_ts and _succeeded(m.text)],
                timeout=20,
                what="the success reply in the second workspace",
            )
            posts = [c.team for c in slack.calls_to("chat.postMessage")]
            assert set(posts) == {"T0002"}
    finally:
        bot.close()
        await slack.stop()
        await simulator.stop()
