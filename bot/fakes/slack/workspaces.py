"""How a test sets up the fake Slack's workspaces: more workspaces, channels, seeded messages.

``FakeSlack`` inherits these; its constructor sets up the first workspace and the state they
change. Channel IDs are unique across the fake, so a channel is found by its ID alone.
"""

from __future__ import annotations

from collections.abc import Collection, Iterable, Mapping, Sequence

from bot.fakes.slack.records import BotIdentity, Channel, Message
from bot.fakes.slack.teams import DEFAULT_SCOPES, Team, Teams
from bot.fakes.slack.tokens import Tokens

__all__ = ["WorkspaceSetup"]


class WorkspaceSetup:
    """The workspace setup of ``FakeSlack``."""

    identity: BotIdentity
    _teams: Teams
    _tokens: Tokens

    def add_workspace(
        self,
        *,
        team_id: str,
        name: str,
        domain: str | None = None,
        channels: Iterable[Channel] = (),
        users: Mapping[str, str] | None = None,
        usergroups: Mapping[str, Sequence[str]] | None = None,
        enterprise_id: str | None = None,
        enterprise_name: str | None = None,
        bot: BotIdentity | None = None,
        scopes: Iterable[str] = DEFAULT_SCOPES,
        tokens: Collection[str] = (),
    ) -> Team:
        """Add a workspace, in the org ``enterprise_id`` if given; ``tokens`` are bot tokens of
        it handed out without OAuth. The bot user there is ``bot`` (default: ``U<n>BOT`` /
        ``B<n>BOT`` from the team ID's digits). ``ValueError`` if an ID is taken."""
        suffix = team_id[1:]
        team = Team(
            id=team_id,
            name=name,
            domain=domain or name.lower().replace(" ", "-"),
            bot=bot
            or BotIdentity(
                team_id=team_id,
                team_name=name,
                user_id=f"U{suffix}BOT",
                bot_id=f"B{suffix}BOT",
                app_id=self.identity.app_id,
            ),
            enterprise_id=enterprise_id,
            enterprise_name=enterprise_name,
        )
        self._teams.add(
            team,
            channels=channels,
            scopes=scopes,
            users=users,
            usergroups=usergroups if usergroups is not None else {},
        )
        for token in tokens:
            self._tokens.register(token, key=team.install_key)
        if tokens:
            self._tokens.installed.add(team.install_key)
        return team

    def team(self, team_id: str) -> Team:
        """A workspace of the fake (``KeyError`` if unknown)."""
        return self._teams.get(team_id).team

    @property
    def workspaces(self) -> list[Team]:
        """Every workspace, the first (default) one first."""
        return [tenant.team for tenant in self._teams.all()]

    def add_channel(self, channel: Channel, *, team_id: str | None = None) -> None:
        """Add a channel to ``team_id``'s workspace (default: the first), or replace the one
        with the same id wherever it is (e.g. to invite the bot)."""
        owner = self._teams.owner(channel.id)
        if owner is not None and team_id not in (None, owner.team.id):
            raise ValueError(f"channel {channel.id} is in workspace {owner.team.id}")
        tenant = owner or (self._teams.get(team_id) if team_id else self._teams.default)
        tenant.workspace.add_channel(channel)

    def channel(self, channel_id: str) -> Channel:
        """The channel as it stands now (``KeyError`` if unknown)."""
        return self._teams.holding(channel_id).channel(channel_id)

    def add_message(
        self, channel: str, *, text: str, user: str, thread_ts: str | None = None
    ) -> Message:
        """Seed a message from a human (no permission checks; it emits an event like any post)."""
        workspace = self._teams.holding(channel)
        return workspace.post(channel, text=text, blocks=None, thread_ts=thread_ts, user=user)
