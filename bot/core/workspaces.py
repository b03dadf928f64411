"""Which Slack workspace (team) a job or a row belongs to, and the rows stored without one.

Jobs, audit lines, schedules and triggers carry the team (and Enterprise Grid org) they were
made in, so the read commands and the Home tab show each workspace its own. Rows made before
the bot served several workspaces carry no team: they come from the one workspace of an older
deployment, which is still one of the workspaces served, so they count as every team's.
(Where a payload names its workspace: `bot.listeners.workspace`.)
"""

from __future__ import annotations

__all__ = ["same_workspace"]


def same_workspace(team_id: str | None, other: str | None) -> bool:
    """Whether something of team `team_id` belongs to team `other`: unknown on either side
    (a row from before teams were stored, a payload without one) counts as the same."""
    return team_id is None or other is None or team_id == other
