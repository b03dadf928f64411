"""The doctor's Slack checks: the bot token (`auth.test`), its scopes, and the mode's secret.

Slack sends the scopes a token was granted in the `x-oauth-scopes` header of every Web API
answer; they are compared with the bot scopes `manifest.yml` asks for.

Installed with OAuth there is no one token to check: the app's credentials are, by asking
`oauth.v2.access` to exchange a code that does not exist. Slack answers `invalid_code` only
once it has accepted the client ID and secret (`bad_client_secret`, `invalid_client_id`
otherwise), and nothing is installed. Each install is asked for the manifest's scopes.
"""

from __future__ import annotations

from pathlib import Path
from typing import Any

import aiohttp
import yaml  # type: ignore[import-untyped,unused-ignore]  # types-PyYAML is not a dependency yet
from pydantic import SecretStr

from bot.doctor import Check
from bot.settings import Settings
from bot.slack.installs import BOT_SCOPES

__all__ = ["MANIFEST", "check_slack", "manifest_scopes"]

MANIFEST = Path(__file__).resolve().parents[2] / "manifest.yml"
_TIMEOUT = aiohttp.ClientTimeout(total=10)
_REINSTALL_ADVICE = (
    "copy the Bot User OAuth Token (xoxb-...) from the app's OAuth & Permissions page into "
    "SLACK_BOT_TOKEN (reinstall the app if it was revoked)"
)


def manifest_scopes(path: Path = MANIFEST) -> frozenset[str]:
    """The bot scopes `manifest.yml` asks for."""
    document = yaml.safe_load(path.read_text(encoding="utf-8"))
    return frozenset(document["oauth_config"]["scopes"]["bot"])


async def check_slack(settings: Settings) -> list[Check]:
    """`slack token`, `slack scopes` and `slack mode`."""
    if settings.oauth:
        mode = _check_mode(settings)
        if mode.ok and settings.slack_app_token is not None:
            mode = await _open_connection(settings.slack_api_url, settings.slack_app_token)
        return [await _check_credentials(settings), _scopes_per_install(), mode]
    token = settings.slack_bot_token.get_secret_value().strip() if settings.slack_bot_token else ""
    mode = _check_mode(settings)
    if mode.ok and settings.slack_app_token is not None:
        mode = await _open_connection(settings.slack_api_url, settings.slack_app_token)
    if not token.startswith("xoxb-"):
        said = "SLACK_BOT_TOKEN is not set" if not token else "SLACK_BOT_TOKEN is not a bot token"
        skipped = Check.failed("slack scopes", "not checked", "fix the bot token first")
        return [Check.failed("slack token", said, _REINSTALL_ADVICE), skipped, mode]
    answer = await _auth_test(settings.slack_api_url, token)
    if isinstance(answer, Check):
        skipped = Check.failed("slack scopes", "not checked", "fix the bot token first")
        return [answer, skipped, mode]
    body, granted = answer
    bot, team = body.get("user") or body.get("user_id"), body.get("team") or body.get("team_id")
    who = f"bot {bot} in {team}"
    return [Check.passed("slack token", f"auth.test accepts it ({who})"), _scopes(granted), mode]


async def _auth_test(api_url: str, token: str) -> Check | tuple[dict[str, object], str | None]:
    url = f"{api_url}auth.test"
    try:
        async with (
            aiohttp.ClientSession(timeout=_TIMEOUT) as session,
            session.post(url, headers={"Authorization": f"Bearer {token}"}) as response,
        ):
            status = response.status
            scopes = response.headers.get("x-oauth-scopes")
            body = await response.json(content_type=None) if status == 200 else None
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        return Check.failed(
            "slack token",
            f"no answer from {url} ({exc.__class__.__name__})",
            "check SLACK_API_URL and this machine's network",
        )
    if not isinstance(body, dict):
        return Check.failed(
            "slack token",
            f"auth.test answered HTTP {status}",
            "try again in a minute; check SLACK_API_URL",
        )
    if body.get("ok") is not True:
        error = str(body.get("error") or "unknown error")
        return Check.failed(
            "slack token", f"Slack refuses SLACK_BOT_TOKEN ({error})", _REINSTALL_ADVICE
        )
    return body, scopes


async def _check_credentials(settings: Settings) -> Check:
    """OAuth: Slack accepts SLACK_CLIENT_ID and SLACK_CLIENT_SECRET (see the module's doc)."""
    url = f"{settings.slack_api_url}oauth.v2.access"
    secret = settings.slack_client_secret
    form = {
        "client_id": (settings.slack_client_id or "").strip(),
        "client_secret": secret.get_secret_value().strip() if secret else "",
        "code": "retrain-bot-doctor-check",
    }
    body = await _ask_slack("slack token", url, data=form)
    if isinstance(body, Check):
        return body
    error = str(body.get("error") or "") if body else "no answer"
    if error == "invalid_code":
        return Check.passed(
            "slack token", "installable with OAuth: Slack accepts the client ID and secret"
        )
    return Check.failed(
        "slack token",
        f"Slack refuses SLACK_CLIENT_ID or SLACK_CLIENT_SECRET ({error or 'unknown error'})",
        "copy the Client ID and Client Secret from the app's Basic Information page",
    )


def _wanted_scopes() -> frozenset[str] | Check:
    """The manifest's bot scopes, or the failed check when it cannot be read."""
    try:
        return manifest_scopes()
    except (OSError, yaml.YAMLError, KeyError, TypeError) as exc:
        return Check.failed(
            "slack scopes",
            f"cannot read the scopes of {MANIFEST} ({exc.__class__.__name__})",
            "run the doctor from the repository's checkout, where manifest.yml is",
        )


def _scopes_per_install() -> Check:
    wanted = _wanted_scopes()
    if isinstance(wanted, Check):
        return wanted
    if wanted != set(BOT_SCOPES):
        return Check.failed(
            "slack scopes",
            "manifest.yml and the scopes an install asks for differ",
            "this checkout is inconsistent; reinstall the bot from a release",
        )
    return Check.passed("slack scopes", f"each install is asked for all {len(wanted)} scopes")


def _scopes(granted: str | None) -> Check:
    if granted is None:
        return Check.failed(
            "slack scopes",
            "Slack did not say which scopes the token has (no x-oauth-scopes header)",
            "compare the app's OAuth & Permissions page with manifest.yml by hand",
        )
    wanted = _wanted_scopes()
    if isinstance(wanted, Check):
        return wanted
    missing = sorted(wanted - {s.strip() for s in granted.split(",") if s.strip()})
    if missing:
        return Check.failed(
            "slack scopes",
            f"the token lacks {', '.join(missing)}",
            "add them under OAuth & Permissions (or paste manifest.yml into the app's "
            "manifest) and reinstall the app",
        )
    return Check.passed("slack scopes", f"all {len(wanted)} scopes manifest.yml asks for")


async def _ask_slack(name: str, url: str, **request: Any) -> dict[str, Any] | Check:
    """Slack's JSON answer to one POST (empty when it was not JSON or not HTTP 200), or the
    failed check `name` when no answer came."""
    try:
        async with (
            aiohttp.ClientSession(timeout=_TIMEOUT) as session,
            session.post(url, **request) as response,
        ):
            body = await response.json(content_type=None) if response.status == 200 else None
    except (aiohttp.ClientError, TimeoutError, ValueError) as exc:
        return Check.failed(
            name,
            f"no answer from {url} ({exc.__class__.__name__})",
            "check SLACK_API_URL and this machine's network",
        )
    return body if isinstance(body, dict) else {}


async def _open_connection(api_url: str, app_token: SecretStr) -> Check:
    """Socket Mode: Slack hands out a WebSocket URL for the app token (nothing connects)."""
    url = f"{api_url}apps.connections.open"
    headers = {"Authorization": f"Bearer {app_token.get_secret_value().strip()}"}
    body = await _ask_slack("slack mode", url, headers=headers)
    if isinstance(body, Check):
        return body
    if body.get("ok") is True:
        return Check.passed(
            "slack mode", "Socket Mode: apps.connections.open accepts SLACK_APP_TOKEN"
        )
    error = str(body.get("error") or "unknown error") if body else "no answer"
    return Check.failed(
        "slack mode",
        f"Slack refuses SLACK_APP_TOKEN ({error})",
        "create an app-level token with connections:write under Basic Information and "
        "copy it into SLACK_APP_TOKEN; turn Socket Mode on in the app's settings",
    )


def _check_mode(settings: Settings) -> Check:
    if settings.slack_app_token is not None:
        if not settings.slack_app_token.get_secret_value().strip().startswith("xapp-"):
            return Check.failed(
                "slack mode",
                "SLACK_APP_TOKEN is not an app-level token (xapp-...)",
                "create an app-level token with connections:write under Basic Information, "
                "or unset SLACK_APP_TOKEN to serve HTTP",
            )
        return Check.passed("slack mode", "Socket Mode: SLACK_APP_TOKEN is set")
    if settings.slack_signing_secret is None:
        return Check.failed(
            "slack mode",
            "HTTP mode without SLACK_SIGNING_SECRET",
            "copy the Signing Secret from the app's Basic Information page into "
            "SLACK_SIGNING_SECRET (or set SLACK_APP_TOKEN for Socket Mode)",
        )
    return Check.passed("slack mode", "HTTP mode: SLACK_SIGNING_SECRET is set")
