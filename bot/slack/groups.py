"""Who is in a Slack user group: what the gatekeeper asks when an access rule names a group.

`usergroups.users.list` (the `usergroups:read` scope), made through the outbox in a pseudo lane
of its own per group (`usergroups.users.list S123`), so a lookup never waits behind a busy
channel's posts. Someone waits for the answer (an access check), so a lookup gets at most
`wait_limit` seconds; failures arrive as `SlackError`. The gatekeeper caches the members
(`bot.access.gatekeeper`).
"""

from __future__ import annotations

from bot.slack.outbox import Outbox, wait_for_answer

__all__ = ["UserGroups"]


class UserGroups:
    """`usergroups.users.list`, as the gatekeeper's `GroupDirectory`."""

    def __init__(self, *, outbox: Outbox, wait_limit: float = 10.0) -> None:
        self._outbox = outbox
        self._wait_limit = wait_limit

    async def group_members(self, group: str) -> frozenset[str]:
        """The members of a Slack user group (needs the `usergroups:read` scope)."""
        response = await wait_for_answer(
            self._outbox.call(
                "usergroups_users_list", lane=f"usergroups.users.list {group}", usergroup=group
            ),
            within=self._wait_limit,
            what="usergroups.users.list",
        )
        return frozenset(str(u) for u in response.get("users") or [])
