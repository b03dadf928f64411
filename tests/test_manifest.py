"""The Slack app manifest and Procfile: valid, and every command in them is handled."""

from __future__ import annotations

import json
import time
from pathlib import Path

import jsonschema
import yaml
from slack_bolt.request.async_request import AsyncBoltRequest

from bot.app import create_bot
from bot.fakes.slack import sign_slack_request, slash_command_body
from bot.settings import Settings
from bot.slack.installs import BOT_SCOPES, REDIRECT_PATH

ROOT = Path(__file__).resolve().parents[1]
SCHEMA = ROOT / "tests" / "spec" / "slack-manifest.schema.1.0.0.json"


def _manifest() -> dict[str, object]:
    return yaml.safe_load((ROOT / "manifest.yml").read_text(encoding="utf-8"))


def test_manifest_is_valid() -> None:
    """manifest.yml validates against Slack's published manifest schema."""
    schema = json.loads(SCHEMA.read_text(encoding="utf-8"))
    jsonschema.validate(_manifest(), schema)


def test_manifest_asks_for_the_scopes_of_private_channels() -> None:
    """The bot may ask who is in a private channel, and whether a channel is private."""
    scopes = _manifest()["oauth_config"]["scopes"]["bot"]  # type: ignore[index]
    assert {"groups:read", "channels:read"} <= set(scopes)


def test_manifest_lets_the_bot_write_to_peoples_dms() -> None:
    """im:write opens the requester's DM; the App Home messages tab shows it, read-only."""
    manifest = _manifest()
    scopes = manifest["oauth_config"]["scopes"]["bot"]  # type: ignore[index]
    home = manifest["features"]["app_home"]  # type: ignore[index]
    assert {"im:write", "im:history"} <= set(scopes)
    assert home["messages_tab_enabled"] is True
    assert home["messages_tab_read_only_enabled"] is True


async def test_every_manifest_command_has_a_handler(sqlite_url: str) -> None:
    """Each slash command the manifest declares is answered by a listener (not Bolt's 404)."""
    settings = Settings(
        slack_bot_token="xoxb-x",
        slack_signing_secret="secret",
        einstein_access_token="t",
        database_url=sqlite_url,
        _env_file=None,
    )
    bot = create_bot(settings)
    features = _manifest()["features"]
    assert isinstance(features, dict)
    try:
        for command in features["slash_commands"]:
            body = slash_command_body(
                command=command["command"],
                text="help",
                user_id="U1",
                channel_id="C1",
                response_url="http://127.0.0.1:9/r",
            )
            headers = sign_slack_request(
                signing_secret="secret", body=body, timestamp=int(time.time())
            )
            request = AsyncBoltRequest(
                body=body.decode(),
                headers={k.lower(): [v] for k, v in headers.items()}
                | {"content-type": ["application/x-www-form-urlencoded"]},
            )
            response = await bot.bolt.async_dispatch(request)
            assert response.status == 200, command["command"]
    finally:
        await bot.session.close()


def test_manifest_asks_for_what_the_bot_uses() -> None:
    """The bot scopes cover commands and posting; interactivity is enabled."""
    manifest = _manifest()
    scopes = set(manifest["oauth_config"]["scopes"]["bot"])  # type: ignore[index]
    assert {"commands", "chat:write", "chat:write.public"} <= scopes
    assert manifest["settings"]["interactivity"]["is_enabled"] is True  # type: ignore[index]


def test_procfile_serves_on_port_and_migrates_on_release() -> None:
    """Heroku's web process runs the bot, which binds $PORT; the release phase migrates."""
    assert (ROOT / "Procfile").read_text(encoding="utf-8").splitlines() == [
        "web: python -m bot",
        "release: python -m bot migrate",
    ]


def test_an_install_asks_for_the_manifests_scopes() -> None:
    """Installed with OAuth, the bot asks for exactly the bot scopes the manifest declares."""
    assert set(BOT_SCOPES) == set(_manifest()["oauth_config"]["scopes"]["bot"])  # type: ignore[index]
    assert len(BOT_SCOPES) == len(set(BOT_SCOPES))


def test_the_manifest_sends_uninstalls_and_the_redirect() -> None:
    manifest = _manifest()
    events = set(manifest["settings"]["event_subscriptions"]["bot_events"])  # type: ignore[index]
    assert {"app_uninstalled", "tokens_revoked"} <= events
    redirects = manifest["oauth_config"]["redirect_urls"]  # type: ignore[index]
    assert [url.endswith(REDIRECT_PATH) for url in redirects] == [True]
