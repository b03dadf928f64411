"""Workspaces in the policy file: which requests a rule holds for (`teams:`). Pure.

One deployment may be installed in many Slack workspaces. A request comes from a workspace
(`team_id`, T…) and, in an Enterprise Grid org, from that org too (`enterprise_id`, E…). A
rule's `teams:` lists workspace IDs and org IDs; an org ID stands for every workspace of the
org, present and future. A rule without `teams:` holds in every workspace, as before.

How rules combine (the policy's lookup, `Policy.rule_for`): of the rules that hold in the
request's workspace, the first whose glob matches the model applies. So two rules for `PROD*`,
one for T1 and one for T2, give each workspace its own. A model that some rule's glob matches
but no rule holds for in the request's workspace is refused there: naming workspaces says
where the model may be retrained, and a workspace the file forgot is not silently open. An
unscoped rule after the scoped ones (`- match: "PROD*"` alone will do) opens the model to every
other workspace under the global lists.

A request whose workspace is unknown (a job stored before the bot recorded it) holds only for
unscoped rules: it cannot be shown to be from a listed workspace.
"""

from __future__ import annotations

from collections.abc import Iterable

__all__ = ["covers", "in_workspaces", "workspaces_note"]


def in_workspaces(
    teams: frozenset[str] | None, *, team_id: str | None, enterprise_id: str | None
) -> bool:
    """Whether a rule listing `teams` (None: every workspace) holds for this request."""
    if teams is None:
        return True
    return (team_id is not None and team_id in teams) or (
        enterprise_id is not None and enterprise_id in teams
    )


def covers(earlier: frozenset[str] | None, later: frozenset[str] | None) -> bool:
    """Whether `earlier` holds wherever `later` does, as far as the IDs alone tell.

    An org ID does not say which workspace IDs belong to it, so `[E1]` is not taken to cover
    `[T1]`: the loader only calls a rule dead when it surely is.
    """
    if earlier is None:
        return True
    return later is not None and later <= earlier


def workspaces_note(teams: Iterable[str]) -> str:
    """The workspaces of a scoped rule for start-up logs: `only in T0001, E0002`."""
    return "only in " + ", ".join(sorted(teams))
