"""Whose token is it: the tokens the fake has handed out, and what Slack answers for the others.

A token belongs to an installation, named by its key ``(enterprise_id, team_id)``: a
workspace's (``team_id`` set; ``enterprise_id`` too when the workspace is in an Enterprise org)
or an org's (``team_id`` ``None``: an org-wide install, whose tokens work in every workspace of
the org). Tokens come from the OAuth flow (``oauth``), from ``FakeSlack(tokens=...)`` or
``add_workspace(tokens=...)``, or through the door the fake always had: while its first
workspace is installed and no ``tokens`` were given, any ``xoxb-`` token is that workspace's
bot's, registered on first use.

Token shapes are Slack's: ``xoxb-`` (bot) and ``xoxp-`` (user), or with token rotation
``xoxe.xoxb-1-`` / ``xoxe.xoxp-1-`` access tokens and ``xoxe-1-`` refresh tokens.

Decisions where Slack's behaviour is unconfirmed:

- An uninstalled app's bot token answers ``account_inactive`` (Slack's code for "a bot token
  of a deleted user or workspace", which apps report after removal: slackapi/bolt-python#1029,
  slackapi/node-slack-sdk#367); its user tokens answer ``token_revoked``.
- An expired rotating token answers ``token_expired``.
- A refresh token works once ("the refresh token is then revoked", Slack's token rotation
  guide); its second use answers ``invalid_refresh_token``, with no grace period. The access
  token it replaced keeps working until its own expiry. An uninstall ends refresh tokens too.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Callable, Collection, Iterable
from dataclasses import dataclass
from typing import Literal

from bot.fakes.slack.checks import ApiFailure

__all__ = ["Grant", "InstallKey", "TokenKind", "Tokens"]

InstallKey = tuple[str | None, str | None]  # (enterprise_id, team_id); team None: org-wide
TokenKind = Literal["bot", "user"]


@dataclass(frozen=True)
class Grant:
    """What a token may do: act as the bot or a person, for one installation, until when.

    ``scopes`` is ``None`` for a token handed out without OAuth: it has whatever scopes the
    workspace's bot has. ``expires_at`` is on the fake's clock (``None``: never).
    """

    token: str
    kind: TokenKind
    key: InstallKey
    user_id: str | None = None
    scopes: tuple[str, ...] | None = None
    expires_at: float | None = None

    @property
    def enterprise_id(self) -> str | None:
        """The org of the installation, if any."""
        return self.key[0]

    @property
    def team_id(self) -> str | None:
        """The workspace of the installation; ``None`` for an org-wide one."""
        return self.key[1]

    @property
    def is_org(self) -> bool:
        """Whether the token came from an org-wide install."""
        return self.key[1] is None


class Tokens:
    """Every token issued, the refresh tokens not yet used and the installations standing."""

    def __init__(
        self,
        *,
        clock: Callable[[], float],
        default_key: InstallKey,
        accepted: Collection[str] | None,
    ) -> None:
        self._clock = clock
        self._default_key = default_key
        self._open_door = accepted is None
        self._grants: dict[str, Grant] = {}
        self._refresh: dict[str, Grant] = {}  # refresh token -> the grant it renews
        self._revoked: dict[str, str] = {}  # token -> Slack's error for it
        self._serial = itertools.count(1)
        self.installed: set[InstallKey] = {default_key}
        for token in accepted or ():
            self.register(token, key=default_key)

    def register(self, token: str, *, key: InstallKey) -> Grant:
        """Make ``token`` a bot token of the installation ``key``."""
        grant = Grant(token=token, kind="bot", key=key)
        self._grants[token] = grant
        self._revoked.pop(token, None)
        return grant

    def authenticate(self, token: str | None) -> Grant:
        """The grant behind ``token``, or ``ApiFailure`` with Slack's code for why not."""
        if not token:
            raise ApiFailure("not_authed")
        if token in self._revoked:
            raise ApiFailure(self._revoked[token])
        grant = self._grants.get(token)
        if grant is None and self._open_door and token.startswith("xoxb-"):
            grant = self.register(token, key=self._default_key)
        if grant is None:
            raise ApiFailure("invalid_auth")
        if grant.expires_at is not None and self._clock() >= grant.expires_at:
            raise ApiFailure("token_expired")
        return grant

    def issue(
        self,
        *,
        kind: TokenKind,
        key: InstallKey,
        scopes: Iterable[str],
        user_id: str | None = None,
        lifetime: float | None = None,
    ) -> tuple[Grant, str | None]:
        """A new token, and its refresh token when it expires after ``lifetime`` seconds."""
        serial = next(self._serial)
        prefix = "xoxb" if kind == "bot" else "xoxp"
        expires_at = None if lifetime is None else self._clock() + lifetime
        if lifetime is None:
            token, refresh = f"{prefix}-{serial}-{secrets.token_hex(12)}", None
        else:
            token = f"xoxe.{prefix}-1-{serial}-{secrets.token_hex(16)}"
            refresh = f"xoxe-1-{serial}-{secrets.token_hex(16)}"
        grant = Grant(token, kind, key, user_id, tuple(scopes), expires_at)
        self._grants[token] = grant
        if refresh is not None:
            self._refresh[refresh] = grant
        return grant, refresh

    def refresh(self, refresh_token: str, *, lifetime: float) -> tuple[Grant, str]:
        """A new access token and refresh token for a refresh token, which is then used up."""
        old = self._refresh.pop(refresh_token, None)
        if old is None:
            raise ApiFailure("invalid_refresh_token")
        grant, refresh = self.issue(
            kind=old.kind,
            key=old.key,
            scopes=old.scopes or (),
            user_id=old.user_id,
            lifetime=lifetime,
        )
        assert refresh is not None  # a lifetime always brings a refresh token
        return grant, refresh

    def revoke(self, key: InstallKey) -> list[Grant]:
        """Uninstall ``key``: every token of it stops working; returns what was revoked.

        ``KeyError`` if the installation is not standing.
        """
        self.installed.remove(key)
        if key == self._default_key:
            self._open_door = False
        gone = [grant for grant in self._grants.values() if grant.key == key]
        for grant in gone:
            del self._grants[grant.token]
            self._revoked[grant.token] = (
                "account_inactive" if grant.kind == "bot" else "token_revoked"
            )
        self._refresh = {t: g for t, g in self._refresh.items() if g.key != key}
        return gone
