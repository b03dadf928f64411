"""Events API callbacks as Slack sends them: one event in an ``event_callback`` envelope.

Slack POSTs each event as JSON to the app's Request URL, signed like a slash command. The
envelope names the workspace (``team_id``) and, in an Enterprise org, the org
(``enterprise_id``); ``authorizations`` says which installation the event is for, and Bolt reads
the team and enterprise from it before the envelope's own fields. For an org-wide installation
its ``team_id`` is ``None`` and ``is_enterprise_install`` true, so the installation is found by
the org alone.

Uninstalling sends two events (docs.slack.dev ``tokens_revoked`` and ``app_uninstalled``):
``tokens_revoked`` lists the user IDs whose tokens went, people's under ``oauth`` and bot
users' under ``bot``; ``app_uninstalled`` carries nothing more. Unconfirmed: the order Slack
sends them in (the fake sends ``tokens_revoked`` first), and the envelope's ``team_id`` for an
org-wide uninstall (the fake puts the org's ID there; ``authorizations`` is what Bolt reads).
"""

from __future__ import annotations

import itertools
import time
from collections.abc import Iterable, Mapping
from typing import Any

__all__ = ["app_uninstalled_event", "event_callback", "new_event_id", "tokens_revoked_event"]

_event_ids = itertools.count(1)


def new_event_id() -> str:
    """An event ID in Slack's ``Ev…`` shape, unique within the process."""
    return f"Ev0FAKE{next(_event_ids):06d}"


def event_callback(
    *,
    team_id: str,
    event: Mapping[str, Any],
    enterprise_id: str | None = None,
    api_app_id: str = "A0001",
    user_id: str = "U0BOT",
    is_bot: bool = True,
    is_enterprise_install: bool = False,
    event_id: str | None = None,
    event_time: int | None = None,
    token: str = "fake-verification-token",  # noqa: S107 - Slack's deprecated, unchecked field
) -> dict[str, Any]:
    """The ``event_callback`` envelope of one event for the installation ``user_id`` acts for
    (the bot user, or the person whose token the app holds when ``is_bot`` is false)."""
    authorization = {
        "enterprise_id": enterprise_id,
        "team_id": None if is_enterprise_install else team_id,
        "user_id": user_id,
        "is_bot": is_bot,
        "is_enterprise_install": is_enterprise_install,
    }
    body: dict[str, Any] = {"token": token, "team_id": team_id}
    if enterprise_id is not None:
        body["enterprise_id"] = enterprise_id
    return body | {
        "api_app_id": api_app_id,
        "event": dict(event),
        "type": "event_callback",
        "event_id": event_id or new_event_id(),
        "event_time": int(time.time()) if event_time is None else event_time,
        "authorizations": [authorization],
        "is_ext_shared_channel": False,
        "context_team_id": team_id,
        "context_enterprise_id": enterprise_id,
    }


def tokens_revoked_event(*, users: Iterable[str], bots: Iterable[str]) -> dict[str, Any]:
    """The ``tokens_revoked`` event: whose user tokens (``oauth``) and bot tokens went."""
    return {"type": "tokens_revoked", "tokens": {"oauth": list(users), "bot": list(bots)}}


def app_uninstalled_event() -> dict[str, Any]:
    """The ``app_uninstalled`` event."""
    return {"type": "app_uninstalled"}
