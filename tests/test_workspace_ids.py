"""Reading a payload's team and enterprise, and the rule for rows stored without a team."""

from __future__ import annotations

from typing import Any

import pytest

from bot.core.requester import Requester
from bot.core.workspaces import same_workspace
from bot.listeners.workspace import workspace_of


@pytest.mark.parametrize(
    ("payload", "expected"),
    [
        ({"team_id": "T1", "user_id": "U1"}, ("T1", None)),  # a slash command
        ({"team_id": "T1", "enterprise_id": "E1"}, ("T1", "E1")),  # one of an org's workspace
        ({"team": {"id": "T1", "domain": "x"}, "enterprise": None}, ("T1", None)),  # a click
        ({"team": {"id": "T1"}, "enterprise": {"id": "E1", "name": "Org"}}, ("T1", "E1")),
        # An org-wide install's interaction: no team object, the user's team instead.
        (
            {"team": None, "user": {"id": "U1", "team_id": "T2"}, "enterprise": {"id": "E1"}},
            ("T2", "E1"),
        ),
        ({"team": {"id": "T1", "enterprise_id": "E3"}}, ("T1", "E3")),  # a view submission
        ({"type": "event_callback", "team_id": "T1", "enterprise_id": "E1"}, ("T1", "E1")),
        ({"team_id": "", "enterprise_id": ""}, (None, None)),  # empty is unknown
        ({}, (None, None)),
    ],
)
def test_workspace_of_each_kind_of_payload(
    payload: dict[str, Any], expected: tuple[str | None, str | None]
) -> None:
    """Commands, interactions (org-wide ones too), views and events give team and org."""
    assert workspace_of(payload) == expected


@pytest.mark.parametrize(
    ("row", "asker", "same"),
    [("T1", "T1", True), ("T1", "T2", False), (None, "T2", True), ("T1", None, True)],
)
def test_a_row_of_no_team_is_every_teams(row: str | None, asker: str | None, same: bool) -> None:
    """Only two known, different teams are different workspaces."""
    assert same_workspace(row, asker) is same


def test_a_command_gives_its_requester_team_and_enterprise() -> None:
    """A slash command's team_id and enterprise_id reach the requester (empty: none)."""
    command = {"user_id": "U1", "channel_id": "C1", "team_id": "T1", "enterprise_id": "E1"}
    by = Requester.of_command(command)
    assert (by.team_id, by.enterprise_id) == ("T1", "E1")
    assert Requester.of_command(command | {"enterprise_id": ""}).enterprise_id is None
