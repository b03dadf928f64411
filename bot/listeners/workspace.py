"""Which workspace a click, a form, a shortcut or an event comes from, for the access rules
and for the reads (each workspace sees its own trainings).

A slash command says it in top-level fields (`Requester.of_command`), and so does an event
callback's envelope (`team_id`, `enterprise_id`). Interactions carry a `team` and an
`enterprise` object instead; with an app installed for a whole Enterprise Grid org, `team` may
be null, and then the user's own `team_id` says it.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

__all__ = ["workspace_of"]


def _field(value: Any, key: str) -> str | None:
    found = value.get(key) if isinstance(value, Mapping) else None
    return str(found) if found else None


def workspace_of(body: Mapping[str, Any]) -> tuple[str | None, str | None]:
    """The interaction's (or event's) workspace and Enterprise Grid org:
    `(team_id, enterprise_id)`."""
    team, user = body.get("team"), body.get("user")
    team_id = _field(team, "id") or _field(user, "team_id") or _field(body, "team_id")
    enterprise_id = (
        _field(body.get("enterprise"), "id")
        or _field(team, "enterprise_id")
        or _field(body, "enterprise_id")
    )
    return team_id, enterprise_id
