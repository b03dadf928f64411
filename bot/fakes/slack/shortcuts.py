"""Interactivity payloads, sent with ``send_interaction``: a button click on a card, a modal
submission, a message shortcut, and an input changed inside an open modal (an element with
``dispatch_action``). Each may come from a workspace of an Enterprise org (``enterprise_id``)
where the app is installed org-wide (``is_enterprise_install``)."""

from __future__ import annotations

import time
from collections.abc import Mapping
from typing import Any

from bot.fakes.slack.records import View
from bot.fakes.slack.signing import new_trigger_id

__all__ = [
    "block_actions_payload",
    "message_action_payload",
    "view_action_payload",
    "view_submission_payload",
]


def _envelope(
    *,
    user_id: str,
    team_id: str,
    trigger_id: str | None,
    api_app_id: str = "A0001",
    enterprise_id: str | None = None,
    is_enterprise_install: bool = False,
) -> dict[str, Any]:
    """The fields every interactivity payload has; ``enterprise_id`` for a workspace of an
    Enterprise org, ``is_enterprise_install`` when the app is installed org-wide (Bolt then
    finds the installation by the org alone)."""
    return {
        "user": {"id": user_id, "username": "tester", "name": "tester", "team_id": team_id},
        "team": {"id": team_id, "domain": "fake"},
        "api_app_id": api_app_id,
        "token": "fake-verification-token",
        "trigger_id": trigger_id or new_trigger_id(),
        "is_enterprise_install": is_enterprise_install,
        "enterprise": {"id": enterprise_id, "name": enterprise_id} if enterprise_id else None,
    }


def block_actions_payload(
    *,
    action_id: str,
    user_id: str,
    channel_id: str,
    message_ts: str,
    response_url: str,
    value: str | None = None,
    block_id: str = "actions",
    text: str = "Button",
    team_id: str = "T0001",
    api_app_id: str = "A0001",
    trigger_id: str | None = None,
    enterprise_id: str | None = None,
    is_enterprise_install: bool = False,
) -> dict[str, Any]:
    """A ``block_actions`` payload for a button click on a channel message."""
    action: dict[str, Any] = {
        "type": "button",
        "action_id": action_id,
        "block_id": block_id,
        "text": {"type": "plain_text", "text": text},
        "action_ts": f"{time.time():.6f}",
    }
    if value is not None:
        action["value"] = value
    return {
        "type": "block_actions",
        **_envelope(
            user_id=user_id,
            team_id=team_id,
            api_app_id=api_app_id,
            trigger_id=trigger_id,
            enterprise_id=enterprise_id,
            is_enterprise_install=is_enterprise_install,
        ),
        "container": {
            "type": "message",
            "message_ts": message_ts,
            "channel_id": channel_id,
            "is_ephemeral": False,
        },
        "channel": {"id": channel_id, "name": "general"},
        "message": {"type": "message", "ts": message_ts, "text": ""},
        "state": {"values": {}},
        "response_url": response_url,
        "actions": [action],
    }


def view_submission_payload(
    *,
    callback_id: str,
    user_id: str,
    values: Mapping[str, Mapping[str, Any]],
    private_metadata: str = "",
    view_id: str = "V0000000001",
    team_id: str = "T0001",
    api_app_id: str = "A0001",
    trigger_id: str | None = None,
    enterprise_id: str | None = None,
    is_enterprise_install: bool = False,
) -> dict[str, Any]:
    """A ``view_submission`` payload; ``values`` is ``{block_id: {action_id: {...}}}``."""
    return {
        "type": "view_submission",
        **_envelope(
            user_id=user_id,
            team_id=team_id,
            api_app_id=api_app_id,
            trigger_id=trigger_id,
            enterprise_id=enterprise_id,
            is_enterprise_install=is_enterprise_install,
        ),
        "view": {
            "id": view_id,
            "team_id": team_id,
            "type": "modal",
            "callback_id": callback_id,
            "private_metadata": private_metadata,
            "state": {"values": {k: dict(v) for k, v in values.items()}},
            "hash": "1700000000.00000001",
        },
        "response_urls": [],
    }


def message_action_payload(
    *,
    callback_id: str,
    user_id: str,
    channel_id: str,
    message_text: str,
    message_ts: str,
    response_url: str,
    message_user: str = "U0AUTHOR01",
    team_id: str = "T0001",
    trigger_id: str | None = None,
    enterprise_id: str | None = None,
    is_enterprise_install: bool = False,
) -> dict[str, Any]:
    """A ``message_action`` payload: someone used a message shortcut on a channel message."""
    return {
        "type": "message_action",
        "callback_id": callback_id,
        **_envelope(
            user_id=user_id,
            team_id=team_id,
            trigger_id=trigger_id,
            enterprise_id=enterprise_id,
            is_enterprise_install=is_enterprise_install,
        ),
        "action_ts": f"{time.time():.6f}",
        "message_ts": message_ts,
        "channel": {"id": channel_id, "name": "general"},
        "message": {
            "type": "message",
            "user": message_user,
            "ts": message_ts,
            "text": message_text,
        },
        "response_url": response_url,
    }


def view_action_payload(
    view: View,
    *,
    user_id: str,
    block_id: str,
    action_id: str,
    values: Mapping[str, Mapping[str, Any]],
    team_id: str = "T0001",
    enterprise_id: str | None = None,
    is_enterprise_install: bool = False,
) -> dict[str, Any]:
    """A ``block_actions`` payload from the open modal ``view``: the input at ``block_id``
    changed; ``values`` is the whole form's state, ``{block_id: {action_id: {...}}}``."""
    action = {"block_id": block_id, "action_id": action_id, **values[block_id][action_id]}
    action["action_ts"] = f"{time.time():.6f}"
    return {
        "type": "block_actions",
        **_envelope(
            user_id=user_id,
            team_id=team_id,
            trigger_id=None,
            enterprise_id=enterprise_id,
            is_enterprise_install=is_enterprise_install,
        ),
        "container": {"type": "view", "view_id": view.id},
        "view": {
            **view.view,
            "id": view.id,
            "team_id": team_id,
            "hash": view.hash,
            "state": {"values": {k: dict(v) for k, v in values.items()}},
        },
        "actions": [action],
    }
