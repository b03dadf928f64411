"""Credentials from settings: Einstein's access tokens, and Slack's tokens per workspace."""

from __future__ import annotations

from typing import Any

import aiohttp
from pydantic import SecretStr
from slack_sdk.oauth.token_rotation.async_rotator import AsyncTokenRotator
from slack_sdk.web.async_client import AsyncWebClient

from bot.einstein.auth import JwtTokenSource, StaticTokenSource, TokenSource
from bot.settings import Settings
from bot.slack.installs import Installations
from bot.slack.tokens import InstalledTokens, OneToken, Tokens
from bot.store.jobs import SqlJobStore

__all__ = ["installed_tokens", "secret", "token_source"]


def token_source(settings: Settings, session: aiohttp.ClientSession, **options: Any) -> TokenSource:
    """Einstein's access tokens as the settings give them: the ready token, or minted with the
    account and key (`options` go to `JwtTokenSource`: metrics, timeout, retry)."""
    if settings.einstein_access_token is not None:
        return StaticTokenSource(settings.einstein_access_token.get_secret_value().strip())
    pem = settings.private_key_pem()
    # require_serving() / require_einstein() have checked both.
    assert pem is not None
    assert settings.einstein_account_id is not None
    return JwtTokenSource(
        base_url=settings.einstein_api_url,
        account_id=settings.einstein_account_id.strip(),
        private_key_pem=pem,
        session=session,
        **options,
    )


def installed_tokens(
    settings: Settings, store: SqlJobStore, session: aiohttp.ClientSession
) -> tuple[Installations | None, Tokens]:
    """Installed with OAuth: the installation store and each workspace's tokens from it."""
    if not settings.oauth:
        return None, OneToken()
    assert settings.slack_client_id is not None
    assert settings.slack_client_secret is not None
    installations = Installations(
        client_id=settings.slack_client_id.strip(), engine=lambda: store.engine
    )
    rotator = AsyncTokenRotator(
        client_id=settings.slack_client_id.strip(),
        client_secret=settings.slack_client_secret.get_secret_value().strip(),
        client=AsyncWebClient(base_url=settings.slack_api_url, session=session),
    )
    return installations, InstalledTokens(installations=installations, rotator=rotator)


def secret(value: SecretStr | None) -> str | None:
    return value.get_secret_value().strip() if value is not None else None
