"""The fake's workspaces, and which of them serves a Web API call.

Each workspace (a ``Team``) has its own channels and messages (a ``Workspace``), its own bot
user and scopes, its own people and user groups, and its own ``WebApi``. Workspaces sharing an
``enterprise_id`` form an Enterprise org. Channel IDs are unique across the fake, as on Slack,
so a channel ID names its workspace. Uploads, views and response_urls are the fake's, shared by
every workspace: their IDs are unique across Slack too.

A call is served in the workspace its token belongs to, so a channel of another workspace is
``channel_not_found`` there. An org-wide token (``tokens.Grant.is_org``) works in every
workspace of its org: it is served in the workspace of the channel the call names, else the
one its ``team_id`` arg names (Bolt's per-request client adds it to every call), else the org's
first workspace; ``auth.test`` with neither answers for the org itself. Unconfirmed: that
Slack's ``auth.test`` of an org-wide token reports the org's ID as ``team_id`` and the org's
URL (Bolt stores that URL as the installation's ``enterprise_url``).
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass

from bot.fakes.slack.args import Args
from bot.fakes.slack.methods import ApiResult, WebApi
from bot.fakes.slack.records import BotIdentity, Channel, Ephemeral
from bot.fakes.slack.reports import SlackEvent
from bot.fakes.slack.tokens import Grant, InstallKey
from bot.fakes.slack.uploads import Uploads
from bot.fakes.slack.views import Views
from bot.fakes.slack.wire import channel_of
from bot.fakes.slack.workspace import Workspace

__all__ = ["DEFAULT_CHANNELS", "DEFAULT_SCOPES", "Team", "Teams", "Tenant"]

DEFAULT_CHANNELS = (Channel(id="C0001", name="general"),)
DEFAULT_SCOPES = (
    "channels:history",
    "channels:join",
    "channels:read",
    "chat:write",
    "chat:write.public",
    "commands",
    "files:write",
    "groups:history",
    "groups:read",
    "im:history",
    "im:write",
    "reactions:write",
    "usergroups:read",
    "users:read",
)


@dataclass(frozen=True)
class Team:
    """A workspace of the fake: its name and subdomain, its org if any, and the app's bot user
    there (``bot``, as ``auth.test`` reports it)."""

    id: str
    name: str
    domain: str
    bot: BotIdentity
    enterprise_id: str | None = None
    enterprise_name: str | None = None

    @property
    def url(self) -> str:
        """The workspace's URL, as ``auth.test`` gives it."""
        return f"https://{self.domain}.slack.com/"

    @property
    def org_url(self) -> str | None:
        """The org's URL, if the workspace is in one."""
        if self.enterprise_id is None:
            return None
        slug = re.sub(r"[^a-z0-9]+", "-", (self.enterprise_name or self.enterprise_id).lower())
        return f"https://{slug.strip('-')}.enterprise.slack.com/"

    @property
    def install_key(self) -> InstallKey:
        """The key of a workspace-level installation here."""
        return (self.enterprise_id, self.id)


@dataclass(frozen=True)
class Tenant:
    """One workspace's description, state and Web API."""

    team: Team
    workspace: Workspace
    api: WebApi


class Teams:
    """The workspaces of the fake, the first one its default."""

    def __init__(
        self,
        *,
        uploads: Uploads,
        views: Views,
        clock: Callable[[], float],
        emit: Callable[[SlackEvent], None],
        root_url: Callable[[], str],
    ) -> None:
        self._uploads = uploads
        self._views = views
        self._clock = clock
        self._emit = emit
        self._root_url = root_url
        self._tenants: dict[str, Tenant] = {}
        self.ephemerals: list[Ephemeral] = []

    def add(
        self,
        team: Team,
        *,
        channels: Iterable[Channel],
        scopes: Iterable[str],
        users: Mapping[str, str] | None,
        usergroups: Mapping[str, Sequence[str]],
    ) -> Tenant:
        """Set up a workspace; ``ValueError`` if its ID or a channel ID is taken."""
        if team.id in self._tenants:
            raise ValueError(f"workspace {team.id} exists already")
        channels = list(channels)
        for channel in channels:
            self.check_free(channel.id)
        workspace = Workspace(
            channels=channels,
            identity=team.bot,
            scopes=scopes,
            clock=self._clock,
            emit=self._emit,
            ephemerals=self.ephemerals,
            im_id=lambda user_id: self._new_im_id(user_id, team.id),
        )
        api = WebApi(
            workspace=workspace,
            uploads=self._uploads,
            views=self._views,
            users=users,
            usergroups=usergroups,
            root_url=self._root_url,
        )
        tenant = Tenant(team, workspace, api)
        self._tenants[team.id] = tenant
        return tenant

    def _new_im_id(self, user_id: str, team_id: str) -> str:
        """``D`` and the user's ID without its first letter, with a suffix when another
        workspace has that ID already (an org's ``W`` users are in each of its workspaces)."""
        base = channel_id = f"D{user_id[1:]}"
        suffix = 1
        while (owner := self.owner(channel_id)) is not None and owner.team.id != team_id:
            suffix += 1
            channel_id = f"{base}{suffix}"
        return channel_id

    def check_free(self, channel_id: str) -> None:
        """``ValueError`` if a workspace has this channel ID already."""
        owner = self.owner(channel_id)
        if owner is not None:
            raise ValueError(f"channel {channel_id} is in workspace {owner.team.id} already")

    @property
    def default(self) -> Tenant:
        """The first workspace, where tokens given without OAuth belong."""
        return next(iter(self._tenants.values()))

    def all(self) -> list[Tenant]:
        """Every workspace, in the order they were added."""
        return list(self._tenants.values())

    def get(self, team_id: str) -> Tenant:
        """The workspace with this ID (``KeyError`` if unknown)."""
        return self._tenants[team_id]

    def find(self, team_id: str) -> Tenant | None:
        """The workspace with this ID, or ``None``."""
        return self._tenants.get(team_id)

    def owner(self, channel_id: str) -> Tenant | None:
        """The workspace that has this channel, if any."""
        for tenant in self._tenants.values():
            if tenant.workspace.has(channel_id):
                return tenant
        return None

    def holding(self, channel_id: str) -> Workspace:
        """The workspace of a channel, or the default one for a channel no workspace has."""
        return (self.owner(channel_id) or self.default).workspace

    def org(self, enterprise_id: str | None) -> list[Tenant]:
        """The workspaces of an Enterprise org, in the order they were added."""
        return [t for t in self._tenants.values() if t.team.enterprise_id == enterprise_id]

    def of_key(self, key: InstallKey) -> list[Tenant]:
        """The workspaces an installation covers: one, or every workspace of an org."""
        enterprise_id, team_id = key
        return [self.get(team_id)] if team_id is not None else self.org(enterprise_id)

    def route(self, grant: Grant, args: Args) -> Tenant | None:
        """The workspace that serves a call (module docstring); ``None``: the org itself."""
        if grant.team_id is not None:
            return self.get(grant.team_id)
        named = self.owner(channel_of(args) or ""), self.find(str(args.get("team_id") or ""))
        for candidate in named:
            if candidate is not None and candidate.team.enterprise_id == grant.enterprise_id:
                return candidate
        return None

    def auth_test(self, grant: Grant, tenant: Tenant | None) -> ApiResult:
        """Who the token is, where: its workspace, or the org for an org-wide token alone."""
        home = tenant or self.of_key(grant.key)[0]
        team = home.team
        team_id: str | None
        name: str | None
        url: str | None
        user: str | None
        if tenant is not None:
            team_id, name, url = team.id, team.name, team.url
        else:
            team_id, name, url = team.enterprise_id, team.enterprise_name, team.org_url
        if grant.kind == "bot":
            user, user_id = team.bot.user_name, team.bot.user_id
        else:
            user_id = grant.user_id or ""
            user = home.api.user_name(user_id)
        body: dict[str, object] = {
            "ok": True,
            "url": url,
            "team": name,
            "user": user,
            "team_id": team_id,
            "user_id": user_id,
        }
        if grant.kind == "bot":
            body["bot_id"] = team.bot.bot_id
        body["is_enterprise_install"] = grant.is_org
        if team.enterprise_id is not None:
            body["enterprise_id"] = team.enterprise_id
        scopes = grant.scopes if grant.scopes is not None else sorted(home.workspace.scopes)
        return ApiResult(body, {"x-oauth-scopes": ",".join(scopes)})
