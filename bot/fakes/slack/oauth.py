"""Slack's OAuth v2 install flow: the "Allow" page, the one-time code and ``oauth.v2.access``.

``GET /oauth/v2/authorize`` plays the person who clicks "Allow" on Slack's page. It takes
Slack's parameters (``client_id``, ``scope``, ``user_scope``, ``state``, ``redirect_uri``) and
fake-only ones saying who installs where: ``team`` (a workspace ID; default: the first
workspace), ``user`` (the installer; default ``DEFAULT_INSTALLER``), ``org=1`` for an org-wide
install (the workspace must be in an Enterprise org) and ``deny=1`` for a person who cancels.
The fake-only choices may also come in the path, ``/oauth/v2/authorize/team=T1;user=W1;org=1``
(``choices_path``), for a client that builds the query itself, as Bolt's install page does
from ``OAuthSettings(authorization_url=...)`` (it appends ``?state=…``).
It answers 302 to the redirect URI with ``code`` and ``state``, or with
``error=access_denied`` and ``state``; problems Slack shows on its own page (a wrong client ID,
no usable redirect URI, no scopes, an unknown team) are a 400 with the error code as text.

``oauth.v2.access`` takes the app's credentials by HTTP Basic auth (as slack_sdk sends them)
or as ``client_id``/``client_secret`` args, and either a ``code`` or, with
``grant_type=refresh_token``, a ``refresh_token``. Errors are Slack's codes:
``invalid_client_id``, ``bad_client_secret``, ``invalid_code``, ``bad_redirect_uri``,
``invalid_grant_type``, ``invalid_refresh_token``. A code lasts ten minutes on the fake's clock
(Slack's documented lifetime) and works once.

Decisions where Slack's behaviour is unconfirmed:

- A used, expired or unknown code all answer ``invalid_code``; a refused exchange (say, a
  wrong redirect URI) does not use the code up, and reusing a code revokes nothing.
- A ``redirect_uri`` at authorize must be the app's configured one or a path under it; at
  ``oauth.v2.access`` it must equal the one the code was issued with (when authorize named
  one; otherwise it may be left out or be the configured one).
- Every install issues new tokens, even a reinstall where Slack may hand back the same bot
  token; the earlier install's tokens keep working until an uninstall.
- The bot's scopes in a workspace become the scopes of its latest install there.
"""

from __future__ import annotations

import itertools
import secrets
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote, unquote, urlencode

from bot.fakes.slack.args import Args, opt_str
from bot.fakes.slack.checks import ApiFailure
from bot.fakes.slack.installs import Install
from bot.fakes.slack.teams import Team, Teams
from bot.fakes.slack.tokens import Grant, InstallKey, TokenKind, Tokens
from bot.fakes.slack.wire import Reply

__all__ = [
    "CODE_LIFETIME",
    "DEFAULT_INSTALLER",
    "OAuth",
    "OAuthApp",
    "choices_path",
    "parse_choices",
]

CODE_LIFETIME = 10 * 60
DEFAULT_INSTALLER = "U0INSTALLER"


@dataclass(frozen=True)
class OAuthApp:
    """The app's OAuth settings as Slack holds them.

    ``redirect_uri`` is the app's configured Redirect URL, used when an authorize request names
    none. With ``token_rotation`` every token expires ``token_lifetime`` seconds after it is
    issued (Slack's 12 hours by default) and comes with a refresh token.
    """

    client_id: str = "1700000000001.1700000000002"
    client_secret: str = "fake-client-secret"  # noqa: S105 - a fake app's, used only on loopback
    redirect_uri: str | None = None
    token_rotation: bool = False
    token_lifetime: int = 43_200


@dataclass(frozen=True)
class _Code:
    team: Team
    org: bool
    user_id: str
    scopes: tuple[str, ...]
    user_scopes: tuple[str, ...]
    redirect_uri: str | None  # as the authorize request named it
    created: float


class OAuth:
    """Pending codes and completed installs of the app set by ``app`` (none: no OAuth)."""

    def __init__(
        self,
        *,
        app: OAuthApp | None,
        app_id: str,
        teams: Teams,
        tokens: Tokens,
        clock: Callable[[], float],
    ) -> None:
        self.app = app
        self._app_id = app_id
        self._teams = teams
        self._tokens = tokens
        self._clock = clock
        self._codes: dict[str, _Code] = {}
        self._serial = itertools.count(1)
        self.installs: list[Install] = []

    # --- the "Allow" page -----------------------------------------------------------------

    def authorize(self, query: Mapping[str, str]) -> Reply:
        """Answer ``GET /oauth/v2/authorize`` (module docstring)."""
        app = self.app
        if app is None or query.get("client_id") != app.client_id:
            return Reply(400, "invalid_client_id")
        redirect_uri = _redirect_target(app, query.get("redirect_uri"))
        if redirect_uri is None:
            return Reply(400, "bad_redirect_uri")
        state = query.get("state", "")
        if query.get("deny") in ("1", "true"):
            return _redirect(redirect_uri, error="access_denied", state=state)
        tenant = self._teams.find(query.get("team") or self._teams.default.team.id)
        if tenant is None:
            return Reply(400, "team_not_found")
        org = query.get("org") in ("1", "true")
        if org and tenant.team.enterprise_id is None:
            return Reply(400, "not_an_enterprise_workspace")
        scopes, user_scopes = _scopes(query.get("scope")), _scopes(query.get("user_scope"))
        if not scopes and not user_scopes:
            return Reply(400, "invalid_scope")
        code = f"{next(self._serial)}.{secrets.randbelow(10**12)}.{secrets.token_hex(32)}"
        self._codes[code] = _Code(
            team=tenant.team,
            org=org,
            user_id=query.get("user") or DEFAULT_INSTALLER,
            scopes=scopes,
            user_scopes=user_scopes,
            redirect_uri=query.get("redirect_uri"),
            created=self._clock(),
        )
        return _redirect(redirect_uri, code=code, state=state)

    # --- oauth.v2.access ------------------------------------------------------------------

    def access(self, args: Args, basic: tuple[str, str] | None) -> dict[str, Any]:
        """Answer ``oauth.v2.access``: a code exchanged, or a refresh token used."""
        app = self._check_client(args, basic)
        grant_type = opt_str(args, "grant_type") or "authorization_code"
        if grant_type == "refresh_token":
            return self._refresh(app, opt_str(args, "refresh_token") or "")
        if grant_type != "authorization_code":
            raise ApiFailure("invalid_grant_type")
        code = self._take_code(app, opt_str(args, "code") or "", opt_str(args, "redirect_uri"))
        return self._install(app, code)

    def _check_client(self, args: Args, basic: tuple[str, str] | None) -> OAuthApp:
        client_id, secret = basic or (opt_str(args, "client_id"), opt_str(args, "client_secret"))
        app = self.app
        if app is None or client_id != app.client_id:
            raise ApiFailure("invalid_client_id")
        if not secrets.compare_digest((secret or "").encode(), app.client_secret.encode()):
            raise ApiFailure("bad_client_secret")
        return app

    def _take_code(self, app: OAuthApp, value: str, redirect_uri: str | None) -> _Code:
        code = self._codes.get(value)
        if code is None or self._clock() - code.created > CODE_LIFETIME:
            raise ApiFailure("invalid_code")
        if code.redirect_uri is not None:
            if redirect_uri != code.redirect_uri:
                raise ApiFailure("bad_redirect_uri")
        elif redirect_uri is not None and redirect_uri != app.redirect_uri:
            raise ApiFailure("bad_redirect_uri")
        del self._codes[value]
        return code

    def _install(self, app: OAuthApp, code: _Code) -> dict[str, Any]:
        team = code.team
        key: InstallKey = (team.enterprise_id, None if code.org else team.id)
        self._tokens.installed.add(key)
        lifetime = app.token_lifetime if app.token_rotation else None
        user, user_fields = self._issue("user", key, code.user_scopes, code.user_id, lifetime)
        bot, bot_fields = self._issue("bot", key, code.scopes, None, lifetime)
        if bot is not None:
            bot_fields["bot_user_id"] = team.bot.user_id
            for tenant in self._teams.of_key(key):
                tenant.workspace.scopes = frozenset(code.scopes)
        self.installs.append(
            Install(
                team_id=key[1],
                enterprise_id=team.enterprise_id,
                is_enterprise_install=code.org,
                user_id=code.user_id,
                bot_token=bot.token if bot else None,
                bot_user_id=team.bot.user_id if bot else None,
                bot_scopes=code.scopes,
                user_token=user.token if user else None,
                user_scopes=code.user_scopes,
                time=self._clock(),
            )
        )
        authed_user = {"id": code.user_id} | user_fields
        body = {"ok": True, "app_id": self._app_id, "authed_user": authed_user} | bot_fields
        return body | _where(team, org=code.org)

    def _issue(
        self,
        kind: TokenKind,
        key: InstallKey,
        scopes: tuple[str, ...],
        user_id: str | None,
        lifetime: float | None,
    ) -> tuple[Grant | None, dict[str, Any]]:
        """A token of ``kind`` if any scopes of that kind were granted, and its answer fields."""
        if not scopes:
            return None, {}
        grant, refresh = self._tokens.issue(
            kind=kind, key=key, scopes=scopes, user_id=user_id, lifetime=lifetime
        )
        return grant, _token_fields(grant, refresh, lifetime)

    def _refresh(self, app: OAuthApp, refresh_token: str) -> dict[str, Any]:
        grant, refresh = self._tokens.refresh(refresh_token, lifetime=app.token_lifetime)
        team = self._teams.of_key(grant.key)[0].team
        body = {"ok": True, "app_id": self._app_id}
        body |= _token_fields(grant, refresh, app.token_lifetime)
        if grant.kind == "bot":
            body["bot_user_id"] = team.bot.user_id
        return body | _where(team, org=grant.is_org)


def choices_path(
    *, team: str | None = None, user: str | None = None, org: bool = False, deny: bool = False
) -> str:
    """The fake-only choices of an authorize request as a path segment (module docstring)."""
    choices = {
        "team": team,
        "user": user,
        "org": "1" if org else None,
        "deny": "1" if deny else None,
    }
    return ";".join(f"{k}={quote(v, safe='')}" for k, v in choices.items() if v is not None)


def parse_choices(segment: str) -> dict[str, str]:
    """The choices of a ``choices_path`` segment."""
    pairs = (item.partition("=") for item in segment.split(";") if item)
    return {key: unquote(value) for key, _, value in pairs}


def _token_fields(grant: Grant, refresh: str | None, lifetime: float | None) -> dict[str, Any]:
    fields: dict[str, Any] = {
        "scope": ",".join(grant.scopes or ()),
        "access_token": grant.token,
        "token_type": grant.kind,
    }
    if refresh is not None and lifetime is not None:
        fields |= {"expires_in": int(lifetime), "refresh_token": refresh}
    return fields


def _where(team: Team, *, org: bool) -> dict[str, Any]:
    enterprise = None
    if team.enterprise_id is not None:
        enterprise = {"id": team.enterprise_id, "name": team.enterprise_name}
    return {
        "team": None if org else {"id": team.id, "name": team.name},
        "enterprise": enterprise,
        "is_enterprise_install": org,
    }


def _redirect_target(app: OAuthApp, asked: str | None) -> str | None:
    """Where to send the person back: the URI asked for, if the app allows it, else the app's."""
    if asked is None:
        return app.redirect_uri
    if app.redirect_uri is None or asked == app.redirect_uri:
        return asked
    return asked if asked.startswith(app.redirect_uri.rstrip("/") + "/") else None


def _redirect(uri: str, **params: str) -> Reply:
    separator = "&" if "?" in uri else "?"
    return Reply(302, "", {"Location": f"{uri}{separator}{urlencode(params)}"})


def _scopes(value: str | None) -> tuple[str, ...]:
    return tuple(s for s in (value or "").replace(" ", ",").split(",") if s)
