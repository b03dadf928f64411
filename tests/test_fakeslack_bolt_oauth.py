"""A Bolt app installed in two of the fake's workspaces through its own install and redirect
endpoints, answering a command in each, then uninstalled from one."""

from __future__ import annotations

from collections.abc import AsyncIterator
from dataclasses import dataclass
from pathlib import Path

import aiohttp
import pytest
from aiohttp import web
from slack_bolt.async_app import AsyncAck, AsyncApp, AsyncSay
from slack_bolt.oauth.async_oauth_settings import AsyncOAuthSettings
from slack_sdk.oauth.installation_store import FileInstallationStore
from slack_sdk.oauth.state_store import FileOAuthStateStore
from slack_sdk.web.async_client import AsyncWebClient

from bot.fakes.slack import Channel, FakeSlack, OAuthApp, send_slash_command

CLIENT_ID = "1111.2222"
CLIENT_SECRET = "client-s3cret"
SIGNING_SECRET = "bolt-s3cret"


@dataclass
class Served:
    fake: FakeSlack
    store: FileInstallationStore
    url: str
    session: aiohttp.ClientSession


@pytest.fixture
async def served(tmp_path: Path) -> AsyncIterator[Served]:
    """The fake with two workspaces, and a Bolt app whose OAuth points at it."""
    async with FakeSlack() as fake:
        fake.add_workspace(
            team_id="T0002", name="Second", channels=[Channel(id="C0201", name="general")]
        )
        store = FileInstallationStore(base_dir=str(tmp_path / "installations"))
        settings = AsyncOAuthSettings(
            client_id=CLIENT_ID,
            client_secret=CLIENT_SECRET,
            scopes=["commands", "chat:write"],
            installation_store=store,
            state_store=FileOAuthStateStore(expiration_seconds=600, base_dir=str(tmp_path)),
            authorization_url=fake.authorize_url(user="U0ADMIN"),
            install_page_rendering_enabled=False,
        )
        app = AsyncApp(
            signing_secret=SIGNING_SECRET,
            oauth_settings=settings,
            client=AsyncWebClient(base_url=fake.api_url),
        )
        app.enable_token_revocation_listeners()

        @app.command("/retrain")
        async def retrain(ack: AsyncAck, say: AsyncSay) -> None:
            await ack()
            await say("retraining")

        runner = web.AppRunner(app.web_app(path="/slack/events"), access_log=None)
        await runner.setup()
        await web.TCPSite(runner, "127.0.0.1", 0).start()
        url = "http://{}:{}".format(*runner.addresses[0][:2])
        fake.set_oauth(
            OAuthApp(
                client_id=CLIENT_ID,
                client_secret=CLIENT_SECRET,
                redirect_uri=f"{url}/slack/oauth_redirect",
            )
        )
        fake.set_events_url(f"{url}/slack/events", signing_secret=SIGNING_SECRET)
        # Bolt's state cookie is Secure; the app is served over loopback HTTP.
        jar = aiohttp.CookieJar(unsafe=True, treat_as_secure_origin=[url])
        async with aiohttp.ClientSession(cookie_jar=jar) as session:
            yield Served(fake, store, url, session)
        await runner.cleanup()


async def install(served: Served, team_id: str) -> None:
    """Visit the app's install page, click Allow, land on its redirect page."""
    async with served.session.get(f"{served.url}/slack/install?team={team_id}") as landed:
        assert landed.status == 200, await landed.text()
        assert str(landed.url).startswith(f"{served.url}/slack/oauth_redirect")


async def command(served: Served, *, team_id: str, channel_id: str) -> None:
    answer = await send_slash_command(
        served.session,
        f"{served.url}/slack/events",
        signing_secret=SIGNING_SECRET,
        text="m1",
        user_id="U0ADMIN",
        channel_id=channel_id,
        response_url=served.fake.response_url(team_id=team_id),
        team_id=team_id,
    )
    assert answer.status == 200, answer.body


async def test_bolt_installs_in_two_workspaces_and_answers_in_each(served: Served) -> None:
    """Each workspace's command is answered with that workspace's installed bot."""
    await install(served, "T0001")
    await install(served, "T0002")
    assert [(i.team_id, i.user_id) for i in served.fake.installs] == [
        ("T0001", "U0ADMIN"),
        ("T0002", "U0ADMIN"),
    ]
    second = await served.store.async_find_installation(enterprise_id=None, team_id="T0002")
    assert second is not None
    assert second.bot_token == served.fake.installs[1].bot_token
    assert second.bot_id == served.fake.team("T0002").bot.bot_id
    await command(served, team_id="T0002", channel_id="C0201")
    await command(served, team_id="T0001", channel_id="C0001")
    [there] = await served.fake.wait_for(lambda: served.fake.messages("C0201"))
    [here] = await served.fake.wait_for(lambda: served.fake.messages("C0001"))
    assert (there.text, there.user) == ("retraining", "U0002BOT")
    assert (here.text, here.user) == ("retraining", served.fake.identity.user_id)


async def test_an_uninstall_reaches_bolt_which_forgets_the_workspace(served: Served) -> None:
    """Bolt's own revocation listeners delete the uninstalled workspace's installation."""
    await install(served, "T0001")
    await install(served, "T0002")
    answers = await served.fake.uninstall(team_id="T0002")
    assert [answer.status for answer in answers] == [200, 200]
    find = served.store.async_find_installation
    assert await find(enterprise_id=None, team_id="T0002") is None
    assert await find(enterprise_id=None, team_id="T0001") is not None
